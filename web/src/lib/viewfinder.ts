import { h } from './dom';
import { t, type Key } from './i18n';

export interface ViewfinderOptions {
  /** The page's one video element (kept for the page's life, so re-rendering leaves the camera running). */
  video: HTMLVideoElement;
  /** Whether the camera is running. */
  on: boolean;
  /** Why the camera could not start, if it could not. */
  error?: Key;
  start: () => void;
  stop: () => void;
  /** The start button as the page's main action (the gate) or a plain one (the desk, whose main action is its form). */
  primary?: boolean;
}

/** The camera's viewfinder and its start / stop button, as /scan and /desk show them. */
export function viewfinder(o: ViewfinderOptions): HTMLElement[] {
  const button = o.on
    ? h(
        'button',
        { type: 'button', class: 'btn', onclick: o.stop, dataset: { testid: 'stop-camera' } },
        t('scan.stopCamera'),
      )
    : h(
        'button',
        {
          type: 'button',
          class: o.primary ? 'btn btn-primary' : 'btn',
          onclick: o.start,
          dataset: { testid: 'start-camera' },
        },
        t('scan.startCamera'),
      );
  return [
    h(
      'div',
      { class: `viewfinder gate ${o.on ? 'on' : 'off'}` },
      o.video,
      h('div', { class: 'viewfinder-frame', 'aria-hidden': 'true' }),
      o.on ? null : h('p', { class: 'viewfinder-off' }, o.error ? t(o.error) : t('scan.cameraOff')),
    ),
    h('div', { class: 'actions' }, button),
  ];
}

/** The camera's video element; a page makes one for its life, so re-rendering leaves the camera running. */
export function cameraVideo(testid: string): HTMLVideoElement {
  return h('video', { class: 'camera-video', muted: true, playsinline: true, autoplay: true, dataset: { testid } });
}

/** The text field a USB scanner types a code into (it ends with Enter), or a code is pasted into. */
export function scannedCodeInput(): HTMLInputElement {
  return h('input', {
    type: 'text',
    class: 'code-input',
    autocomplete: 'off',
    autocapitalize: 'characters',
    spellcheck: 'false',
    enterkeyhint: 'go',
    dataset: { testid: 'code-input' },
  });
}
