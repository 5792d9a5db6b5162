import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Contract, ContractFactory, FetchRequest, JsonRpcProvider, Wallet, type Signer } from 'ethers';

/** The compiled AnchorRegistry (from `hardhat compile`; npm start and npm test compile first). */
export function registryArtifact(root = join(__dirname, '..')): { abi: unknown[]; bytecode: string } {
  const path = join(root, 'artifacts/contracts/AnchorRegistry.sol/AnchorRegistry.json');
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as { abi: unknown[]; bytecode: string };
  } catch {
    throw new Error(`${path} is missing: run "npx hardhat compile" first`);
  }
}

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

const hex32 = (hex: string) => (hex.startsWith('0x') ? hex : `0x${hex}`);

/**
 * A thin client for the AnchorRegistry over any JSON-RPC EVM node (Hardhat in development,
 * Hyperledger Besu or GoQuorum with QBFT in production). Nothing here assumes Hardhat:
 * the signers are whatever the caller passes.
 */
export class RegistryClient {
  readonly contract: Contract;

  constructor(
    readonly provider: JsonRpcProvider,
    readonly address: string,
    readonly anchorer?: Signer,
    readonly governor?: Signer,
  ) {
    this.contract = new Contract(address, registryArtifact().abi as never, anchorer ?? provider);
  }

  static provider(url: string, timeoutMs = 10_000): JsonRpcProvider {
    const req = new FetchRequest(url);
    // A hung node must fail the call, so the anchorer backs off instead of waiting minutes.
    req.timeout = timeoutMs;
    // A static network stops ethers from polling a node that is down in the background.
    return new JsonRpcProvider(req, undefined, { staticNetwork: true, batchMaxCount: 1 });
  }

  /** An anchorer wallet from a private key file (hex, 0x-prefixed or not). */
  static walletFromFile(path: string, provider: JsonRpcProvider): Wallet {
    const key = readFileSync(path, 'utf8').trim();
    return new Wallet(key.startsWith('0x') ? key : `0x${key}`, provider);
  }

  /** Deploys a new registry with `governor` as governor (development chains). */
  static async deploy(governor: Signer): Promise<string> {
    const { abi, bytecode } = registryArtifact();
    const c = await new ContractFactory(abi as never, bytecode, governor).deploy();
    await c.waitForDeployment();
    return c.getAddress();
  }

  async hasCode(): Promise<boolean> {
    return (await this.provider.getCode(this.address)) !== '0x';
  }

  async chainId(): Promise<number> {
    return Number((await this.provider.getNetwork()).chainId);
  }

  async isRegistered(issuer: number): Promise<boolean> {
    const [, , registered] = (await this.contract.getIssuer(issuer)) as [string, string, boolean];
    return registered;
  }

  async isAnchorer(issuer: number, account: string): Promise<boolean> {
    return (await this.contract.hasRole(await this.contract.anchorerRole(issuer), account)) as boolean;
  }

  private asGovernor(): Contract {
    if (!this.governor) throw new Error('this action needs the governor account');
    return this.contract.connect(this.governor) as Contract;
  }

  async registerIssuer(issuer: number, name: string, statusListUrl: string, anchorers: string[]): Promise<void> {
    await (await this.asGovernor().registerIssuer(issuer, name, statusListUrl, anchorers)).wait();
  }

  async addAnchorer(issuer: number, account: string): Promise<void> {
    await (await this.asGovernor().addAnchorer(issuer, account)).wait();
  }

  async setStatusListUrl(issuer: number, url: string): Promise<void> {
    await (await this.asGovernor().setStatusListUrl(issuer, url)).wait();
  }

  async registerKey(issuer: number, kidHex: string, publicKeyHex: string, notBefore: number, notAfter: number): Promise<void> {
    await (await this.asGovernor().registerKey(issuer, `0x${kidHex}`, hex32(publicKeyHex), notBefore, notAfter)).wait();
  }

  async revokeKey(issuer: number, kidHex: string): Promise<void> {
    await (await this.asGovernor().revokeKey(issuer, `0x${kidHex}`)).wait();
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

  /** Submits a checkpoint and waits for it to be mined. */
  async anchor(issuer: number, treeSize: number, rootHex: string, proofHex: string[]): Promise<{ index: number; txHash: string; blockNumber: number; gasUsed: number }> {
    const tx = await this.contract.anchor(issuer, treeSize, hex32(rootHex), proofHex.map(hex32));
    const receipt = await tx.wait();
    let index = -1;
    for (const log of receipt.logs) {
      const parsed = this.contract.interface.parseLog(log);
      if (parsed?.name === 'CheckpointAnchored') index = Number(parsed.args.index);
    }
    if (index < 0) throw new Error('the anchor transaction emitted no CheckpointAnchored event');
    return { index, txHash: receipt.hash as string, blockNumber: Number(receipt.blockNumber), gasUsed: Number(receipt.gasUsed) };
  }
}
