import { Contract, JsonRpcProvider, type JsonRpcSigner } from 'ethers';
import { freePort, startDevNode, type DevNode } from '../../anchor/dev-node';
import { RegistryClient, registryArtifact } from '../../anchor/registry';

/** The tests' real chain is the same Hardhat node `npm start` runs (anchor/dev-node.ts). */
export type HardhatNode = DevNode;
export const startHardhatNode = (): Promise<HardhatNode> => startDevNode();
export const findFreePort = freePort;

export interface DeployedRegistry {
  address: string;
  /** The deployer, node-managed account 0, which holds GOVERNOR_ROLE. */
  governor: JsonRpcSigner;
  contract: Contract;
}

/**
 * Deploys AnchorRegistry with node-managed account 0, which becomes its governor. No
 * private keys here: the node signs for its own accounts.
 * @example const { address, contract } = await deployRegistry(node.url);
 */
export async function deployRegistry(url: string): Promise<DeployedRegistry> {
  // Polling every 4 s (the default) would slow every wait() on a node that mines instantly.
  const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval: 50, cacheTimeout: -1 });
  const governor = await provider.getSigner(0);
  const address = await RegistryClient.deploy(governor);
  return { address, governor, contract: new Contract(address, registryArtifact().abi as never, governor) };
}
