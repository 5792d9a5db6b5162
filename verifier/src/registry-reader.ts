import { Contract, FetchRequest, getBytes, hexlify, isError, JsonRpcProvider, Network } from 'ethers';
import { ANCHOR_REGISTRY_ABI } from './chain-abi';
import type { RegistryIssuer } from './chain-trust';

// Read-only access to an AnchorRegistry over JSON-RPC, for the CLI's proof and trust commands
// and the service's federation. Not exported from index.ts: it bundles ethers, which the
// library and its browser build do without.

/** Each JSON-RPC request may take this long before the chain counts as unreachable. */
const REQUEST_TIMEOUT_MS = 30_000;
/** How many `verifyInclusion` calls are in flight at once (ethers batches them into JSON-RPC batches). */
const CALL_CONCURRENCY = 64;
/** Reverts that mean "no such checkpoint", as opposed to "this is not an AnchorRegistry". */
const NO_CHECKPOINT = new Set([
  'AnchorRegistryUnknownIssuer',
  'AnchorRegistryUnknownCheckpoint',
  'AnchorRegistryNoCheckpoint',
]);

/**
 * Why the chain could not be read: `INVALID_ENDPOINT` an RPC URL that is not http(s) or an
 * address that is not 20 bytes of hex; `CHAIN_UNREACHABLE` the endpoint did not answer;
 * `NOT_A_REGISTRY` the contract does not answer like an AnchorRegistry.
 */
export type RegistryReadErrorCode = 'INVALID_ENDPOINT' | 'CHAIN_UNREACHABLE' | 'NOT_A_REGISTRY';

/** The one error the registry reader throws; its message names the endpoint's origin, never its path or query. */
export class RegistryReadError extends Error {
  readonly code: RegistryReadErrorCode;

  constructor(code: RegistryReadErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RegistryReadError';
    this.code = code;
  }
}

const readError = (code: RegistryReadErrorCode, message: string, cause?: unknown) =>
  new RegistryReadError(code, message, cause === undefined ? undefined : { cause });

/**
 * What the registry holds of a checkpoint's subject map and witnesses (FORMAT.md §11.7): the
 * subject heads map root anchored with the checkpoint, and how many witnesses that still count
 * cosigned (treeSize, root, mapRoot) out of how many the registry requires.
 */
export interface CheckpointAttestation {
  /** The map root stored with the checkpoint, 32 bytes. */
  mapRoot: Uint8Array;
  /** Distinct registered witnesses whose cosignature of this checkpoint the contract accepted. */
  cosigners: number;
  /** How many the registry requires (0 until the council sets it); a checkpoint with fewer is not cosigned. */
  threshold: number;
}

/** A checkpoint as the contract stores it. */
export interface ChainCheckpoint {
  treeSize: number;
  anchoredAt: number;
  root: Uint8Array;
}

/** A `CheckpointAnchored` event of the registry, found in a transaction receipt. */
export interface AnchoringLog {
  issuer: number;
  index: number;
  treeSize: number;
  root: string;
}

/** The read-only view of one AnchorRegistry that the proof commands and federation need. */
export interface RegistryReader {
  chainId: number;
  /** The contract address, lower case. */
  address: string;
  /** `http(s)://host:port` of the RPC endpoint, without path, query or credentials (they may hold an API key). */
  origin: string;
  hasCode(): Promise<boolean>;
  /** The checkpoint, or undefined when the issuer or the checkpoint number is unknown to the contract. */
  getCheckpoint(issuer: number, index: number): Promise<ChainCheckpoint | undefined>;
  /** The block of a successful transaction and the registry's CheckpointAnchored events in it, or undefined if there is no such transaction. */
  getAnchoring(txHash: string): Promise<{ blockNumber: number; logs: AnchoringLog[] } | undefined>;
  /** The contract's own `verifyInclusion` view for each item, in order; false where it reverts. */
  verifyInclusions(
    issuer: number,
    checkpointIndex: number,
    items: ReadonlyArray<{ leafIndex: number; leafHash: Uint8Array; proof: readonly string[] }>,
  ): Promise<boolean[]>;
  /**
   * The map root the checkpoint was anchored with and how many witnesses that count cosigned
   * it, of how many the registry requires (FORMAT.md §11.7); undefined when the registry has
   * no `getAttestation` (one deployed before it kept map roots) or no such checkpoint.
   */
  getAttestation(issuer: number, index: number): Promise<CheckpointAttestation | undefined>;
  /** Every registered issuer with its keys (revoked ones included, with revokedAt set) and, if suspended, since when. */
  readIssuers(): Promise<RegistryIssuer[]>;
  close(): void;
}

/** The origin of an http(s) URL, or undefined for anything else. */
export function httpOrigin(rpc: string): string | undefined {
  let url: URL;
  try {
    url = new URL(rpc);
  } catch {
    return undefined;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
}

/** True for a 0x-prefixed 20-byte hex address. */
export function isAddress(address: string): boolean {
  return /^0x[0-9a-fA-F]{40}$/.test(address);
}

/**
 * Asks the endpoint for its chain id and returns a reader of the registry at `address` on
 * that chain; every method of the reader throws RegistryReadError when the chain fails it.
 * @throws RegistryReadError INVALID_ENDPOINT for a URL that is not http(s) or an address that
 *   is not 20 bytes of hex, CHAIN_UNREACHABLE when the endpoint does not answer eth_chainId
 */
export async function connectRegistry(rpc: string, address: string): Promise<RegistryReader> {
  const origin = httpOrigin(rpc);
  // The URL itself is not repeated: its path or query may hold an API key.
  if (!origin) throw readError('INVALID_ENDPOINT', 'the RPC endpoint must be an http(s) URL');
  if (!isAddress(address))
    throw readError('INVALID_ENDPOINT', 'the registry address must be a 0x-prefixed 20-byte address');
  const lower = address.toLowerCase();

  const chainId = await fetchChainId(rpc, origin);
  const request = new FetchRequest(rpc);
  request.timeout = REQUEST_TIMEOUT_MS;
  // A known network up front: ethers would otherwise retry detection forever and log about it.
  const provider = new JsonRpcProvider(request, Network.from(chainId), { staticNetwork: true, cacheTimeout: -1 });
  const registry = new Contract(lower, ANCHOR_REGISTRY_ABI as string[], provider);
  const unreachable = (e: unknown) =>
    readError('CHAIN_UNREACHABLE', `the chain at ${origin} did not answer: ${shortReason(e)}`, e);
  const notRegistry = (e: unknown) =>
    readError(
      'NOT_A_REGISTRY',
      `the contract ${lower} on chain ${chainId} does not answer like an AnchorRegistry: ${shortReason(e)}`,
      e,
    );

  return {
    chainId,
    address: lower,
    origin,
    async readIssuers() {
      try {
        const ids = (await registry.issuerIds()) as bigint[];
        return await Promise.all(
          ids.map(async (id) => {
            const { name, statusListUrl, suspendedAt } = (await registry.getIssuer(id)) as {
              name: string;
              statusListUrl: string;
              suspendedAt: bigint;
            };
            const keys = (await registry.getKeys(id)) as Array<{
              kid: string;
              publicKey: string;
              notBefore: bigint;
              notAfter: bigint;
              revokedAt: bigint;
            }>;
            return {
              id: Number(id),
              name,
              statusListUrl,
              suspendedAt: Number(suspendedAt),
              keys: keys.map((k) => ({
                kid: k.kid,
                publicKey: k.publicKey,
                notBefore: Number(k.notBefore),
                notAfter: Number(k.notAfter),
                revokedAt: Number(k.revokedAt),
              })),
            };
          }),
        );
      } catch (e) {
        throw isError(e, 'CALL_EXCEPTION') ? notRegistry(e) : unreachable(e);
      }
    },
    async hasCode() {
      try {
        return (await provider.getCode(lower)) !== '0x';
      } catch (e) {
        throw unreachable(e);
      }
    },
    async getCheckpoint(issuer, index) {
      try {
        const cp = await registry.getCheckpoint(issuer, index);
        return { treeSize: Number(cp.treeSize), anchoredAt: Number(cp.anchoredAt), root: getBytes(cp.root) };
      } catch (e) {
        if (isError(e, 'CALL_EXCEPTION') && e.revert && NO_CHECKPOINT.has(e.revert.name)) return undefined;
        if (isError(e, 'CALL_EXCEPTION') || isError(e, 'BAD_DATA')) throw notRegistry(e);
        throw unreachable(e);
      }
    },
    async getAttestation(issuer, index) {
      try {
        const [mapRoot, cosigners, threshold] = (await registry.getAttestation(issuer, index)) as [
          string,
          bigint,
          bigint,
        ];
        return { mapRoot: getBytes(mapRoot), cosigners: Number(cosigners), threshold: Number(threshold) };
      } catch (e) {
        if (isError(e, 'CALL_EXCEPTION') && e.revert && NO_CHECKPOINT.has(e.revert.name)) return undefined;
        // A registry without the function reverts with no data: it keeps no map roots, and
        // the caller falls back on what its user vouches for.
        if (isError(e, 'CALL_EXCEPTION') && !e.revert && (e.data === '0x' || e.data == null)) return undefined;
        if (isError(e, 'CALL_EXCEPTION') || isError(e, 'BAD_DATA')) throw notRegistry(e);
        throw unreachable(e);
      }
    },
    async getAnchoring(txHash) {
      let receipt;
      try {
        receipt = await provider.getTransactionReceipt(txHash);
      } catch (e) {
        throw unreachable(e);
      }
      if (!receipt || receipt.status !== 1) return undefined;
      const logs: AnchoringLog[] = [];
      for (const log of receipt.logs) {
        if (log.address.toLowerCase() !== lower) continue;
        const parsed = registry.interface.parseLog({ topics: [...log.topics], data: log.data });
        if (parsed?.name !== 'CheckpointAnchored') continue;
        logs.push({
          issuer: Number(parsed.args.issuer),
          index: Number(parsed.args.index),
          treeSize: Number(parsed.args.treeSize),
          root: parsed.args.root as string,
        });
      }
      return { blockNumber: receipt.blockNumber, logs };
    },
    async verifyInclusions(issuer, checkpointIndex, items) {
      const out: boolean[] = new Array(items.length);
      for (let start = 0; start < items.length; start += CALL_CONCURRENCY) {
        const batch = items.slice(start, start + CALL_CONCURRENCY);
        const answers = await Promise.all(
          batch.map(async ({ leafIndex, leafHash, proof }) => {
            try {
              return (await registry.verifyInclusion(
                issuer,
                checkpointIndex,
                leafIndex,
                hexlify(leafHash),
                proof.map((h) => `0x${h}`),
              )) as boolean;
            } catch (e) {
              // A revert (leaf index beyond the tree) is a no; anything else is the chain failing.
              if (isError(e, 'CALL_EXCEPTION') && e.revert) return false;
              throw isError(e, 'CALL_EXCEPTION') || isError(e, 'BAD_DATA') ? notRegistry(e) : unreachable(e);
            }
          }),
        );
        answers.forEach((a, i) => (out[start + i] = a));
      }
      return out;
    },
    close() {
      provider.destroy();
    },
  };
}

async function fetchChainId(rpc: string, origin: string): Promise<number> {
  let body: { result?: unknown; error?: { message?: unknown } };
  try {
    const res = await fetch(rpc, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = (await res.json()) as typeof body;
  } catch (e) {
    throw readError('CHAIN_UNREACHABLE', `cannot reach the JSON-RPC endpoint ${origin}: ${shortReason(e)}`, e);
  }
  const id = typeof body?.result === 'string' && /^0x[0-9a-fA-F]+$/.test(body.result) ? Number(body.result) : NaN;
  if (!Number.isSafeInteger(id) || id < 1)
    throw readError('CHAIN_UNREACHABLE', `${origin} did not answer eth_chainId with a chain id`);
  return id;
}

/** One line about why a request failed, without the request itself (it can be long, and hold the URL). */
function shortReason(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as { cause?: unknown }).cause;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? (e as NodeJS.ErrnoException).code;
  if (e.name === 'TimeoutError' || (e as { code?: string }).code === 'TIMEOUT') return 'timed out';
  const short = (e as { shortMessage?: string }).shortMessage ?? e.message;
  return typeof code === 'string' && !short.includes(code) ? `${short} (${code})` : short;
}
