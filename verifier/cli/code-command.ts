import { loadStatusList, parseRfc3339, prepareTrustList, verifyCode, type PreparedTrustList } from '../src';
import { parseCommandArgs } from './args';
import { readCodeArgument } from './code-input';
import { EXIT_INVALID, EXIT_VALID, readInput, unreadable, usageError, type CliIo } from './io';
import { describeResult, describeRevocation, resultJson, revocationCheck } from './format';
import type { Command } from './command';

const USAGE = `Usage: ankang-verify code <AK1:text | file.txt | image.png/.jpg | -> --trust-list <file> [options]

Verifies a resident or venue code offline: the issuer and key against the trust list,
the signature, the validity window and, for resident codes, the issuer's status list.
Without a status list of the code's issuer, a resident code's revocation is not checked
and the output says so: the colour is then the one issued, maybe since superseded.
The code is given as text, as a file holding the text, as a PNG or JPEG of its QR
code (a phone's photo or screenshot; the format is read from the file's bytes, not its
name), or as "-" to read any of these from stdin.

Options:
  --trust-list <file>    trust list JSON (ankang-trust-list/1); required
  --status-list <file>   a signed status list; repeat for several issuers
  --now <RFC 3339>       verify as of this time instead of the system clock,
                         e.g. 2026-11-28T19:30:00+08:00
  --json                 print { "valid", "code", "message", "claims", "revocation" }
                         as JSON; "revocation" says whether a status list was checked
  -h, --help             show this help

Exit status: 0 valid, 1 invalid, 2 usage error or unreadable input.`;

async function readTrustList(path: string, io: CliIo): Promise<{ json: unknown; prepared: PreparedTrustList }> {
  const bytes = await readInput(path, 'trust list', io);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw unreadable(`trust list ${path} is not JSON: ${(e as Error).message}`, e);
  }
  try {
    return { json, prepared: prepareTrustList(json) };
  } catch (e) {
    throw unreadable(`trust list ${path} is not usable: ${(e as Error).message}`, e);
  }
}

async function code(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'trust-list': { type: 'string' },
      'status-list': { type: 'string', multiple: true },
      now: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.out(USAGE);
    return EXIT_VALID;
  }
  if (positionals.length !== 1) throw usageError(positionals.length ? 'give exactly one code' : 'no code given');
  const trustListPath = values['trust-list'];
  if (!trustListPath) throw usageError('--trust-list <file> is required');
  const stdinUses = [positionals[0], trustListPath, ...(values['status-list'] ?? [])].filter((p) => p === '-');
  if (stdinUses.length > 1) throw usageError('only one input can be read from stdin');
  let now: number;
  try {
    now = values.now === undefined ? Math.floor(Date.now() / 1000) : parseRfc3339(values.now, '--now');
  } catch (e) {
    throw usageError((e as Error).message);
  }

  const trust = await readTrustList(trustListPath, io);
  const statusLists: Uint8Array[] = [];
  for (const path of values['status-list'] ?? []) {
    const bytes = await readInput(path, 'status list', io);
    // verifyCode skips a status list that does not check out; say so rather than stay silent.
    const loaded = await loadStatusList(bytes, trust.prepared);
    if (!loaded.valid) io.err(`warning: status list ${path} ignored (${loaded.code}): ${loaded.message}`);
    statusLists.push(bytes);
  }
  const text = await readCodeArgument(positionals[0], io);

  const result = await verifyCode(text, { trustList: trust.json, statusLists, now: now * 1000 });
  const revocation = revocationCheck(result, statusLists.length);
  if (values.json) {
    io.out(JSON.stringify(resultJson(result, revocation), null, 2));
  } else {
    const issuerName = result.claims && trust.prepared.issuers.get(result.claims.iss)?.name;
    io.out(describeResult(result, issuerName, now));
    // A VALID without a status list only says the code was issued so; say that rather than stay silent.
    const unchecked = describeRevocation(result, revocation);
    if (unchecked) io.out(unchecked);
    // Offline verdicts are only as good as the lists behind them: say how old they are.
    const ages = [`trust list issued ${age(now - trust.prepared.issuedAt)} ago`];
    if (result.statusAgeSeconds !== undefined) ages.push(`status list issued ${age(result.statusAgeSeconds)} ago`);
    io.out(`  (${ages.join('; ')})`);
  }
  return result.valid ? EXIT_VALID : EXIT_INVALID;
}

function age(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

export const codeCommand: Command = {
  name: 'code',
  synopsis:
    'code <AK1:text | file.txt | image.png/.jpg | -> --trust-list <file> [--status-list <file>]... [--now <time>] [--json]',
  summary: 'verify a resident or venue code',
  usage: USAGE,
  run: code,
};
