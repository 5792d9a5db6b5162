import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Contract, ContractFactory, FetchRequest, Interface, isError, JsonRpcProvider, Wallet, type Signer } from 'ethers';

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

/** One call of a governed operation: what the council approves, schedules and executes. */
export interface Call {
  target: string;
  value: bigint;
  data: string;
}

const hex32 = (hex: string) => (hex.startsWith('0x') ? hex : `0x${hex}`);
const hex8 = (hex: string) => (hex.startsWith('0x') ? hex : `0x${hex}`);

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

  static provider(url: string, timeoutMs = 10_000): JsonRpcProvider {
    const req = new FetchRequest(url);
    // A hung node must fail the call, so the anchorer backs off instead of waiting minutes.
    req.timeout = timeoutMs;
    // A static network stops ethers from polling a node that is down in the background.
    return new JsonRpcProvider(req, undefined, { staticNetwork: true, batchMaxCount: 1 });
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
    const r = (await this.contract.getIssuer(issuer)) as { name: string; statusListUrl: string; anchorer: string; registeredAt: bigint; suspendedAt: bigint };
    return { name: r.name, statusListUrl: r.statusListUrl, anchorer: r.anchorer, registeredAt: Number(r.registeredAt), suspendedAt: Number(r.suspendedAt) };
  }

  async isRegistered(issuer: number): Promise<boolean> {
    return (await this.issuer(issuer)).registeredAt !== 0;
  }

  async isAnchorer(issuer: number, account: string): Promise<boolean> {
    return (await this.issuer(issuer)).anchorer.toLowerCase() === account.toLowerCase();
  }

  async keys(issuer: number): Promise<ChainKey[]> {
    const raw = (await this.contract.getKeys(issuer)) as Array<{ kid: string; publicKey: string; notBefore: bigint; notAfter: bigint; revokedAt: bigint }>;
    return raw.map((k) => ({ kid: k.kid, publicKey: k.publicKey, notBefore: Number(k.notBefore), notAfter: Number(k.notAfter), revokedAt: Number(k.revokedAt) }));
  }

  async latestCheckpoint(issuer: number): Promise<AnchoredCheckpoint | undefined> {
    const n = Number(await this.contract.checkpointCount(issuer));
    if (n === 0) return undefined;
    return this.checkpoint(issuer, n - 1);
  }

  async checkpoint(issuer: number, index: number): Promise<AnchoredCheckpoint> {
    const c = (await this.contract.getCheckpoint(issuer, index)) as { treeSize: bigint; anchoredAt: bigint; root: string };
    return { index, treeSize: Number(c.treeSize), root: c.root.slice(2), anchoredAt: Number(c.anchoredAt) };
  }

  /**
   * Submits a checkpoint with its consistency proof (empty for the first) and its size proof
   * (FORMAT.md §11.4), and waits for it to be mined.
   * @throws Error whose message names the contract's custom error when the registry refuses it
   */
  async anchor(
    issuer: number,
    treeSize: number,
    rootHex: string,
    proofHex: string[],
    sizeProofHex: string[],
  ): Promise<{ index: number; txHash: string; blockNumber: number; gasUsed: number }> {
    let receipt;
    try {
      const tx = await this.contract.anchor(issuer, treeSize, hex32(rootHex), proofHex.map(hex32), sizeProofHex.map(hex32));
      receipt = await tx.wait();
    } catch (e) {
      throw refusal(e, this.contract.interface);
    }
    let index = -1;
    for (const log of receipt.logs) {
      const parsed = this.contract.interface.parseLog(log);
      if (parsed?.name === 'CheckpointAnchored') index = Number(parsed.args.index);
    }
    if (index < 0) throw new Error('the anchor transaction emitted no CheckpointAnchored event');
    return { index, txHash: receipt.hash as string, blockNumber: Number(receipt.blockNumber), gasUsed: Number(receipt.gasUsed) };
  }
}

/** The registry's governed functions as calls for the council; hex without 0x is accepted. */
export class RegistryCalls {
  private static readonly iface = new Interface(registryArtifact().abi as never);

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

  /** What a call does, in one line (for the governor script): `registerIssuer(330000, "浙江省", …)`. */
  static describe(call: Call): string {
    try {
      const parsed = RegistryCalls.iface.parseTransaction({ data: call.data, value: call.value });
      if (parsed) return `${parsed.name}(${parsed.args.map((a) => (typeof a === 'string' && !a.startsWith('0x') ? JSON.stringify(a) : String(a))).join(', ')})`;
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
 * does not decode custom errors: `iface` does it from the revert data.
 */
export function refusal(e: unknown, iface: Interface): Error {
  if (!isError(e, 'CALL_EXCEPTION')) return e as Error;
  let revert: { name: string; args: unknown[] } | null = e.revert ? { name: e.revert.name, args: [...e.revert.args] } : null;
  if (!revert && typeof e.data === 'string' && e.data.length >= 10) {
    try {
      const parsed = iface.parseError(e.data);
      if (parsed) revert = { name: parsed.name, args: [...parsed.args] };
    } catch {
      // Not one of this contract's errors: keep ethers' message.
    }
  }
  if (!revert) return e;
  const err = new Error(`${revert.name}(${revert.args.map(String).join(', ')})`, { cause: e }) as Error & { revert: typeof revert };
  err.revert = revert;
  return err;
}
