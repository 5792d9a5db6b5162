import jsQR from 'jsqr';
import { h } from './dom';
import { t } from './i18n';

/** A running camera that reports each QR text it reads. */
export interface Camera {
  /** Stops reading frames without closing the camera (while a decision is shown). */
  pause(): void;
  resume(): void;
  stop(): void;
}

export interface CameraOptions {
  /** A code held in view is reported once; it is reported again after being out of view this long. */
  repeatAfterMs?: number;
  /** Frames are scaled down to this many pixels on the long side before decoding. */
  maxSide?: number;
}

/** Why the camera did not start, as an i18n key. */
export class CameraError extends Error {
  constructor(
    readonly key: 'camera.insecure' | 'camera.denied' | 'camera.missing' | 'camera.failed',
    cause?: unknown,
  ) {
    super(key, { cause });
  }
}

/**
 * Opens the back camera into `video` and decodes QR codes from its frames with jsQR,
 * about eight frames a second. The gate scanner, the service desk, the resident's venue
 * self-scan and the offline verifier all read codes through this.
 * @throws CameraError when there is no camera, no permission, or no secure context
 */
export async function startCamera(
  video: HTMLVideoElement,
  onText: (text: string) => void,
  opts: CameraOptions = {},
): Promise<Camera> {
  if (!navigator.mediaDevices?.getUserMedia) throw new CameraError('camera.insecure');
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
    });
  } catch (e) {
    const name = (e as DOMException).name;
    throw new CameraError(
      name === 'NotAllowedError' || name === 'SecurityError'
        ? 'camera.denied'
        : name === 'NotFoundError' || name === 'OverconstrainedError'
          ? 'camera.missing'
          : 'camera.failed',
      e,
    );
  }
  video.muted = true;
  video.playsInline = true;
  video.setAttribute('playsinline', '');
  video.srcObject = stream;
  await video.play().catch(() => undefined);

  const repeatAfter = opts.repeatAfterMs ?? 3000;
  const maxSide = opts.maxSide ?? 800;
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  let stopped = false;
  let paused = false;
  let last = { text: '', seen: 0 };
  let timer: ReturnType<typeof setTimeout> | undefined;

  const tick = () => {
    timer = undefined;
    if (stopped) return;
    if (!paused && video.readyState >= video.HAVE_CURRENT_DATA && video.videoWidth > 0) {
      const scale = Math.min(1, maxSide / Math.max(video.videoWidth, video.videoHeight));
      const w = Math.round(video.videoWidth * scale);
      const hgt = Math.round(video.videoHeight * scale);
      if (canvas.width !== w || canvas.height !== hgt) {
        canvas.width = w;
        canvas.height = hgt;
      }
      ctx.drawImage(video, 0, 0, w, hgt);
      const found = jsQR(ctx.getImageData(0, 0, w, hgt).data, w, hgt, { inversionAttempts: 'attemptBoth' });
      const now = Date.now();
      if (found?.data) {
        const fresh = found.data !== last.text || now - last.seen > repeatAfter;
        last = { text: found.data, seen: now };
        if (fresh) onText(found.data);
      }
    }
    timer = setTimeout(tick, 120);
  };
  tick();

  return {
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
      // What was in view when the pause began counts as still in view: no repeat on resume.
      last.seen = Date.now();
    },
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      for (const track of stream.getTracks()) track.stop();
      video.srcObject = null;
    },
  };
}

/**
 * A full-screen camera view with a viewfinder and a field for pasted or USB-scanner text
 * (submits on Enter). Calls `onText` once with the first code read, then closes.
 */
export function openScanOverlay(opts: {
  title: string;
  hint: string;
  onText: (text: string) => void;
  onClose?: () => void;
}): { close(): void } {
  const video = h('video', {
    class: 'camera-video',
    muted: true,
    playsinline: true,
    autoplay: true,
    'aria-label': t('camera.video'),
  });
  const status = h('p', { class: 'camera-status', role: 'status' }, t('camera.starting'));
  const input = h('input', {
    type: 'text',
    class: 'code-input',
    autocomplete: 'off',
    autocapitalize: 'characters',
    spellcheck: 'false',
    placeholder: t('camera.paste'),
    'aria-label': t('camera.paste'),
    dataset: { testid: 'overlay-code-input' },
  });
  let camera: Camera | undefined;
  let done = false;
  const finish = (text: string) => {
    if (done) return;
    done = true;
    close();
    opts.onText(text.trim());
  };
  const form = h(
    'form',
    {
      class: 'camera-paste',
      onsubmit: (e: Event) => {
        e.preventDefault();
        if (input.value.trim()) finish(input.value);
      },
    },
    input,
    h('button', { type: 'submit', class: 'btn' }, t('common.submit')),
  );
  const overlay = h(
    'div',
    {
      class: 'camera-overlay',
      role: 'dialog',
      'aria-modal': 'true',
      'aria-label': opts.title,
      dataset: { testid: 'scan-overlay' },
    },
    h(
      'header',
      { class: 'camera-head' },
      h('h2', {}, opts.title),
      h(
        'button',
        { type: 'button', class: 'btn btn-ghost', onclick: () => close(), dataset: { testid: 'overlay-close' } },
        t('common.close'),
      ),
    ),
    h('div', { class: 'viewfinder' }, video, h('div', { class: 'viewfinder-frame', 'aria-hidden': 'true' })),
    h('p', { class: 'camera-hint' }, opts.hint),
    status,
    form,
  );
  function close() {
    camera?.stop();
    camera = undefined;
    overlay.remove();
    document.body.classList.remove('has-overlay');
    if (!done) opts.onClose?.();
  }
  document.body.appendChild(overlay);
  document.body.classList.add('has-overlay');
  startCamera(video, finish)
    .then((c) => {
      if (!overlay.isConnected) return c.stop();
      camera = c;
      status.textContent = t('camera.reading');
    })
    .catch((e) => {
      status.textContent = e instanceof CameraError ? t(e.key) : t('camera.failed');
      status.classList.add('camera-status-error');
      input.focus();
    });
  return { close };
}
