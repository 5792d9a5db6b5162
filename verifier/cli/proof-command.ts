import {
  eventLeafHash,
  type AnchoredCheckpoint,
  parseProofBundle,
  ProofError,
  verifyEventProofs,
  verifyHistory,
  type ProofBundle,
  type ProofCode,
  type ProofResult,
} from '../src';
import { parseCommandArgs } from './args';
import { attestationReader, isCosigned } from './attestation';
import { connectRegistry, type ChainCheckpoint, type RegistryReader } from './chain';
import { EXIT_INVALID, EXIT_VALID, readInput, unreadable, usageError, type CliIo } from './io';
import type { Command } from './command';

/** What `--json` prints for one bundle. */
interface BundleReport extends ProofResult {
  file: string;
  /**
   * The checkpoint as read from the chain, once it was; `mapRoot` is the chain's when it keeps
   * one, else the bundle's, and `cosigned` says who said it was cosigned (history only).
   */
  checkpoint: {
    index: number;
    treeSize: number;
    root: string;
    anchoredAt: number;
    blockNumber: number;
    mapRoot?: string | null;
    cosigned?: { by: 'chain'; cosigners: number; threshold: number } | { by: '--cosigned' } | null;
  } | null;
}

/** How the history command learns whether a checkpoint was cosigned. */
interface CosignOptions {
  /** `--cosigned`: the caller vouches that witnesses cosigned the bundle's (treeSize, root, mapRoot). */
  vouched: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function fail(code: ProofCode, message: string, checked = 0): ProofResult {
  return { valid: false, code, message, checked };
}

/** A bundle that does not parse is evidence that does not check out (exit 1), like a garbled code. */
function parseBundleFile(bytes: Uint8Array, file: string): ProofBundle | ProofResult {
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(bytes));
  } catch (e) {
    return fail('MALFORMED', `${file} is not JSON: ${(e as Error).message}`);
  }
  try {
    return parseProofBundle(json);
  } catch (e) {
    if (e instanceof ProofError) return fail(e.code, e.message);
    throw e;
  }
}

/**
 * Everything the proof commands check for one bundle, in FORMAT.md §10 order, with the
 * size and root always read from the chain: shape; chain id, contract and checkpoint; the
 * anchoring transaction; then the library's checks (hashes, inclusion, history); then the
 * contract's own `verifyInclusion` for every event as a second opinion.
 * @throws CliError when the chain cannot be asked (exit 2)
 */
async function checkBundle(
  bytes: Uint8Array,
  file: string,
  kind: 'event' | 'history',
  registry: RegistryReader,
  cosign: CosignOptions,
): Promise<BundleReport> {
  // A history that does not verify is never complete, whichever check stopped it.
  const notValid = (result: ProofResult): ProofResult =>
    kind === 'history' && result.complete === undefined
      ? {
          ...result,
          complete: false,
          completeness: {
            code: 'NOT_VALID',
            reason: 'the bundle does not verify, so it proves nothing about completeness',
          },
        }
      : result;
  const parsed = parseBundleFile(bytes, file);
  if (!('format' in parsed)) return { ...notValid(parsed), file, checkpoint: null };
  const bundle = parsed;
  let witnessed: NonNullable<BundleReport['checkpoint']>['cosigned'] = null;
  let chainMapRoot: Uint8Array | undefined;
  const report = (result: ProofResult, cp?: ChainCheckpoint): BundleReport => ({
    ...notValid(result),
    file,
    checkpoint: cp
      ? {
          index: bundle.checkpoint.index,
          treeSize: cp.treeSize,
          root: Buffer.from(cp.root).toString('hex'),
          anchoredAt: cp.anchoredAt,
          blockNumber: bundle.checkpoint.blockNumber,
          ...(kind === 'history'
            ? {
                mapRoot: chainMapRoot ? Buffer.from(chainMapRoot).toString('hex') : (bundle.checkpoint.mapRoot ?? null),
                cosigned: witnessed,
              }
            : {}),
        }
      : null,
  });
  if (kind === 'history' && bundle.kind !== 'history') {
    return report(fail('MALFORMED', `${file} is an event bundle; check it with "ankang-verify proof"`));
  }
  const { chainId, contract } = bundle.chain;
  if (chainId !== registry.chainId) {
    return report(
      fail(
        'CHECKPOINT_MISMATCH',
        `the bundle is for chain ${chainId}, but ${registry.origin} is chain ${registry.chainId}`,
      ),
    );
  }
  if (contract.toLowerCase() !== registry.address) {
    return report(
      fail(
        'CHECKPOINT_MISMATCH',
        `the bundle names contract ${contract}, not the registry ${registry.address} given with --contract`,
      ),
    );
  }
  const issuer = Number(bundle.issuer);
  const { index } = bundle.checkpoint;
  const cp = await registry.getCheckpoint(issuer, index);
  if (!cp)
    return report(fail('CHECKPOINT_MISMATCH', `the registry has no checkpoint ${index} of issuer ${bundle.issuer}`));

  // The block the output names must be the one the checkpoint was really anchored in.
  const anchoring = await registry.getAnchoring(bundle.checkpoint.txHash);
  const rootHex = `0x${Buffer.from(cp.root).toString('hex')}`;
  if (!anchoring) {
    return report(
      fail(
        'CHECKPOINT_MISMATCH',
        `the anchoring transaction ${bundle.checkpoint.txHash} is not a successful transaction on chain ${chainId}`,
      ),
      cp,
    );
  }
  if (
    !anchoring.logs.some(
      (l) => l.issuer === issuer && l.index === index && l.treeSize === cp.treeSize && l.root === rootHex,
    )
  ) {
    return report(
      fail(
        'CHECKPOINT_MISMATCH',
        `transaction ${bundle.checkpoint.txHash} did not anchor checkpoint ${index} of issuer ${bundle.issuer}`,
      ),
      cp,
    );
  }
  if (anchoring.blockNumber !== bundle.checkpoint.blockNumber) {
    return report(
      fail(
        'CHECKPOINT_MISMATCH',
        `checkpoint ${index} was anchored in block ${anchoring.blockNumber}, not block ${bundle.checkpoint.blockNumber}`,
      ),
      cp,
    );
  }

  const anchored: AnchoredCheckpoint = { treeSize: cp.treeSize, root: cp.root };
  if (kind === 'history') {
    // The chain's word on the map root and the witnesses, once it has one, is final; until
    // then only the caller's --cosigned can vouch for the bundle's own map root.
    const attestation = await attestationReader(registry)?.getAttestation(issuer, index);
    if (attestation) {
      chainMapRoot = attestation.mapRoot;
      anchored.mapRoot = attestation.mapRoot;
      anchored.cosigned = isCosigned(attestation);
      witnessed = anchored.cosigned
        ? { by: 'chain', cosigners: attestation.cosigners, threshold: attestation.threshold }
        : null;
    } else {
      anchored.cosigned = cosign.vouched;
      witnessed = cosign.vouched ? { by: '--cosigned' } : null;
    }
  }
  const result = kind === 'history' ? verifyHistory(bundle, anchored) : verifyEventProofs(bundle, anchored);
  if (!result.valid) return report(result, cp);

  const entries = [
    ...(bundle.previous ? [bundle.previous] : []),
    ...bundle.events,
    ...(bundle.next ? [bundle.next] : []),
  ];
  const answers = await registry.verifyInclusions(
    issuer,
    index,
    entries.map((e) => ({ leafIndex: e.leafIndex, leafHash: eventLeafHash(e.event), proof: e.proof })),
  );
  const refused = answers.indexOf(false);
  if (refused >= 0) {
    const seq = entries[refused].event.seq;
    return report(
      fail(
        'NOT_INCLUDED',
        `event seq ${seq}: the contract's verifyInclusion refuses the proof the local check accepted`,
      ),
      cp,
    );
  }
  return report(
    {
      ...result,
      message: result.message.replace(
        `(size ${cp.treeSize})`,
        `(size ${cp.treeSize}) anchored in block ${anchoring.blockNumber}`,
      ),
    },
    cp,
  );
}

function describe(r: BundleReport, many: boolean): string {
  const line = r.valid ? `valid: ${r.message}` : `invalid (${r.code}): ${r.message}`;
  // A valid history says on a line of its own whether it is known complete (FORMAT.md §13.5).
  const c = r.valid ? r.completeness : undefined;
  const second = c ? `\n  ${c.code === 'COMPLETE' ? 'complete' : `not known complete (${c.code})`}: ${c.reason}` : '';
  return (many ? `${r.file}: ${line}` : line) + second;
}

/** The body shared by `proof` and `history`: they differ only in the checks and the help. */
export async function runProofCheck(
  kind: 'event' | 'history',
  usage: string,
  argv: string[],
  io: CliIo,
): Promise<number> {
  const { values, positionals } = parseCommandArgs({
    args: argv,
    allowPositionals: true,
    options: {
      rpc: { type: 'string' },
      contract: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      ...(kind === 'history' ? { cosigned: { type: 'boolean' as const } } : {}),
    },
  });
  if (values.help) {
    io.out(usage);
    return EXIT_VALID;
  }
  if (positionals.length === 0) throw usageError('no bundle given');
  if (positionals.filter((p) => p === '-').length > 1) throw usageError('only one bundle can be read from stdin');
  if (!values.rpc) throw usageError('--rpc <url> is required');
  if (!values.contract) throw usageError('--contract <address> is required');

  const files: Array<{ file: string; bytes: Uint8Array }> = [];
  for (const file of positionals) files.push({ file, bytes: await readInput(file, 'bundle', io) });

  const registry = await connectRegistry(values.rpc, values.contract);
  const reports: BundleReport[] = [];
  try {
    if (!(await registry.hasCode())) {
      throw unreadable(
        `--contract ${registry.address} is not a contract on chain ${registry.chainId} (${registry.origin})`,
      );
    }
    const cosign = { vouched: (values as { cosigned?: boolean }).cosigned === true };
    for (const { file, bytes } of files) reports.push(await checkBundle(bytes, file, kind, registry, cosign));
  } finally {
    registry.close();
  }

  const many = reports.length > 1;
  if (values.json) io.out(JSON.stringify(many ? reports : reports[0], null, 2));
  else for (const r of reports) io.out(describe(r, many));
  return reports.every((r) => r.valid) ? EXIT_VALID : EXIT_INVALID;
}

export const PROOF_EXIT_TEXT = `Exit status: 0 every bundle holds, 1 a check failed (the line says which and why),
2 usage error, a missing file, or a chain or contract that cannot be asked.`;

const PROOF_USAGE = `Usage: ankang-verify proof <bundle.json>... --rpc <url> --contract <address> [--json]

Proves that the events in a proof bundle (ankang-proof-bundle/1 or /2, FORMAT.md §10) are in
their issuer's log, against the checkpoint anchored on chain. The tree size and root are
read from the AnchorRegistry at --contract, never from the bundle; each event's hash is
recomputed from its body and salt; each inclusion proof is checked here and again by the
contract's verifyInclusion view. This is the one command that goes online: it reads the
chain, and sends it nothing but calls.

Options:
  --rpc <url>            JSON-RPC endpoint of the chain (http or https)
  --contract <address>   the AnchorRegistry you trust
  --json                 print { "valid", "code", "message", "checked", "file", "checkpoint" }
                         (an array when several bundles are given)
  -h, --help             show this help

Result codes: VALID, MALFORMED, CHECKPOINT_MISMATCH, EVENT_ALTERED, NOT_INCLUDED.

${PROOF_EXIT_TEXT}`;

export const proofCommand: Command = {
  name: 'proof',
  synopsis: 'proof <bundle.json>... --rpc <url> --contract <address> [--json]',
  summary: 'prove events are in an issuer log anchored on chain',
  usage: PROOF_USAGE,
  run: (argv, io) => runProofCheck('event', PROOF_USAGE, argv, io),
};
