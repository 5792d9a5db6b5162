import jsQR from 'jsqr';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

// Reading a code from an image file (the CLI's input); rendering one is src/qr.ts.

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
  if (
    startsWith(bytes, ascii('ftyp'), 4) &&
    /^(hei|hev|mif|msf|avi)/.test(String.fromCharCode(...bytes.subarray(8, 12)))
  )
    return 'heif';
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
  return findQr(
    new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.byteLength),
    image.width,
    image.height,
  );
}

/**
 * Finds a QR code in a JPEG (a phone's photo or screenshot) and returns its text, or
 * undefined when there is none. Images over 64 megapixels are refused rather than decoded.
 * @throws Error when the bytes are not a decodable JPEG
 */
export function decodeQrJpeg(bytes: Uint8Array): string | undefined {
  const image = jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: true,
    maxResolutionInMP: 64,
    maxMemoryUsageInMB: 1024,
  });
  return findQr(
    new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.byteLength),
    image.width,
    image.height,
  );
}
