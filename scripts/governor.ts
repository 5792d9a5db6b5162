/**
 * `npm run governor -- <command>`: what the consortium's governor does on chain. Signs
 * with the key in GOVERNOR_KEY_FILE, or with the node's own account 0 when --dev is given
 * (a development Hardhat node). Run with no command for help.
 */
import { parseArgs } from 'node:util';
import { getAddress } from 'ethers';
import { RegistryClient } from '../anchor/registry';
import { trustListFromRegistry, type TrustListJson } from '../verifier/src';
import { connectRegistry as readRegistry } from '../verifier/cli/chain';

const HELP = `Usage: npm run governor -- <command> --rpc <url> [--contract <address>] [--dev]

Commands:
  deploy                                        deploy a new AnchorRegistry (the signer becomes governor)
  register-issuer <region> <name> <status-list-url> <anchorer-address>...
  add-anchorer <region> <address>
  register-keys <region> <trust-list-url>       register every key the issuer's /v1/trust-list publishes
  revoke-key <region> <kid>                     kid as in the trust list (base64url)
  list                                          print the trust list the registry defines

Signer: GOVERNOR_KEY_FILE (a hex private key, mode 0600), or --dev for node account 0.`;

const b64ToHex = (s: string) => Buffer.from(s, 'base64url').toString('hex');

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { rpc: { type: 'string' }, contract: { type: 'string' }, dev: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  const [command, ...args] = positionals;
  if (!command || values.help) {
    process.stdout.write(HELP + '\n');
    return;
  }
  if (!values.rpc) throw new Error('--rpc is required');
  const provider = RegistryClient.provider(values.rpc);
  const governor = values.dev ? await provider.getSigner(0) : process.env.GOVERNOR_KEY_FILE ? RegistryClient.walletFromFile(process.env.GOVERNOR_KEY_FILE, provider) : undefined;
  if (command === 'list') {
    const r = await readRegistry(values.rpc, need(values.contract, '--contract'));
    const list: TrustListJson = trustListFromRegistry(await r.readIssuers(), Date.now() / 1000);
    r.close();
    process.stdout.write(JSON.stringify(list, null, 2) + '\n');
    return;
  }
  if (!governor) throw new Error('set GOVERNOR_KEY_FILE or pass --dev');
  if (command === 'deploy') {
    process.stdout.write(`AnchorRegistry deployed at ${await RegistryClient.deploy(governor)}\n`);
    return;
  }
  const registry = new RegistryClient(provider, need(values.contract, '--contract'), undefined, governor);
  const region = Number(need(args[0], '<region>'));
  switch (command) {
    case 'register-issuer': {
      const [, name, url, ...anchorers] = args;
      await registry.registerIssuer(region, need(name, '<name>'), need(url, '<status-list-url>'), anchorers.map(address));
      process.stdout.write(`registered ${region} ${name} with ${anchorers.length} anchorer(s)\n`);
      return;
    }
    case 'add-anchorer':
      await registry.addAnchorer(region, address(need(args[1], '<address>')));
      process.stdout.write(`added anchorer ${args[1]} to ${region}\n`);
      return;
    case 'register-keys': {
      const list = (await (await fetch(need(args[1], '<trust-list-url>'))).json()) as TrustListJson;
      const own = list.issuers.find((i) => i.id === String(region));
      if (!own) throw new Error(`${args[1]} lists no issuer ${region}`);
      const onChain = new Set((await registry.keys(region)).map((k) => k.kid.slice(2)));
      for (const k of own.keys) {
        if (onChain.has(b64ToHex(k.kid))) continue;
        await registry.registerKey(region, b64ToHex(k.kid), b64ToHex(k.x), Math.floor(Date.parse(k.notBefore) / 1000), Math.floor(Date.parse(k.notAfter) / 1000));
        process.stdout.write(`registered key ${k.kid} of ${region}\n`);
      }
      return;
    }
    case 'revoke-key':
      await registry.revokeKey(region, b64ToHex(need(args[1], '<kid>')));
      process.stdout.write(`revoked key ${args[1]} of ${region}\n`);
      return;
    default:
      throw new Error(`unknown command ${command}\n\n${HELP}`);
  }
}

/** Accepts an address in any letter case (checksums are for people, not for this tool). */
function address(a: string): string {
  return getAddress(a.toLowerCase());
}

function need(v: string | undefined, what: string): string {
  if (!v) throw new Error(`${what} is required`);
  return v;
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(2);
});
