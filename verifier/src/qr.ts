import * as QRCode from 'qrcode';

// The QR renderer the CLI's `qr` command and the service's code images share. Not exported
// from index.ts: the PNG output needs Node (qrcode's PNG writer, pngjs), and the browser build
// stays without it.

/** Level M: the code stays readable with some damage and still fits version 10 (FORMAT.md §1). */
export const QR_ERROR_CORRECTION = 'M' as const;
/** Four modules of quiet zone (ISO/IEC 18004 §6.3.8) and 8 px per module: about 500 px at version 9. */
export const QR_MARGIN = 4;
export const QR_SCALE = 8;

// The QR alphanumeric character set, which base45 (RFC 9285 §4) was chosen to match.
const ALPHANUMERIC = /^[0-9A-Z $%*+\-./:]*$/;

/** One alphanumeric segment: 5.5 bits per character instead of 8 in byte mode. */
export function qrSegments(text: string): QRCode.QRCodeSegment[] {
  if (!ALPHANUMERIC.test(text)) throw new Error('text has characters outside the QR alphanumeric set');
  return [{ data: text, mode: 'alphanumeric' }];
}

/** The QR symbol a code renders to (its `version` and `modules.size` are what tests and sizing look at). */
export function createQr(text: string): QRCode.QRCode {
  return QRCode.create(qrSegments(text), { errorCorrectionLevel: QR_ERROR_CORRECTION });
}

/** Renders the text as a black-on-white PNG. */
export async function renderQrPng(text: string): Promise<Uint8Array> {
  const png = await QRCode.toBuffer(qrSegments(text), {
    type: 'png',
    errorCorrectionLevel: QR_ERROR_CORRECTION,
    margin: QR_MARGIN,
    scale: QR_SCALE,
  });
  return new Uint8Array(png);
}

/** Renders the text as an SVG sized like the PNG (the viewBox keeps it scalable). */
export async function renderQrSvg(text: string): Promise<string> {
  const width = (createQr(text).modules.size + 2 * QR_MARGIN) * QR_SCALE;
  return QRCode.toString(qrSegments(text), {
    type: 'svg',
    errorCorrectionLevel: QR_ERROR_CORRECTION,
    margin: QR_MARGIN,
    width,
  });
}
