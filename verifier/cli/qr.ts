import jsQR from 'jsqr';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import * as QRCode from 'qrcode';

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

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const startsWith = (bytes: Uint8Array, magic: readonly number[], at = 0) =>
  bytes.length >= at + magic.length && magic.every((b, i) => bytes[at + i] === b);

/** True when the bytes start with the PNG signature. */
export function isPng(bytes: Uint8Array): boolean {
  return startsWith(bytes, PNG_SIGNATURE);
}

/** The image formats a code may arrive in, told apart by their first bytes (never the file name). */
export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp' | 'tiff' | 'heif';

const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));

/** The image format the bytes begin with, or undefined for anything else (text, say). */
export function imageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (isPng(bytes)) return 'png';
  // SOI followed by the first marker's 0xFF (ITU T.81 §B.1.1.2): JFIF and Exif (phone) files both start so.
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, ascii('GIF8'))) return 'gif';
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return 'webp';
  if (startsWith(bytes, ascii('BM'))) return 'bmp';
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  // ISO BMFF: iPhones save HEIC by default.
  if (startsWith(bytes, ascii('ftyp'), 4) && /^(hei|hev|mif|msf|avi)/.test(String.fromCharCode(...bytes.subarray(8, 12)))) return 'heif';
  return undefined;
}

/** The formats `decodeQrImage` reads. */
export const READABLE_IMAGE_FORMATS: readonly ImageFormat[] = ['png', 'jpeg'];

function findQr(rgba: Uint8ClampedArray, width: number, height: number): string | undefined {
  const found = jsQR(rgba, width, height, { inversionAttempts: 'attemptBoth' });
  return found ? found.data : undefined;
}

/**
 * Finds a QR code in a PNG and returns its text, or undefined when there is none.
 * @throws Error when the bytes are not a decodable PNG
 */
export function decodeQrPng(bytes: Uint8Array): string | undefined {
  const image = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return findQr(new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.byteLength), image.width, image.height);
}

/**
 * Finds a QR code in a JPEG (a phone's photo or screenshot) and returns its text, or
 * undefined when there is none. Images over 64 megapixels are refused rather than decoded.
 * @throws Error when the bytes are not a decodable JPEG
 */
export function decodeQrJpeg(bytes: Uint8Array): string | undefined {
  const image = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: 64, maxMemoryUsageInMB: 1024 });
  return findQr(new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.byteLength), image.width, image.height);
}
