import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writePrivateFile } from '../server/crypto/secrets';
import type { IssuerKeyRecord } from '../server/issuer/keys';
import type { Logger } from '../server/http/log';
import { RegistryClient } from './registry';

export interface ChainSettings {
  rpcUrl: string;
  /** Registry address; in development a missing one is deployed and remembered in DATA_DIR/chain.json. */
  contract?: string;
  /** File holding the anchorer's private key (production). */
  anchorerKeyFile?: string;
  /** Development chain: node-managed accounts 0 (governor) and `devAnchorerAccount` (anchorer); deploys and registers itself. */
  dev: boolean;
  devAnchorerAccount?: number;
  dataDir: string;
  issuer: string;
  issuerName: string;
  statusListUrl: string;
  keys: () => IssuerKeyRecord[];
  log: Logger;
}

const kidHex = (kid: string) => Buffer.from(kid, 'base64url').toString('hex');
const keyHex = (x: string) => Buffer.from(x, 'base64url').toString('hex');

/**
 * Opens a session with the AnchorRegistry. In development it deploys the registry when the
 * chain has none (a fresh Hardhat node), registers this issuer, its anchorer and its keys.
 * In production the governor does that; this only checks it was done and says what is missing.
 */
export async function connectRegistry(s: ChainSettings): Promise<RegistryClient> {
  const provider = RegistryClient.provider(s.rpcUrl);
  const issuer = Number(s.issuer);
  if (!s.dev) {
    if (!s.contract) throw new Error('ANCHOR_CONTRACT is not set');
    if (!s.anchorerKeyFile) throw new Error('ANCHOR_KEY_FILE is not set');
    const wallet = RegistryClient.walletFromFile(s.anchorerKeyFile, provider);
    const client = new RegistryClient(provider, s.contract, wallet);
    if (!(await client.hasCode())) throw new Error(`no contract at ${s.contract}`);
    if (!(await client.isRegistered(issuer))) throw new Error(`issuer ${s.issuer} is not registered: the governor must call registerIssuer`);
    if (!(await client.isAnchorer(issuer, wallet.address))) throw new Error(`${wallet.address} is not an anchorer of ${s.issuer}: the governor must call addAnchorer`);
    return client;
  }
  const governor = await provider.getSigner(0);
  const anchorer = await provider.getSigner(s.devAnchorerAccount ?? 1);
  const statePath = join(s.dataDir, 'chain.json');
  const chainId = Number((await provider.getNetwork()).chainId);
  let address = s.contract;
  if (!address && existsSync(statePath)) {
    const saved = JSON.parse(readFileSync(statePath, 'utf8')) as { contract: string; chainId: number };
    if (saved.chainId === chainId) address = saved.contract;
  }
  if (!address || (await provider.getCode(address)) === '0x') {
    address = await RegistryClient.deploy(governor);
    writePrivateFile(statePath, JSON.stringify({ contract: address, chainId }, null, 2) + '\n');
    s.log.info('anchor: deployed AnchorRegistry on a fresh development chain', { contract: address, chainId });
  }
  const client = new RegistryClient(provider, address, anchorer, governor);
  const anchorerAddress = await anchorer.getAddress();
  if (!(await client.isRegistered(issuer))) await client.registerIssuer(issuer, s.issuerName, s.statusListUrl, [anchorerAddress]);
  else if (!(await client.isAnchorer(issuer, anchorerAddress))) await client.addAnchorer(issuer, anchorerAddress);
  const onChain = new Set((await client.keys(issuer)).map((k) => k.kid.slice(2)));
  for (const k of s.keys()) {
    if (!onChain.has(kidHex(k.kid))) await client.registerKey(issuer, kidHex(k.kid), keyHex(k.x), k.notBefore, k.notAfter);
  }
  return client;
}
