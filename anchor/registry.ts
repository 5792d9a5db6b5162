import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Contract,
  ContractFactory,
  FetchRequest,
  Interface,
  isError,
  JsonRpcProvider,
  Network,
  Wallet,
  type Signer,
} from 'ethers';

export interface Artifact {
  abi: unknown[];
  bytecode: string;
}

/** A compiled contract of contracts/ (from `hardhat compile`; npm start and npm test compile first). */
export function artifact(name: 'AnchorRegistry' | 'AnchorCouncil', root = join(__dirname, '..')): Artifact {
  const path = join(root, `artifacts/contracts/${name}.sol/${name}.json`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Artifact;
  } catch {
    throw new Error(`${path} is missing: run "npx hardhat compile" first`);
  }
}

/** The compiled AnchorRegistry. */
export const registryArtifact = (root?: string): Artifact => artifact('AnchorRegistry', root);

export interface AnchoredCheckpoint {
  index: number;
  treeSize: number;
  root: string;
  anchoredAt: number;
}

export interface ChainKey {
  kid: string;
  publicKey: string;
  notBefore: number;
  notAfter: number;
  revokedAt: number;
}

/** An issuer as `getIssuer` returns it; `registeredAt` 0 means unknown, `suspendedAt` 0 not suspended. */
export interface ChainIssuer {
  name: string;
  statusListUrl: string;
  anchorer: string;
  registeredAt: number;
  suspendedAt: number;
}

/** What the registry holds of a checkpoint beyond its size and root (`getAttestation`). */
export interface ChainAttestation {
  /** The map root the checkpoint was anchored with, 64 hex digits. */
  mapRoot: string;
  /** Witnesses whose cosignature counts now. */
  cosigners: number;
  /** How many must count for the checkpoint to be cosigned (0: no threshold set, nothing is). */
  threshold: number;
}

/** A witness as `getWitness` returns it; `registeredAt` 0 means the account is not one. */
export interface ChainWitness {
  name: string;
  /** The issuer whose account it is; 0 for an auditor's. */
  issuer: number;
  number: number;
  registeredAt: number;
  suspendedAt: number;
  revokedAt: number;
}

/** One call of a governed operation: what the council approves, schedules and executes. */
export interface Call {
  target: string;
  value: bigint;
  data: string;
}

const hex32 = (hex: string) => (hex.startsWith('0x') ? hex : `0x${hex}`);
const hex8 = (hex: string) => (hex.startsWith('0x') ? hex : `0x${hex}`);

const queues = new Map<string, Promise<unknown>>();

/**
 * Runs `send` after every earlier send of the same account has finished. The anchorer and the
 * witness runner sign with the same account; a wallet picks its nonce when it sends, so two
 * transactions sent at once could take the same one.
 */
export function sendInTurn<T>(account: string, send: () => Promise<T>): Promise<T> {
  const key = account.toLowerCase();
  const turn = (queues.get(key) ?? Promise.resolve()).then(send, send);
  const settled = turn.then(
    () => undefined,
    () => undefined,
  );
  queues.set(key, settled);
  void settled.then(() => {
    if (queues.get(key) === settled) queues.delete(key);
  });
  return turn;
}

/**
 * A thin client for the AnchorRegistry over any JSON-RPC EVM node (Hardhat in development,
 * Hyperledger Besu or GoQuorum with QBFT in production). Nothing here assumes Hardhat:
 * the signers are whatever the caller passes. Governed actions are not sent from here: the
 * `calls` build them for the council (anchor/council.ts) to approve, schedule and execute.
 */
export class RegistryClient {
  readonly contract: Contract;
  readonly calls: RegistryCalls;

  constructor(
    readonly provider: JsonRpcProvider,
    readonly address: string,
    readonly anchorer?: Signer,
  ) {
    this.contract = new Contract(address, registryArtifact().abi as never, anchorer ?? provider);
    this.calls = new RegistryCalls(address);
  }

  /**
   * A provider for `url`. Without `chainId` it asks the node for its network on first use and,
   * while the node is down, goes on asking every second (printing a line each time) until it is
   * destroyed: long-lived callers use `connectProvider`, which pins the chain id first.
   */
  static provider(url: string, timeoutMs = 10_000, chainId?: number): JsonRpcProvider {
    const req = new FetchRequest(url);
    // A hung node must fail the call, so the anchorer backs off instead of waiting minutes.
    req.timeout = timeoutMs;
    // A static network stops ethers from polling a node that is down in the background.
    return new JsonRpcProvider(req, chainId === undefined ? undefined : Network.from(chainId), {
      staticNetwork: true,
      batchMaxCount: 1,
    });
  }

  /**
   * A provider for `url` once the node there has answered `eth_chainId` (one plain request, so
   * a node that is down costs one failed request and leaves nothing behind), pinned to that
   * chain id: ethers never probes it in the background. The caller owns it and calls
   * `destroy()` when the connection fails, is replaced, or the service stops.
   * @throws Error naming the endpoint's origin and the cause when it does not answer with a chain id
   */
  static async connectProvider(url: string, timeoutMs = 10_000): Promise<JsonRpcProvider> {
    const origin = (() => {
      try {
        return new URL(url).origin;
      } catch {
        return 'the chain';
      }
    })();
    let body: { result?: unknown };
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      body = (await res.json()) as typeof body;
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      const why = err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err.cause?.code ?? err.message);
      throw new Error(`${origin} did not answer eth_chainId: ${why}`);
    }
    const id = typeof body?.result === 'string' && /^0x[0-9a-fA-F]+$/.test(body.result) ? Number(body.result) : NaN;
    if (!Number.isSafeInteger(id) || id < 1) throw new Error(`${origin} did not answer eth_chainId with a chain id`);
    return RegistryClient.provider(url, timeoutMs, id);
  }

  /** Ends this client's provider: its pending requests fail, and it sends nothing more. */
  close(): void {
    this.provider.destroy();
  }

  /** A wallet from a private key file (hex, 0x-prefixed or not). */
  static walletFromFile(path: string, provider: JsonRpcProvider): Wallet {
    const key = readFileSync(path, 'utf8').trim();
    return new Wallet(key.startsWith('0x') ? key : `0x${key}`, provider);
  }

  /** Deploys a new registry governed by `governor` (an AnchorCouncil's address); `deployer` pays. */
  static async deploy(deployer: Signer, governor: string): Promise<string> {
    const { abi, bytecode } = registryArtifact();
    const c = await new ContractFactory(abi as never, bytecode, deployer).deploy(governor);
    await c.waitForDeployment();
    return c.getAddress();
  }

  async hasCode(): Promise<boolean> {
    return (await this.provider.getCode(this.address)) !== '0x';
  }

  async chainId(): Promise<number> {
    return Number((await this.provider.getNetwork()).chainId);
  }

  /** The governor (`owner()`): the AnchorCouncil whose approved, delayed operations change the registry. */
  async governor(): Promise<string> {
    return (await this.contract.owner()) as string;
  }

  async issuer(issuer: number): Promise<ChainIssuer> {
    const r = (await this.contract.getIssuer(issuer)) as {
      name: string;
      statusListUrl: string;
      anchorer: string;
      registeredAt: bigint;
      suspendedAt: bigint;
    };
    return {
      name: r.name,
      statusListUrl: r.statusListUrl,
      anchorer: r.anchorer,
      registeredAt: Number(r.registeredAt),
      suspendedAt: Number(r.suspendedAt),
    };
  }

  async isRegistered(issuer: number): Promise<boolean> {
    return (await this.issuer(issuer)).registeredAt !== 0;
  }

  async isAnchorer(issuer: number, account: string): Promise<boolean> {
    return (await this.issuer(issuer)).anchorer.toLowerCase() === account.toLowerCase();
  }

  async keys(issuer: number): Promise<ChainKey[]> {
    const raw = (await this.contract.getKeys(issuer)) as Array<{
      kid: string;
      publicKey: string;
      notBefore: bigint;
      notAfter: bigint;
      revokedAt: bigint;
    }>;
    return raw.map((k) => ({
      kid: k.kid,
      publicKey: k.publicKey,
      notBefore: Number(k.notBefore),
      notAfter: Number(k.notAfter),
      revokedAt: Number(k.revokedAt),
    }));
  }

  async latestCheckpoint(issuer: number): Promise<AnchoredCheckpoint | undefined> {
    const n = Number(await this.contract.checkpointCount(issuer));
    if (n === 0) return undefined;
    return this.checkpoint(issuer, n - 1);
  }

  async checkpoint(issuer: number, index: number): Promise<AnchoredCheckpoint> {
    const c = (await this.contract.getCheckpoint(issuer, index)) as {
      treeSize: bigint;
      anchoredAt: bigint;
      root: string;
    };
    return { index, treeSize: Number(c.treeSize), root: c.root.slice(2), anchoredAt: Number(c.anchoredAt) };
  }

  /** The map root of checkpoint `index` and how many witnesses that count cosigned it, of how many required. */
  async attestation(issuer: number, index: number): Promise<ChainAttestation> {
    const [mapRoot, cosigners, threshold] = (await this.contract.getAttestation(issuer, index)) as [
      string,
      bigint,
      bigint,
    ];
    return { mapRoot: mapRoot.slice(2), cosigners: Number(cosigners), threshold: Number(threshold) };
  }

  /** Every account that cosigned checkpoint `index`, whether or not it still counts. */
  async cosigners(issuer: number, index: number): Promise<string[]> {
    return [...((await this.contract.getCosigners(issuer, index)) as string[])];
  }

  async witness(account: string): Promise<ChainWitness> {
    const w = (await this.contract.getWitness(account)) as {
      name: string;
      issuer: bigint;
      number: bigint;
      registeredAt: bigint;
      suspendedAt: bigint;
      revokedAt: bigint;
    };
    return {
      name: w.name,
      issuer: Number(w.issuer),
      number: Number(w.number),
      registeredAt: Number(w.registeredAt),
      suspendedAt: Number(w.suspendedAt),
      revokedAt: Number(w.revokedAt),
    };
  }

  async witnessThreshold(): Promise<number> {
    return Number(await this.contract.witnessThreshold());
  }

  /** The account that signs this client's transactions. */
  async account(): Promise<string> {
    if (!this.anchorer) throw new Error('this registry client has no signer');
    return this.anchorer.getAddress();
  }

  /** Sends `call` from this client's account, in turn with the account's other transactions, and waits for it to be mined. */
  private async send(call: () => Promise<{ wait(): Promise<unknown> }>) {
    const account = await this.account();
    try {
      return (await sendInTurn(account, async () => (await call()).wait())) as {
        hash: string;
        blockNumber: number;
        gasUsed: bigint;
        logs: Array<{ topics: readonly string[]; data: string }>;
      };
    } catch (e) {
      throw refusal(e, this.contract.interface);
    }
  }

  /**
   * Cosigns checkpoint `index` of `issuer` as this client's account, a registered witness that
   * checked (treeSize, root, mapRoot) (FORMAT.md §13.3), and waits for it to be mined.
   * @throws Error whose message names the contract's custom error when the registry refuses it
   */
  async cosign(
    issuer: number,
    index: number,
    treeSize: number,
    rootHex: string,
    mapRootHex: string,
  ): Promise<{ txHash: string; blockNumber: number; gasUsed: number }> {
    const receipt = await this.send(() =>
      this.contract.cosign(issuer, index, treeSize, hex32(rootHex), hex32(mapRootHex)),
    );
    return { txHash: receipt.hash, blockNumber: Number(receipt.blockNumber), gasUsed: Number(receipt.gasUsed) };
  }

  /**
   * Shortens key `kidHex` of `issuer` to end at `notAfter` (the retirement time), as this
   * client's account, the issuer's anchorer: no council is needed to withdraw trust
   * (FORMAT.md §11.3). Waits for it to be mined.
   * @throws Error whose message names the contract's custom error when the registry refuses it
   */
  async retireKey(issuer: number, kidHex: string, notAfter: number): Promise<{ txHash: string; blockNumber: number }> {
    const receipt = await this.send(() => this.contract.retireKey(issuer, hex8(kidHex), notAfter));
    return { txHash: receipt.hash, blockNumber: Number(receipt.blockNumber) };
  }

  /**
   * Submits a checkpoint with its subject heads map root, its consistency proof (empty for the
   * first) and its size proof (FORMAT.md §11.4), and waits for it to be mined.
   * @throws Error whose message names the contract's custom error when the registry refuses it
   */
  async anchor(
    issuer: number,
    treeSize: number,
    rootHex: string,
    mapRootHex: string,
    proofHex: string[],
    sizeProofHex: string[],
  ): Promise<{ index: number; txHash: string; blockNumber: number; gasUsed: number }> {
    const receipt = await this.send(() =>
      this.contract.anchor(
        issuer,
        treeSize,
        hex32(rootHex),
        hex32(mapRootHex),
        proofHex.map(hex32),
        sizeProofHex.map(hex32),
      ),
    );
    let index = -1;
    for (const log of receipt.logs) {
      const parsed = this.contract.interface.parseLog(log);
      if (parsed?.name === 'CheckpointAnchored') index = Number(parsed.args.index);
    }
    if (index < 0) throw new Error('the anchor transaction emitted no CheckpointAnchored event');
    return {
      index,
      txHash: receipt.hash as string,
      blockNumber: Number(receipt.blockNumber),
      gasUsed: Number(receipt.gasUsed),
    };
  }
}

/** The registry's governed functions as calls for the council; hex without 0x is accepted. */
export class RegistryCalls {
  static readonly iface = new Interface(registryArtifact().abi as never);

  constructor(readonly registry: string) {}

  private call(fn: string, args: unknown[]): Call {
    return { target: this.registry, value: 0n, data: RegistryCalls.iface.encodeFunctionData(fn, args) };
  }

  registerIssuer(issuer: number, name: string, statusListUrl: string, anchorer: string): Call {
    return this.call('registerIssuer', [issuer, name, statusListUrl, anchorer]);
  }

  setStatusListUrl(issuer: number, url: string): Call {
    return this.call('setStatusListUrl', [issuer, url]);
  }

  setAnchorer(issuer: number, anchorer: string): Call {
    return this.call('setAnchorer', [issuer, anchorer]);
  }

  suspendIssuer(issuer: number): Call {
    return this.call('suspendIssuer', [issuer]);
  }

  resumeIssuer(issuer: number): Call {
    return this.call('resumeIssuer', [issuer]);
  }

  registerKey(issuer: number, kidHex: string, publicKeyHex: string, notBefore: number, notAfter: number): Call {
    return this.call('registerKey', [issuer, hex8(kidHex), hex32(publicKeyHex), notBefore, notAfter]);
  }

  revokeKey(issuer: number, kidHex: string): Call {
    return this.call('revokeKey', [issuer, hex8(kidHex)]);
  }

  /** `issuer` 0: an auditor's account. */
  registerWitness(account: string, issuer: number, name: string): Call {
    return this.call('registerWitness', [account, issuer, name]);
  }

  suspendWitness(account: string): Call {
    return this.call('suspendWitness', [account]);
  }

  resumeWitness(account: string): Call {
    return this.call('resumeWitness', [account]);
  }

  revokeWitness(account: string): Call {
    return this.call('revokeWitness', [account]);
  }

  setWitnessThreshold(threshold: number): Call {
    return this.call('setWitnessThreshold', [threshold]);
  }

  /** What a call does, in one line (for the governor script): `registerIssuer(330000, "浙江省", …)`. */
  static describe(call: Call): string {
    try {
      const parsed = RegistryCalls.iface.parseTransaction({ data: call.data, value: call.value });
      if (parsed)
        return `${parsed.name}(${parsed.args.map((a) => (typeof a === 'string' && !a.startsWith('0x') ? JSON.stringify(a) : String(a))).join(', ')})`;
    } catch {
      // Not a registry call (e.g. the council's own setMembers): fall through.
    }
    return `${call.target} ${call.data.slice(0, 10)}…`;
  }
}

/**
 * An Error whose message says what the contract refused (`AnchorRegistryIssuerSuspended(320000,
 * 1764300000)`) instead of ethers' generic text; `revert` keeps the decoded name and arguments.
 * A transaction sent through a JSON-RPC signer fails in the node's gas estimate, where ethers
 * does not decode custom errors: the first of `ifaces` that knows the revert data does it (a
 * council's execution reverts with the error of the registry call it ran).
 */
export function refusal(e: unknown, ...ifaces: Interface[]): Error {
  if (!isError(e, 'CALL_EXCEPTION')) return e as Error;
  let revert: { name: string; args: unknown[] } | null = e.revert
    ? { name: e.revert.name, args: [...e.revert.args] }
    : null;
  for (const iface of ifaces) {
    if (revert || typeof e.data !== 'string' || e.data.length < 10) break;
    try {
      const parsed = iface.parseError(e.data);
      if (parsed) revert = { name: parsed.name, args: [...parsed.args] };
    } catch {
      // Not one of this contract's errors: try the next, else keep ethers' message.
    }
  }
  if (!revert) return e;
  const err = new Error(`${revert.name}(${revert.args.map(String).join(', ')})`, { cause: e }) as Error & {
    revert: typeof revert;
  };
  err.revert = revert;
  return err;
}
