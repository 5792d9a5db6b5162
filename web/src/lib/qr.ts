import { create } from 'qrcode';

/** As verifier/src/qr.ts: level M, one alphanumeric segment, a four-module quiet zone. */
export const QR_ERROR_CORRECTION = 'M';
export const QR_MARGIN = 4;
const ALPHANUMERIC = /^[0-9A-Z $%*+\-./:]*$/;
const SVG = 'http://www.w3.org/2000/svg';

/**
 * Renders `text` as an SVG QR code (black on white, crisp edges) whose side is a whole
 * number of CSS pixels per module, at most `maxPx` and at least 3 px per module, so a
 * phone camera or zbarimg reads it off the screen and it prints sharp at any size.
 */
export function qrSvg(text: string, maxPx: number): SVGSVGElement {
  // Anything else (never an AK1 code) lets qrcode pick its own modes.
  const qr = create(ALPHANUMERIC.test(text) ? [{ data: text, mode: 'alphanumeric' }] : text, {
    errorCorrectionLevel: QR_ERROR_CORRECTION,
  });
  const n = qr.modules.size;
  const total = n + 2 * QR_MARGIN;
  const px = Math.max(3, Math.floor(maxPx / total)) * total;
  let d = '';
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      if (qr.modules.get(y, x)) d += `M${x + QR_MARGIN} ${y + QR_MARGIN}h1v1h-1z`;
    }
  }
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${total} ${total}`);
  svg.setAttribute('width', String(px));
  svg.setAttribute('height', String(px));
  svg.setAttribute('shape-rendering', 'crispEdges');
  svg.setAttribute('role', 'img');
  svg.classList.add('qr');
  const bg = document.createElementNS(SVG, 'rect');
  bg.setAttribute('width', String(total));
  bg.setAttribute('height', String(total));
  bg.setAttribute('fill', '#fff');
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', d);
  path.setAttribute('fill', '#000');
  svg.append(bg, path);
  return svg;
}
