/**
 * `npm run governor -- <command>`: what the consortium's council does on chain. An action
 * (registering an issuer, a key, …) is proposed by one member, approved by as many members as
 * the council's threshold, which schedules it on the council's timelock, and executed by anyone
 * once the delay has passed. Signs with the key in GOVERNOR_KEY_FILE, or with a development
 * node's own account with --dev. Run with no command for help.
 */
import { parseArgs } from 'node:util';
import { getAddress, type JsonRpcProvider, type Signer } from 'ethers';
import { CouncilClient, DEV_COUNCIL, PRODUCTION_MIN_DELAY_SECONDS, type Operation } from '../anchor/council';
import { RegistryCalls, RegistryClient, type Call } from '../anchor/registry';
import { trustListFromRegistry, type TrustListJson } from '../verifier/src';
import { connectRegistry as readRegistry } from '../verifier/src/registry-reader';

const HELP = `Usage: npm run governor -- <command> --rpc <url> [--contract <registry address>] [signer]

Deploying:
  deploy --members <address,address,…> --threshold <k> [--delay <seconds>]
      deploy an AnchorCouncil (k of the members approve every action; actions wait
      --delay seconds, default ${PRODUCTION_MIN_DELAY_SECONDS} = one day) and an AnchorRegistry it governs

Proposing an action (your approval is the first):
  register-issuer <region> <name> <status-list-url> <anchorer-address>
  set-anchorer <region> <address>            replace the issuer's anchorer
  set-status-list-url <region> <url>
  register-keys <region> <trust-list-url>    every key the issuer's /v1/trust-list publishes that the registry lacks
  revoke-key <region> <kid>                  kid as in the trust list (base64url)
  suspend <region>                           refuse its checkpoints; verifiers stop trusting its keys
  resume <region>
  register-witness <address> <region|0> <name>
                                             an account that cosigns other issuers' checkpoints:
                                             an issuer's (its anchorer, say) or an auditor's (0)
  suspend-witness <address>                  its cosignatures count for nothing until resumed
  resume-witness <address>
  revoke-witness <address>                   for good, past cosignatures included
  witness-threshold <k>                      how many witnesses make a checkpoint cosigned

Acting on a proposed action (by its operation id):
  approve <id>      approve it; the approval that reaches the threshold schedules it
  execute <id>      run it once scheduled and its delay has passed (anyone may)
  cancel <id>       approve cancelling it while scheduled; the threshold's worth cancel it for good

Reading:
  pending           every proposed action with its state and approvals
  list              print the trust list the registry defines (suspended issuers left out)

Signer: GOVERNOR_KEY_FILE (a council member's hex private key, mode 0600), or --dev [--account <i>]
for a development node's account i (default 0; the development council is accounts ${DEV_COUNCIL.accounts.join(', ')},
${DEV_COUNCIL.threshold} of whom approve, with a ${DEV_COUNCIL.minDelaySeconds}-second delay).`;

const b64ToHex = (s: string) => Buffer.from(s, 'base64url').toString('hex');

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      rpc: { type: 'string' },
      contract: { type: 'string' },
      dev: { type: 'boolean' },
      account: { type: 'string' },
      members: { type: 'string' },
      threshold: { type: 'string' },
      delay: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...args] = positionals;
  if (!command || values.help) {
    process.stdout.write(HELP + '\n');
    return;
  }
  if (!values.rpc) throw new Error('--rpc is required');
  const provider = RegistryClient.provider(values.rpc);
  const signer = await signerFrom(provider, values.dev, values.account);
  const again = (cmd: string) => `npm run governor -- ${cmd} --rpc ${values.rpc} --contract ${values.contract}`;

  if (command === 'list') {
    const r = await readRegistry(values.rpc, need(values.contract, '--contract'));
    const list: TrustListJson = trustListFromRegistry(await r.readIssuers(), Date.now() / 1000);
    r.close();
    process.stdout.write(JSON.stringify(list, null, 2) + '\n');
    return;
  }
  if (command === 'deploy') {
    if (!signer) throw new Error('set GOVERNOR_KEY_FILE or pass --dev');
    const members = need(values.members, '--members').split(',').map(address);
    const threshold = Number(need(values.threshold, '--threshold'));
    const minDelaySeconds = values.delay === undefined ? PRODUCTION_MIN_DELAY_SECONDS : Number(values.delay);
    const council = await CouncilClient.deploy(signer, { members, threshold, minDelaySeconds });
    const registry = await RegistryClient.deploy(signer, council);
    process.stdout.write(
      `AnchorCouncil deployed at ${council}: ${threshold} of ${members.length} members approve, actions wait ${minDelaySeconds} s\n` +
        `AnchorRegistry deployed at ${registry}, governed by that council\n`,
    );
    return;
  }

  const registry = new RegistryClient(provider, need(values.contract, '--contract'));
  const council = new CouncilClient(provider, await registry.governor(), signer);

  if (command === 'pending') {
    const proposals = await council.proposals();
    if (!proposals.length) process.stdout.write('no actions proposed to this council\n');
    for (const op of proposals) {
      const s = await council.state(op.id);
      const when = s.state === 'waiting' || s.state === 'ready' ? `, executable from ${iso(s.readyAt)}` : '';
      const count = s.state === 'proposed' ? ` (${s.approvals} of ${s.threshold} approvals)` : '';
      process.stdout.write(
        `${op.id} ${s.state}${count}${when}\n${op.calls.map((c) => `    ${RegistryCalls.describe(c)}\n`).join('')}`,
      );
    }
    return;
  }
  if (command === 'approve' || command === 'execute' || command === 'cancel') {
    const id = need(args[0], '<id>');
    const op = await council.find(id);
    if (!op) throw new Error(`nobody proposed an operation ${id} to the council ${council.address}`);
    if (!signer) throw new Error('set GOVERNOR_KEY_FILE or pass --dev');
    if (command === 'approve') return report(await council.approve(op), op, again);
    if (command === 'execute') {
      const s = await council.state(id);
      if (s.state === 'proposed')
        throw new Error(`${id} has ${s.approvals} of ${s.threshold} approvals: it is not scheduled yet`);
      if (s.state === 'waiting') throw new Error(`${id} is scheduled but not executable before ${iso(s.readyAt)}`);
      if (s.state === 'cancelled' || s.state === 'done') throw new Error(`${id} is ${s.state}`);
      const r = await council.execute(op);
      process.stdout.write(`executed ${id} in block ${r.blockNumber} (${r.txHash}):\n${describe(op)}`);
      return;
    }
    const r = await council.approveCancel(id);
    process.stdout.write(
      r.cancelled ? `cancelled ${id} for good\n` : `approved cancelling ${id} (${r.approvals} of ${r.threshold})\n`,
    );
    return;
  }

  if (!signer) throw new Error('set GOVERNOR_KEY_FILE or pass --dev');
  const calls = await proposal(command, args, registry);
  if (!calls.length) {
    process.stdout.write('nothing to propose: the registry already has it\n');
    return;
  }
  const op = CouncilClient.operation(calls);
  process.stdout.write(`proposed operation ${op.id}:\n${describe(op)}`);
  report(await council.approve(op), op, again);
}

/** The registry calls a proposing command stands for. */
async function proposal(command: string, args: string[], registry: RegistryClient): Promise<Call[]> {
  const c = registry.calls;
  switch (command) {
    case 'register-witness': {
      const [account, region, name] = args;
      return [
        c.registerWitness(
          address(need(account, '<address>')),
          Number(need(region, '<region|0>')),
          need(name, '<name>'),
        ),
      ];
    }
    case 'suspend-witness':
      return [c.suspendWitness(address(need(args[0], '<address>')))];
    case 'resume-witness':
      return [c.resumeWitness(address(need(args[0], '<address>')))];
    case 'revoke-witness':
      return [c.revokeWitness(address(need(args[0], '<address>')))];
    case 'witness-threshold':
      return [c.setWitnessThreshold(Number(need(args[0], '<k>')))];
  }
  const region = Number(need(args[0], '<region>'));
  switch (command) {
    case 'register-issuer': {
      const [, name, url, anchorer] = args;
      return [
        c.registerIssuer(
          region,
          need(name, '<name>'),
          need(url, '<status-list-url>'),
          address(need(anchorer, '<anchorer-address>')),
        ),
      ];
    }
    case 'set-anchorer':
      return [c.setAnchorer(region, address(need(args[1], '<address>')))];
    case 'set-status-list-url':
      return [c.setStatusListUrl(region, need(args[1], '<url>'))];
    case 'register-keys': {
      const list = (await (await fetch(need(args[1], '<trust-list-url>'))).json()) as TrustListJson;
      const own = list.issuers.find((i) => i.id === String(region));
      if (!own) throw new Error(`${args[1]} lists no issuer ${region}`);
      const onChain = new Set((await registry.keys(region)).map((k) => k.kid.slice(2)));
      return own.keys
        .filter((k) => !onChain.has(b64ToHex(k.kid)))
        .map((k) =>
          c.registerKey(
            region,
            b64ToHex(k.kid),
            b64ToHex(k.x),
            Math.floor(Date.parse(k.notBefore) / 1000),
            Math.floor(Date.parse(k.notAfter) / 1000),
          ),
        );
    }
    case 'revoke-key':
      return [c.revokeKey(region, b64ToHex(need(args[1], '<kid>')))];
    case 'suspend':
      return [c.suspendIssuer(region)];
    case 'resume':
      return [c.resumeIssuer(region)];
    default:
      throw new Error(`unknown command ${command}\n\n${HELP}`);
  }
}

function report(
  r: { approvals: number; threshold: number; scheduled: boolean; readyAt?: number },
  op: Operation,
  again: (cmd: string) => string,
): void {
  if (!r.scheduled) {
    process.stdout.write(
      `approved (${r.approvals} of ${r.threshold}); other members approve with:\n  ${again(`approve ${op.id}`)}\n`,
    );
    return;
  }
  process.stdout.write(
    `approved (${r.approvals} of ${r.threshold}): scheduled, executable from ${iso(r.readyAt!)}; then anyone runs:\n  ${again(`execute ${op.id}`)}\n`,
  );
}

function describe(op: Operation): string {
  return op.calls.map((c) => `    ${RegistryCalls.describe(c)}\n`).join('');
}

async function signerFrom(
  provider: JsonRpcProvider,
  dev: boolean | undefined,
  account: string | undefined,
): Promise<Signer | undefined> {
  if (dev) return provider.getSigner(Number(account ?? 0));
  if (process.env.GOVERNOR_KEY_FILE) return RegistryClient.walletFromFile(process.env.GOVERNOR_KEY_FILE, provider);
  return undefined;
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

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
