import { expect } from 'chai';
import { join } from 'node:path';
import { RegistryClient } from '../../anchor/registry';
import { startHardhatNode, type HardhatNode } from '../support/hardhat-node';
import { ROOT, runChild } from '../support/service';

const DELAY = 2;

/** `npm run governor` as a council member runs it, against a real Hardhat node, one process per step. */
describe('npm run governor (scripts/governor.ts)', function () {
  this.timeout(180_000);
  let node: HardhatNode;
  let registry: string;
  let members: string[];
  let anchorer: string;

  const governor = (...args: string[]) =>
    runChild(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'governor.ts'), ...args, '--rpc', node.url]);
  const onRegistry = (...args: string[]) => governor(...args, '--contract', registry);
  const idIn = (stdout: string) => /operation (0x[0-9a-f]{64})/.exec(stdout)![1];

  before(async () => {
    node = await startHardhatNode();
    const provider = RegistryClient.provider(node.url);
    [members, anchorer] = [
      await Promise.all([0, 18, 19].map(async (i) => (await provider.getSigner(i)).getAddress())),
      await (await provider.getSigner(1)).getAddress(),
    ];
    provider.destroy();
    const deployed = await governor(
      'deploy',
      '--members',
      members.join(','),
      '--threshold',
      '2',
      '--delay',
      String(DELAY),
      '--dev',
    );
    expect(deployed.code, deployed.stderr).to.equal(0);
    expect(deployed.stdout).to.match(
      /AnchorCouncil deployed at 0x[0-9a-fA-F]{40}: 2 of 3 members approve, actions wait 2 s/,
    );
    registry = /AnchorRegistry deployed at (0x[0-9a-fA-F]{40})/.exec(deployed.stdout)![1];
  });
  after(async () => {
    await node?.stop();
  });

  it('proposes, approves, schedules and executes a registration in two steps, refusing each step out of turn', async () => {
    const proposed = await onRegistry(
      'register-issuer',
      '330000',
      '浙江省',
      'https://zj.example/v1/status-list',
      anchorer,
      '--dev',
    );
    expect(proposed.code, proposed.stderr).to.equal(0);
    expect(proposed.stdout)
      .to.include(`registerIssuer(330000, "浙江省", "https://zj.example/v1/status-list", ${anchorer})`)
      .and.include('approved (1 of 2)');
    const id = idIn(proposed.stdout);

    const early = await onRegistry('execute', id, '--dev');
    expect([early.code, early.stderr.trim()]).to.deep.equal([2, `${id} has 1 of 2 approvals: it is not scheduled yet`]);
    const again = await onRegistry('approve', id, '--dev');
    expect([again.code, again.stderr.trim()]).to.deep.equal([2, `AnchorCouncilAlreadyApproved(${id}, ${members[0]})`]);
    const outsider = await onRegistry('approve', id, '--dev', '--account', '5');
    expect(outsider.code).to.equal(2);
    expect(outsider.stderr).to.match(/^AnchorCouncilNotMember\(0x[0-9a-fA-F]{40}\)/);

    const second = await onRegistry('approve', id, '--dev', '--account', '18');
    expect(second.code, second.stderr).to.equal(0);
    expect(second.stdout).to.match(/approved \(2 of 2\): scheduled, executable from \d{4}-/);
    const pending = await onRegistry('pending');
    expect(pending.stdout).to.match(new RegExp(`^${id} (waiting|ready)`, 'm'));

    await new Promise((r) => setTimeout(r, DELAY * 1000));
    const executed = await onRegistry('execute', id, '--dev', '--account', '7');
    expect(executed.code, executed.stderr).to.equal(0);
    expect(executed.stdout).to.match(new RegExp(`^executed ${id} in block \\d+`));
    const r = new RegistryClient(RegistryClient.provider(node.url), registry);
    expect(await r.issuer(330000)).to.include({ name: '浙江省', anchorer });
    expect((await onRegistry('pending')).stdout).to.match(new RegExp(`^${id} done`, 'm'));
  });

  it('cancels a scheduled suspension once two members approve cancelling it', async () => {
    const proposed = await onRegistry('suspend', '330000', '--dev', '--account', '19');
    const id = idIn(proposed.stdout);
    await onRegistry('approve', id, '--dev');
    const one = await onRegistry('cancel', id, '--dev');
    expect(one.stdout.trim()).to.equal(`approved cancelling ${id} (1 of 2)`);
    const two = await onRegistry('cancel', id, '--dev', '--account', '18');
    expect(two.stdout.trim()).to.equal(`cancelled ${id} for good`);
    await new Promise((r) => setTimeout(r, DELAY * 1000));
    const late = await onRegistry('execute', id, '--dev');
    expect([late.code, late.stderr.trim()]).to.deep.equal([2, `${id} is cancelled`]);
    expect((await onRegistry('pending')).stdout).to.match(new RegExp(`^${id} cancelled`, 'm'));
    const r = new RegistryClient(RegistryClient.provider(node.url), registry);
    expect((await r.issuer(330000)).suspendedAt).to.equal(0);
  });
  it('registers a witness and sets the witness threshold in one proposal each, refusing a threshold above the witnesses when executed', async () => {
    const witness = await (async () => {
      const provider = RegistryClient.provider(node.url);
      const a = await (await provider.getSigner(6)).getAddress();
      provider.destroy();
      return a;
    })();
    const enact = async (...args: string[]) => {
      const proposed = await onRegistry(...args, '--dev');
      expect(proposed.code, proposed.stderr).to.equal(0);
      const id = idIn(proposed.stdout);
      expect((await onRegistry('approve', id, '--dev', '--account', '18')).code).to.equal(0);
      await new Promise((r) => setTimeout(r, DELAY * 1000));
      return { proposed, executed: await onRegistry('execute', id, '--dev') };
    };
    const tooHigh = await enact('witness-threshold', '1');
    expect(tooHigh.proposed.stdout).to.include('setWitnessThreshold(1)');
    expect([tooHigh.executed.code, tooHigh.executed.stderr.trim()]).to.deep.equal([
      2,
      'AnchorRegistryBadWitnessThreshold(1, 0)',
    ]);

    const registered = await enact('register-witness', witness.toLowerCase(), '0', '审计署');
    expect(registered.proposed.stdout).to.include(`registerWitness(${witness}, 0, "审计署")`);
    expect(registered.executed.code, registered.executed.stderr).to.equal(0);
    expect((await enact('witness-threshold', '1')).executed.code).to.equal(0);
    const r = new RegistryClient(RegistryClient.provider(node.url), registry);
    expect(await r.witness(witness)).to.include({ name: '审计署', issuer: 0, number: 0 });
    expect(await r.witnessThreshold()).to.equal(1);
    expect((await enact('revoke-witness', witness)).executed.code).to.equal(0);
    expect((await r.witness(witness)).revokedAt).to.be.greaterThan(0);
  });
});
