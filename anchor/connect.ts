import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writePrivateFile } from '../ledger/private-file';
import type { Logger } from '../ledger/log';
import { DevGovernance } from './council';
import type { JsonRpcProvider } from 'ethers';
import { RegistryClient, type Call } from './registry';

/** An issuer key as the registry records it (the service's issuer key records have this shape). */
export interface ChainKey {
  /** base64url */
  kid: string;
  /** Raw Ed25519 public key, base64url. */
  x: string;
  notBefore: number;
  notAfter: number;
  /** Set when a newer key took over; the registry's notAfter is shortened to it. */
  retiredAt?: number;
  /** Set once the key was revoked (a revoked key is never shortened). */
  revokedAt?: number;
}

export interface ChainSettings {
  rpcUrl: string;
  /** Registry address; in development a missing one is deployed and remembered in DATA_DIR/chain.json. */
  contract?: string;
  /** File holding the anchorer's private key (production). */
  anchorerKeyFile?: string;
  /** Development chain: the development council's node accounts (anchor/council.ts) govern, `devAnchorerAccount` anchors; deploys and registers itself. */
  dev: boolean;
  devAnchorerAccount?: number;
  dataDir: string;
  issuer: string;
  issuerName: string;
  statusListUrl: string;
  keys: () => ChainKey[];
  /** Whether this service witnesses other issuers: in development the council registers its anchorer account as a witness too. */
  witness?: boolean;
  log: Logger;
}

const kidHex = (kid: string) => Buffer.from(kid, 'base64url').toString('hex');
const keyHex = (x: string) => Buffer.from(x, 'base64url').toString('hex');

/**
 * Opens a session with the AnchorRegistry. In development it deploys the development council
 * and a registry it governs when the chain has none (a fresh Hardhat node), and has the council
 * register this issuer, its anchorer and its keys: approved by two of the council's node
 * accounts, scheduled, and executed after the one-second delay (anchor/council.ts). In
 * production the council does that; this only checks it was done and says what is missing.
 */
export async function connectRegistry(s: ChainSettings): Promise<RegistryClient> {
  // One provider per connection: a failed one is destroyed here, a returned one by its owner (client.close()).
  const provider = await RegistryClient.connectProvider(s.rpcUrl);
  try {
    return await openSession(provider, s);
  } catch (e) {
    provider.destroy();
    throw e;
  }
}

async function openSession(provider: JsonRpcProvider, s: ChainSettings): Promise<RegistryClient> {
  const issuer = Number(s.issuer);
  if (!s.dev) {
    if (!s.contract) throw new Error('ANCHOR_CONTRACT is not set');
    if (!s.anchorerKeyFile) throw new Error('ANCHOR_KEY_FILE is not set');
    const wallet = RegistryClient.walletFromFile(s.anchorerKeyFile, provider);
    const client = new RegistryClient(provider, s.contract, wallet);
    if (!(await client.hasCode())) throw new Error(`no contract at ${s.contract}`);
    const record = await client.issuer(issuer);
    if (!record.registeredAt)
      throw new Error(
        `issuer ${s.issuer} is not registered: the council must approve registerIssuer (npm run governor -- register-issuer)`,
      );
    if (record.anchorer.toLowerCase() !== wallet.address.toLowerCase()) {
      throw new Error(
        `${wallet.address} is not the anchorer of ${s.issuer} (${record.anchorer} is): the council must approve setAnchorer (npm run governor -- set-anchorer)`,
      );
    }
    await retireOnChain(client, issuer, s);
    return client;
  }
  const anchorer = await provider.getSigner(s.devAnchorerAccount ?? 1);
  const statePath = join(s.dataDir, 'chain.json');
  const chainId = Number((await provider.getNetwork()).chainId);
  let address = s.contract;
  if (!address && existsSync(statePath)) {
    const saved = JSON.parse(readFileSync(statePath, 'utf8')) as { contract: string; chainId: number };
    if (saved.chainId === chainId) address = saved.contract;
  }
  let governance: DevGovernance | undefined;
  if (address && (await provider.getCode(address)) !== '0x') {
    try {
      governance = await DevGovernance.attach(provider, address);
      // A registry from before map roots and witnesses has no witnessThreshold(): it would refuse every anchor.
      await new RegistryClient(provider, address).witnessThreshold().catch((e: Error) => {
        throw new Error(`the registry ${address} predates map roots and witnesses (${e.message.slice(0, 80)})`);
      });
    } catch (e) {
      // ANCHOR_CONTRACT names the registry to use: say what is wrong with it. One remembered
      // in chain.json may predate the council (no owner()) or the witnesses; a new one is deployed instead.
      if (s.contract) throw e;
      s.log.warn('anchor: the remembered registry is not governed by the development council; deploying a new one', {
        contract: address,
        error: (e as Error).message.slice(0, 200),
      });
    }
  }
  if (!governance) {
    governance = await DevGovernance.deploy(provider);
    address = governance.registry;
    writePrivateFile(
      statePath,
      JSON.stringify({ contract: address, council: governance.council, chainId }, null, 2) + '\n',
    );
    s.log.info('anchor: deployed the development council and an AnchorRegistry it governs on a development chain', {
      contract: address,
      council: governance.council,
      chainId,
    });
  }
  const client = new RegistryClient(provider, governance.registry, anchorer);
  const anchorerAddress = await anchorer.getAddress();
  const record = await client.issuer(issuer);
  const calls: Call[] = [];
  if (!record.registeredAt)
    calls.push(client.calls.registerIssuer(issuer, s.issuerName, s.statusListUrl, anchorerAddress));
  else if (record.anchorer.toLowerCase() !== anchorerAddress.toLowerCase())
    calls.push(client.calls.setAnchorer(issuer, anchorerAddress));
  const onChain = new Set(record.registeredAt ? (await client.keys(issuer)).map((k) => k.kid.slice(2)) : []);
  for (const k of s.keys()) {
    if (!onChain.has(kidHex(k.kid)))
      calls.push(client.calls.registerKey(issuer, kidHex(k.kid), keyHex(k.x), k.notBefore, k.notAfter));
  }
  if (s.witness && !(await client.witness(anchorerAddress)).registeredAt)
    calls.push(client.calls.registerWitness(anchorerAddress, issuer, s.issuerName));
  if (calls.length) {
    await governance.enact(calls);
    s.log.info("anchor: the development council registered this issuer's changes", { actions: calls.length });
  }
  await retireOnChain(client, issuer, s);
  return client;
}

/**
 * Brings the registry into line with the keys this issuer retired (issue 14): for each one the
 * registry still holds, unrevoked, with a `notAfter` later than the retirement, the anchorer
 * sends `retireKey`, so that trust lists built from the chain refuse codes the key claims to
 * have signed after it retired, as this issuer's own list does. Runs at every connection, and a
 * rotation reconnects at once, so the chain agrees within one anchoring round; a refusal fails
 * the connection, which is retried with the anchorer's backoff.
 */
async function retireOnChain(client: RegistryClient, issuer: number, s: ChainSettings): Promise<void> {
  const retired = s.keys().filter((k) => k.retiredAt !== undefined && k.revokedAt === undefined);
  if (!retired.length) return;
  const onChain = new Map((await client.keys(issuer)).map((k) => [k.kid.slice(2), k]));
  for (const k of retired) {
    const chain = onChain.get(kidHex(k.kid));
    if (!chain || chain.revokedAt !== 0) continue;
    // The registry keeps notBefore < notAfter: a key retired the second its registered window
    // opened keeps that one second on chain.
    const notAfter = Math.max(k.notAfter, chain.notBefore + 1);
    if (chain.notAfter <= notAfter) continue;
    const sent = await client.retireKey(issuer, kidHex(k.kid), notAfter);
    s.log.info('anchor: a retired key of ours was shortened on chain to its retirement', {
      kid: k.kid,
      notAfter: new Date(notAfter * 1000).toISOString(),
      was: new Date(chain.notAfter * 1000).toISOString(),
      txHash: sent.txHash,
    });
  }
}
