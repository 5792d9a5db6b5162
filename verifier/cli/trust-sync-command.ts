import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadStatusList, prepareTrustList, trustListFromRegistry, type TrustListJson } from '../src';
import { parseCommandArgs } from './args';
import { connectRegistry } from './chain';
import type { Command } from './command';
import { CliError, EXIT_INVALID, EXIT_VALID, usageError, type CliIo } from './io';

const USAGE = `Usage: ankang-verify trust sync --rpc <url> --contract <address> --out <trust.json> [options]

Builds a trust list from the AnchorRegistry's issuer registry on chain (every registered
issuer and its keys; revoked keys are listed apart, with when they were revoked, and
every code they signed is refused; a key is left out once every code it could sign has
expired, 366 days and a minute after its notAfter), then fetches each issuer's signed status
list from the URL the registry names and keeps those that verify. Afterwards
"ankang-verify code" works offline from these files and says how old they are.

Options:
  --rpc <url>            JSON-RPC endpoint of the chain
  --contract <address>   the AnchorRegistry address
  --out <file>           where to write the trust list (JSON)
  --status-dir <dir>     where to write status-<issuer>.cose files (default: next to --out)
  --timeout <seconds>    per status-list download (default 10)
  --json                 print a JSON summary
  -h, --help             show this help

Exit status: 0 trust list and every status list written, 1 trust list written but some
status list missing or invalid, 2 usage error or unreachable chain.`;

interface IssuerSummary {
  id: string;
  name: string;
  keys: number;
  statusList: { file: string; entries: number; issuedAt: string } | { error: string } | null;
}

async function fetchStatusList(url: string, timeoutSeconds: number): Promise<Uint8Array> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutSeconds * 1000) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

function write(path: string, data: string | Uint8Array): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, data);
  } catch (e) {
    throw new CliError('WRITE_FAILED', `could not write ${path}: ${(e as Error).message}`, { cause: e });
  }
}

async function sync(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs({
    args: argv,
    options: {
      rpc: { type: 'string' },
      contract: { type: 'string' },
      out: { type: 'string' },
      'status-dir': { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.out(USAGE);
    return EXIT_VALID;
  }
  if (!values.rpc || !values.contract || !values.out) throw usageError('--rpc, --contract and --out are required');
  const timeout = values.timeout === undefined ? 10 : Number(values.timeout);
  if (!(timeout > 0 && timeout <= 300)) throw usageError('--timeout must be 1 to 300 seconds');
  const statusDir = values['status-dir'] ?? dirname(values.out);

  const registry = await connectRegistry(values.rpc, values.contract);
  let trustList: TrustListJson;
  let suspended: Array<{ id: string; name: string; since: string }>;
  try {
    if (!(await registry.hasCode()))
      throw usageError(`no contract at ${registry.address} on chain ${registry.chainId}`);
    const issuers = await registry.readIssuers();
    trustList = trustListFromRegistry(issuers, Date.now() / 1000);
    suspended = issuers
      .filter((i) => i.suspendedAt)
      .map((i) => ({ id: String(i.id), name: i.name, since: new Date(i.suspendedAt! * 1000).toISOString() }));
  } finally {
    registry.close();
  }
  write(values.out, JSON.stringify(trustList, null, 2) + '\n');
  const prepared = prepareTrustList(trustList);

  const summaries: IssuerSummary[] = [];
  for (const iss of trustList.issuers) {
    const summary: IssuerSummary = { id: iss.id, name: iss.name, keys: iss.keys.length, statusList: null };
    summaries.push(summary);
    if (!iss.statusListUrl) continue;
    try {
      const bytes = await fetchStatusList(iss.statusListUrl, timeout);
      const loaded = await loadStatusList(bytes, prepared);
      if (!loaded.valid) throw new Error(`${loaded.code}: ${loaded.message}`);
      if (loaded.statusList.iss !== iss.id) throw new Error(`the list is issuer ${loaded.statusList.iss}'s`);
      const file = join(statusDir, `status-${iss.id}.cose`);
      write(file, bytes);
      summary.statusList = {
        file,
        entries: loaded.statusList.size,
        issuedAt: new Date(loaded.statusList.issuedAt * 1000).toISOString(),
      };
    } catch (e) {
      summary.statusList = { error: (e as Error).message };
    }
  }

  const now = Date.now() / 1000;
  if (values.json) {
    io.out(
      JSON.stringify(
        {
          trustList: values.out,
          chainId: registry.chainId,
          contract: registry.address,
          issuedAt: trustList.issuedAt,
          issuers: summaries,
          suspended,
        },
        null,
        2,
      ),
    );
  } else {
    io.out(
      `trust list of ${trustList.issuers.length} issuer(s) from chain ${registry.chainId} (${registry.address}) written to ${values.out}`,
    );
    for (const s of summaries) {
      const sl = s.statusList;
      const status = !sl
        ? 'no status list URL'
        : 'error' in sl
          ? `status list NOT fetched (${sl.error})`
          : `status list of ${sl.entries} entries issued ${Math.round(now - Date.parse(sl.issuedAt) / 1000)} s ago → ${sl.file}`;
      io.out(`  ${s.id} ${s.name}: ${s.keys} key(s), ${status}`);
    }
    for (const s of suspended)
      io.out(`  ${s.id} ${s.name}: suspended on chain since ${s.since}; left out, its codes are not accepted`);
  }
  const missing = summaries.some((s) => s.statusList && 'error' in s.statusList);
  return missing ? EXIT_INVALID : EXIT_VALID;
}

export const trustSyncCommand: Command = {
  name: 'trust sync',
  synopsis: 'trust sync --rpc <url> --contract <address> --out <trust.json> [--status-dir <dir>] [--json]',
  summary: "build the trust list from the chain and fetch every issuer's status list",
  usage: USAGE,
  run: sync,
};
