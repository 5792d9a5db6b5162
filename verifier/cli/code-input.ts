import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { CODE_PREFIX } from '../src';
import { readInput, unreadable, type CliIo } from './io';
import { decodeQrJpeg, decodeQrPng, imageFormat } from './qr-image';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.gif', '.webp', '.bmp', '.heic', '.heif', '.tif', '.tiff']);
const FORMAT_NAME = { png: 'PNG', jpeg: 'JPEG' } as const;

/**
 * Turns the `<code>` argument into code text: `AK1:...` as given, else a file (or `-` for
 * stdin) holding either the text or a PNG or JPEG with the QR code on it. The format is told
 * by the file's first bytes, not its name. Whether the text is a well-formed code is left to
 * the verifier, so a garbled code is invalid, not unreadable.
 * @throws CliError UNREADABLE_INPUT for a missing file, a broken PNG or JPEG, an image
 * without a QR code, an image in another format (GIF, WebP, HEIC, ...), a file named as an
 * image that is none, or a file that is neither an image nor UTF-8 text
 */
export async function readCodeArgument(arg: string, io: CliIo): Promise<string> {
  if (arg.startsWith(CODE_PREFIX)) return arg;
  if (arg !== '-' && !existsSync(arg)) {
    throw unreadable(`${arg} is neither an ${CODE_PREFIX} code nor a file that exists`);
  }
  const bytes = await readInput(arg, 'code', io);
  const format = imageFormat(bytes);
  if (format === 'png' || format === 'jpeg') {
    let text: string | undefined;
    try {
      text = format === 'png' ? decodeQrPng(bytes) : decodeQrJpeg(bytes);
    } catch (e) {
      throw unreadable(`${arg} is not a readable ${FORMAT_NAME[format]} image: ${(e as Error).message}`, e);
    }
    if (text === undefined) throw unreadable(`no QR code found in ${arg}`);
    return text;
  }
  if (format)
    throw unreadable(
      `${arg} is a ${format.toUpperCase()} image; only PNG and JPEG are read (save or convert it as one of those)`,
    );
  // A file named as an image that is none would otherwise be read as text and reported as a MALFORMED code.
  if (IMAGE_EXTENSIONS.has(extname(arg).toLowerCase()))
    throw unreadable(`${arg} is not a PNG or JPEG image (its first bytes are neither)`);
  let text: string;
  try {
    text = utf8.decode(bytes).trim();
  } catch (e) {
    throw unreadable(`${arg} is neither a PNG or JPEG image nor UTF-8 text`, e);
  }
  if (!text) throw unreadable(`${arg} is empty`);
  return text;
}
