import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { CODE_PREFIX } from '../src';
import { readInput, unreadable, type CliIo } from './io';
import { decodeQrPng, isPng } from './qr';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.gif', '.webp', '.bmp']);

/**
 * Turns the `<code>` argument into code text: `AK1:...` as given, else a file (or `-` for
 * stdin) holding either the text or a PNG with the QR code on it. Whether the text is a
 * well-formed code is left to the verifier, so a garbled code is invalid, not unreadable.
 * @throws CliError UNREADABLE_INPUT for a missing file, a broken PNG, a PNG without a QR
 * code, an image file that is not a PNG, or a file that is neither PNG nor UTF-8 text
 */
export async function readCodeArgument(arg: string, io: CliIo): Promise<string> {
  if (arg.startsWith(CODE_PREFIX)) return arg;
  if (arg !== '-' && !existsSync(arg)) {
    throw unreadable(`${arg} is neither an ${CODE_PREFIX} code nor a file that exists`);
  }
  const bytes = await readInput(arg, 'code', io);
  if (isPng(bytes)) {
    let text: string | undefined;
    try {
      text = decodeQrPng(bytes);
    } catch (e) {
      throw unreadable(`${arg} is not a readable PNG image: ${(e as Error).message}`, e);
    }
    if (text === undefined) throw unreadable(`no QR code found in ${arg}`);
    return text;
  }
  // An image that is not a PNG would otherwise be read as text and reported as a MALFORMED code.
  if (IMAGE_EXTENSIONS.has(extname(arg).toLowerCase())) throw unreadable(`${arg} is not a PNG image (only PNG is read)`);
  let text: string;
  try {
    text = utf8.decode(bytes).trim();
  } catch (e) {
    throw unreadable(`${arg} is neither a PNG image nor UTF-8 text`, e);
  }
  if (!text) throw unreadable(`${arg} is empty`);
  return text;
}
