import { Contract, JsonRpcProvider } from 'ethers';
import { DevGovernance } from '../../anchor/council';
import { freePort, startDevNode, type DevNode } from '../../anchor/dev-node';
import { registryArtifact } from '../../anchor/registry';

/** The tests' real chain is the same Hardhat node `npm start` runs (anchor/dev-node.ts). */
export type HardhatNode = DevNode;
export const startHardhatNode = (): Promise<HardhatNode> => startDevNode();
export const findFreePort = freePort;

export interface DeployedRegistry {
  address: string;
  /** The development council that governs it: `governance.enact(calls)` approves, waits out the delay and executes. */
  governance: DevGovernance;
  provider: JsonRpcProvider;
  /** The registry, read-only (connect a signer to anchor). */
  contract: Contract;
}

/**
 * Deploys the development council (anchor/council.ts) and an AnchorRegistry it governs, from
 * node-managed account 0. No private keys here: the node signs for its own accounts.
 * @example const { address, governance } = await deployRegistry(node.url);
 */
export async function deployRegistry(url: string): Promise<DeployedRegistry> {
  // Polling every 4 s (the default) would slow every wait() on a node that mines instantly.
  const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval: 50, cacheTimeout: -1 });
  const governance = await DevGovernance.deploy(provider);
  return {
    address: governance.registry,
    governance,
    provider,
    contract: new Contract(governance.registry, registryArtifact().abi as never, provider),
  };
}
