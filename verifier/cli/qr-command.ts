import { writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import { decodeCode } from '../src';
import { parseCommandArgs } from './args';
import { readCodeArgument } from './code-input';
import { CliError, EXIT_VALID, usageError, type CliIo } from './io';
import { createQr, renderQrPng, renderQrSvg } from '../src/qr';
import type { Command } from './command';

const USAGE = `Usage: ankang-verify qr <AK1:text | file.txt | -> --out <code.png | code.svg>

Renders a code as a QR image (alphanumeric mode, error correction level M, four modules
of quiet zone) for printing or display. The code must be a well-formed AK1 code; its
signature is not checked here (use "ankang-verify code" for that).

Options:
  --out <file>   where to write; the extension .png or .svg picks the format
  -h, --help     show this help

Exit status: 0 written, 2 usage error, unreadable input or a text that is not an AK1 code.`;

async function qr(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.out(USAGE);
    return EXIT_VALID;
  }
  if (positionals.length !== 1) throw usageError(positionals.length ? 'give exactly one code' : 'no code given');
  const out = values.out;
  if (!out) throw usageError('--out <code.png | code.svg> is required');
  const format = extname(out).toLowerCase();
  if (format !== '.png' && format !== '.svg')
    throw usageError(`--out must end in .png or .svg, not "${format || out}"`);

  const text = await readCodeArgument(positionals[0], io);
  try {
    decodeCode(text);
  } catch (e) {
    throw usageError(`refusing to render: not an AK1 code (${(e as Error).message})`);
  }
  const image = format === '.png' ? await renderQrPng(text) : await renderQrSvg(text);
  try {
    writeFileSync(out, image);
  } catch (e) {
    throw new CliError('WRITE_FAILED', `cannot write ${out}: ${(e as Error).message}`, { cause: e });
  }
  io.out(`wrote ${out}: QR version ${createQr(text).version}-M, ${text.length} characters`);
  return EXIT_VALID;
}

export const qrCommand: Command = {
  name: 'qr',
  synopsis: 'qr <AK1:text | file.txt | -> --out <code.png | code.svg>',
  summary: 'render a code as a QR image',
  usage: USAGE,
  run: qr,
};
