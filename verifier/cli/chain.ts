import { connectRegistry as connectReader, httpOrigin, isAddress, type RegistryReader } from '../src/registry-reader';
import { usageError } from './io';

export type { AnchoringLog, ChainCheckpoint, RegistryReader } from '../src/registry-reader';

/**
 * Checks `--rpc` and `--contract`, then connects to the registry (src/registry-reader.ts). A
 * chain that fails the reader later throws RegistryReadError, which run.ts ends with exit 2.
 * @throws CliError USAGE for a URL that is not http(s) or an address that is not 20 bytes of hex
 * @throws RegistryReadError CHAIN_UNREACHABLE when the endpoint does not answer eth_chainId
 */
export async function connectRegistry(rpc: string, address: string): Promise<RegistryReader> {
  if (!httpOrigin(rpc))
    throw usageError(URL.canParse(rpc) ? '--rpc must be an http(s) URL' : `--rpc must be an http(s) URL, not "${rpc}"`);
  if (!isAddress(address)) throw usageError('--contract must be a 0x-prefixed 20-byte address');
  return connectReader(rpc, address);
}
