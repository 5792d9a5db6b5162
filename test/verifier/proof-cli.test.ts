import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Contract } from 'ethers';
import { RegistryCalls, RegistryClient } from '../../anchor/registry';
import type { DevGovernance } from '../../anchor/council';
import { fromHex } from '../../verifier/src/bytes';
import { consistencyProof, sizeProofForAppend } from '../../verifier/src/merkle';
import { eventLeafHash, type ProofBundle } from '../../verifier/src/proof-bundle';
import { deployRegistry, findFreePort, startHardhatNode, type HardhatNode } from '../support/hardhat-node';
import {
  ALICE,
  ISSUER,
  buildLog,
  entryFor,
  eventBundle,
  historyBundle,
  leafHashesOf,
  mapOf,
  rootOf,
  timeOf,
  type CheckpointMeta,
} from '../support/proof-log';
import { tempDir } from '../support/tmp';

const MAIN = resolve(__dirname, '../../verifier/cli/main.ts');
const TSX = pathToFileURL(require.resolve('tsx')).href;

interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], cwd: string): Promise<CliRun> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', fail);
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

const hx = (hex: string) => `0x${hex}`;
const flipHex = (h: string) => h.slice(0, -1) + (h.endsWith('0') ? '1' : '0');
const FIRST = 25;
const SIZE = 40;
const RANGE = { from: timeOf(10), to: timeOf(20) };

describe('hardhat node helper', () => {
  it('starts independent nodes on different ports and stops them for good', async () => {
    const [a, b] = await Promise.all([startHardhatNode(), startHardhatNode()]);
    try {
      expect(a.port).to.not.equal(b.port);
      expect(a.url).to.equal(`http://127.0.0.1:${a.port}`);
      const { address } = await deployRegistry(a.url);
      expect(address).to.match(/^0x[0-9a-fA-F]{40}$/);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    await a.stop();
    const refused = await fetch(a.url, { method: 'POST', body: '{}' }).then(
      () => false,
      () => true,
    );
    expect(refused, 'the stopped node still answers').to.equal(true);
  });
});

describe('ankang-verify proof and history (against a real Hardhat node)', () => {
  const log = buildLog(SIZE);
  let node: HardhatNode;
  let tmp: ReturnType<typeof tempDir>;
  let registry: Contract;
  let address: string;
  let first: CheckpointMeta;
  let second: CheckpointMeta;
  let governance: DevGovernance;

  const chainArgs = () => ['--rpc', node.url, '--contract', address];
  const write = (name: string, bundle: unknown) => {
    writeFileSync(join(tmp.dir, name), typeof bundle === 'string' ? bundle : JSON.stringify(bundle, null, 2));
    return name;
  };
  const proof = (file: string, ...extra: string[]) => runCli(['proof', file, ...chainArgs(), ...extra], tmp.dir);
  const history = (file: string, ...extra: string[]) => runCli(['history', file, ...chainArgs(), ...extra], tmp.dir);
  const aliceHistory = () => historyBundle(log, ALICE, RANGE, second);

  /** Runs `history` on a tampered copy of Alice's history and expects exit 1 with `code`. */
  async function expectHistoryFails(
    name: string,
    tamper: (b: ProofBundle) => void,
    code: string,
    mention: string,
  ): Promise<void> {
    const b = aliceHistory();
    tamper(b);
    const r = await history(write(name, b));
    expect(r.stderr).to.equal('');
    expect(r.status, r.stdout).to.equal(1);
    expect(r.stdout).to.match(new RegExp(`^invalid \\(${code}\\): `));
    expect(r.stdout).to.include(mention);
    expect(r.stdout.trim().split('\n')).to.have.length(1);
  }

  before(async function () {
    this.timeout(120_000);
    tmp = tempDir('ankang-proof-cli-');
    node = await startHardhatNode();
    const deployed = await deployRegistry(node.url);
    registry = deployed.contract;
    address = deployed.address;
    governance = deployed.governance;
    const provider = deployed.provider;
    const anchorer = await provider.getSigner(1);
    await deployed.governance.enact([
      new RegistryCalls(address).registerIssuer(
        Number(ISSUER),
        '安徽省',
        'https://status.example/340000',
        anchorer.address,
      ),
    ]);
    const asAnchorer = registry.connect(anchorer) as Contract;
    const leaves = leafHashesOf(log);
    const data = log.map((e) => fromHex(e.hash));
    const { chainId } = await provider.getNetwork();
    const hexes = (hs: Uint8Array[]) => hs.map((h) => `0x${Buffer.from(h).toString('hex')}`);
    const mapRoot = (n: number) => `0x${Buffer.from(mapOf(log, n).root()).toString('hex')}`;

    const tx1 = await asAnchorer.anchor(
      Number(ISSUER),
      FIRST,
      hx(rootOf(log, FIRST)),
      mapRoot(FIRST),
      [],
      hexes(sizeProofForAppend(0, data.slice(0, FIRST))),
    );
    const r1 = await tx1.wait();
    const proof = hexes(consistencyProof(leaves, FIRST));
    const tx2 = await asAnchorer.anchor(
      Number(ISSUER),
      SIZE,
      hx(rootOf(log, SIZE)),
      mapRoot(SIZE),
      proof,
      hexes(sizeProofForAppend(FIRST, data.slice(FIRST, SIZE))),
    );
    const r2 = await tx2.wait();
    const common = { chainId: Number(chainId), contract: address };
    first = { ...common, index: 0, treeSize: FIRST, txHash: r1.hash, blockNumber: r1.blockNumber };
    second = { ...common, index: 1, treeSize: SIZE, txHash: r2.hash, blockNumber: r2.blockNumber };
  });

  after(async () => {
    await node?.stop();
    tmp?.cleanup();
  });

  it('anchored both checkpoints of the synthetic log', async () => {
    expect(await registry.checkpointCount(Number(ISSUER))).to.equal(2n);
    const cp = await registry.getCheckpoint(Number(ISSUER), 1);
    expect(cp.treeSize).to.equal(BigInt(SIZE));
    expect(cp.root).to.equal(hx(rootOf(log, SIZE)));
  });

  it('lists proof and history in the top-level help', async () => {
    const r = await runCli(['--help'], tmp.dir);
    expect(r.status).to.equal(0);
    expect(r.stdout)
      .to.match(/^ {2}ankang-verify proof /m)
      .and.match(/^ {2}ankang-verify history /m);
  });

  describe('proof', () => {
    describe('when every event is in the anchored checkpoint', () => {
      it('exits 0 with one line naming the checkpoint, its size and its block', async () => {
        const r = await proof(write('events.json', eventBundle(log, [1, 17, 40], second)));
        expect(r.stderr).to.equal('');
        expect(r.status).to.equal(0);
        expect(r.stdout).to.equal(
          `valid: 3 events of issuer 340000 are included in checkpoint 1 (size 40) anchored in block ${second.blockNumber}\n`,
        );
      });

      it('proves an event against the first, smaller checkpoint', async () => {
        const r = await proof(write('first.json', eventBundle(log, [25], first)));
        expect(r.status).to.equal(0);
        expect(r.stdout).to.include(`checkpoint 0 (size 25) anchored in block ${first.blockNumber}`);
      });

      it('prints valid, code, message, checked, file and the chain’s checkpoint with --json', async () => {
        const r = await proof(write('events.json', eventBundle(log, [1, 17, 40], second)), '--json');
        expect(r.status).to.equal(0);
        const out = JSON.parse(r.stdout);
        expect(out).to.include({ valid: true, code: 'VALID', checked: 3, file: 'events.json' });
        expect(out.checkpoint).to.deep.include({
          index: 1,
          treeSize: SIZE,
          root: rootOf(log, SIZE),
          blockNumber: second.blockNumber,
        });
      });

      it('checks several bundles, one line each, and fails if one fails', async () => {
        const bad = eventBundle(log, [3], second);
        bad.events[0].event.type = 'forged';
        const r = await runCli(
          ['proof', write('a.json', eventBundle(log, [2], second)), write('b.json', bad), ...chainArgs()],
          tmp.dir,
        );
        expect(r.status).to.equal(1);
        const lines = r.stdout.trim().split('\n');
        expect(lines[0]).to.match(/^a\.json: valid: 1 event/);
        expect(lines[1]).to.match(/^b\.json: invalid \(EVENT_ALTERED\): event seq 3/);
      });
    });

    describe('when a check fails', () => {
      const cases: Array<[string, (b: ProofBundle) => void, string, string]> = [
        ['an altered event', (b) => (b.events[1].event.data = { n: 999 }), 'EVENT_ALTERED', 'event seq 17'],
        [
          'a flipped proof hash',
          (b) => (b.events[0].proof[2] = flipHex(b.events[0].proof[2])),
          'NOT_INCLUDED',
          'event seq 1',
        ],
        [
          'a leafIndex off by one',
          (b) => (b.events[2].leafIndex -= 1),
          'NOT_INCLUDED',
          'leafIndex is 38, but seq 40 is leaf 39',
        ],
        [
          'a root that is not the chain’s',
          (b) => (b.checkpoint.root = rootOf(log, 39)),
          'CHECKPOINT_MISMATCH',
          'not the root on chain',
        ],
        [
          'a size that is not the chain’s',
          (b) => (b.checkpoint.treeSize = 41),
          'CHECKPOINT_MISMATCH',
          'the chain says 40',
        ],
        [
          'a checkpoint the chain does not have',
          (b) => (b.checkpoint.index = 7),
          'CHECKPOINT_MISMATCH',
          'no checkpoint 7 of issuer 340000',
        ],
        ['another chain id', (b) => (b.chain.chainId = 1), 'CHECKPOINT_MISMATCH', 'the bundle is for chain 1'],
        [
          'another contract than --contract',
          (b) => (b.chain.contract = `0x${'12'.repeat(20)}`),
          'CHECKPOINT_MISMATCH',
          'names contract',
        ],
        [
          'another block than the anchoring one',
          (b) => (b.checkpoint.blockNumber += 1),
          'CHECKPOINT_MISMATCH',
          'was anchored in block',
        ],
        [
          'the first checkpoint’s transaction',
          (b) => (b.checkpoint.txHash = first.txHash),
          'CHECKPOINT_MISMATCH',
          'did not anchor checkpoint 1',
        ],
        [
          'a transaction that does not exist',
          (b) => (b.checkpoint.txHash = `0x${'ee'.repeat(32)}`),
          'CHECKPOINT_MISMATCH',
          'is not a successful transaction',
        ],
        ['a missing format', (b) => delete (b as Partial<ProofBundle>).format, 'MALFORMED', 'format'],
      ];
      for (const [what, tamper, code, mention] of cases) {
        it(`exits 1 with ${code} for ${what}`, async () => {
          const b = eventBundle(log, [1, 17, 40], second);
          tamper(b);
          const r = await proof(write('tampered.json', b));
          expect(r.stderr).to.equal('');
          expect(r.status, r.stdout).to.equal(1);
          expect(r.stdout).to.match(new RegExp(`^invalid \\(${code}\\): `));
          expect(r.stdout).to.include(mention);
        });
      }

      it('exits 1 with MALFORMED for a file that is not JSON', async () => {
        const r = await proof(write('junk.json', '{"format": "ankang-proof-bundle/1", '));
        expect(r.status).to.equal(1);
        expect(r.stdout).to.match(/^invalid \(MALFORMED\): junk\.json is not JSON/);
      });

      it('prints the failure as JSON with --json', async () => {
        const b = eventBundle(log, [1], second);
        b.events[0].proof[0] = flipHex(b.events[0].proof[0]);
        const r = await proof(write('flipped.json', b), '--json');
        expect(r.status).to.equal(1);
        expect(JSON.parse(r.stdout)).to.include({ valid: false, code: 'NOT_INCLUDED', checked: 0 });
      });
    });

    describe('when the chain or the command line is wrong', () => {
      it('exits 2 when --contract is an address without a contract', async () => {
        const r = await runCli(
          [
            'proof',
            write('events.json', eventBundle(log, [1], second)),
            '--rpc',
            node.url,
            '--contract',
            `0x${'12'.repeat(20)}`,
          ],
          tmp.dir,
        );
        expect(r.status).to.equal(2);
        expect(r.stdout).to.equal('');
        expect(r.stderr).to.include(`--contract 0x${'12'.repeat(20)} is not a contract on chain 31337`);
      });

      it('exits 1 with CHECKPOINT_MISMATCH when --contract is another registry', async () => {
        const other = await deployRegistry(node.url);
        const r = await runCli(
          [
            'proof',
            write('events.json', eventBundle(log, [1], second)),
            '--rpc',
            node.url,
            '--contract',
            other.address,
          ],
          tmp.dir,
        );
        expect(r.status).to.equal(1);
        expect(r.stdout).to.match(
          /^invalid \(CHECKPOINT_MISMATCH\): the bundle names contract 0x[0-9a-f]{40}, not the registry/i,
        );
      });

      it('exits 2 naming the endpoint when nothing listens at --rpc', async () => {
        const url = `http://127.0.0.1:${await findFreePort()}`;
        const r = await runCli(
          ['proof', write('events.json', eventBundle(log, [1], second)), '--rpc', url, '--contract', address],
          tmp.dir,
        );
        expect(r.status).to.equal(2);
        expect(r.stderr).to.include(`cannot reach the JSON-RPC endpoint ${url}`).and.include('ECONNREFUSED');
      });

      it('does not print the path or query of --rpc, which may hold an API key', async () => {
        const url = `http://127.0.0.1:${await findFreePort()}/v3/secret-key?token=secret`;
        const r = await runCli(
          ['proof', write('events.json', eventBundle(log, [1], second)), '--rpc', url, '--contract', address],
          tmp.dir,
        );
        expect(r.status).to.equal(2);
        expect(r.stderr).to.not.include('secret');
      });

      it('exits 2 for a missing bundle file', async () => {
        const r = await proof('no-such-bundle.json');
        expect(r.status).to.equal(2);
        expect(r.stderr).to.include('cannot read bundle no-such-bundle.json: no such file');
      });

      for (const [what, args, mention] of [
        ['no --rpc', ['proof', 'events.json', '--contract', `0x${'12'.repeat(20)}`], '--rpc <url> is required'],
        ['no --contract', ['proof', 'events.json', '--rpc', 'http://127.0.0.1:1'], '--contract <address> is required'],
        [
          'a --contract that is not an address',
          ['proof', 'events.json', '--rpc', 'http://127.0.0.1:1', '--contract', 'registry'],
          '--contract must be',
        ],
        [
          'an --rpc that is not http',
          ['history', 'events.json', '--rpc', 'ws://127.0.0.1:1', '--contract', `0x${'12'.repeat(20)}`],
          '--rpc must be an http(s) URL',
        ],
        [
          'no bundle',
          ['history', '--rpc', 'http://127.0.0.1:1', '--contract', `0x${'12'.repeat(20)}`],
          'no bundle given',
        ],
      ] as const) {
        it(`exits 2 for ${what}`, async () => {
          write('events.json', eventBundle(log, [1], second));
          const r = await runCli([...args], tmp.dir);
          expect(r.status).to.equal(2);
          expect(r.stderr).to.include(mention);
        });
      }
    });
  });

  describe('history', () => {
    describe('when the bundle is the complete history', () => {
      it('exits 0 with a line naming events, subject, range, checkpoint, block and no gaps, and one saying format 1 leaves completeness unknown', async () => {
        const r = await history(write('alice.json', aliceHistory()));
        expect(r.stderr).to.equal('');
        expect(r.status).to.equal(0);
        expect(r.stdout).to.equal(
          `valid: 5 events of ${ALICE} from ${RANGE.from} to ${RANGE.to} are included in checkpoint 1 (size 40) ` +
            `anchored in block ${second.blockNumber} and the history has no gaps\n` +
            '  not known complete (FORMAT_1): the bundle is ankang-proof-bundle/1: it carries no subject head, so completeness is unknown\n',
        );
      });

      it('says the end is open when no later event is named', async () => {
        const r = await history(
          write('open.json', historyBundle(log, ALICE, { from: timeOf(30), to: timeOf(60) }, second)),
        );
        expect(r.status).to.equal(0);
        expect(r.stdout).to.include('no gaps up to seq 39; no later event is named');
      });

      it('proves a history against the first checkpoint', async () => {
        const r = await history(write('alice-first.json', historyBundle(log, ALICE, RANGE, first)));
        expect(r.status).to.equal(0);
        expect(r.stdout).to.include(
          `checkpoint 0 (size 25) anchored in block ${first.blockNumber} and the history has no gaps`,
        );
      });
    });

    describe('with the subject map (format 2)', () => {
      const aliceWhole = () => historyBundle(log, ALICE, { from: timeOf(1, -60), to: timeOf(SIZE, 60) }, second, 2);

      it('exits 0 but does not call the history complete unless the checkpoint is cosigned', async () => {
        const r = await history(write('alice-2.json', aliceWhole()));
        expect(r.status, r.stderr).to.equal(0);
        const [first, line2] = r.stdout.trim().split('\n');
        expect(first).to.include(
          `the history has no gaps up to seq 39, the last of the 20 events of ${ALICE} in the checkpoint's subject map`,
        );
        expect(line2).to.match(
          /^ {2}not known complete \(NOT_COSIGNED\): checkpoint 1 \(size 40\) is not known to be cosigned by witnesses/,
        );
      });

      it("reports complete: false with the reason in --json when not cosigned, the chain's threshold still unset", async () => {
        const out = JSON.parse((await history(write('alice-2.json', aliceWhole()), '--json')).stdout);
        expect(out).to.include({ valid: true, complete: false });
        expect(out.completeness.code).to.equal('NOT_COSIGNED');
        expect(out.checkpoint.cosigned).to.equal(null);
        expect(out.checkpoint.mapRoot).to.equal(aliceWhole().checkpoint.mapRoot);
      });

      it('does not let --cosigned override the chain: the registry keeps map roots and cosignatures, so its word is final', async () => {
        const r = await history(write('alice-2.json', aliceWhole()), '--cosigned', '--json');
        expect(r.status, r.stderr).to.equal(0);
        const out = JSON.parse(r.stdout);
        expect(out).to.include({ valid: true, complete: false });
        expect(out.completeness.code).to.equal('NOT_COSIGNED');
      });

      it('exits 1 with CHECKPOINT_MISMATCH when the bundle names another map root than the one anchored', async () => {
        const b = aliceWhole();
        b.checkpoint.mapRoot = flipHex(b.checkpoint.mapRoot!);
        const r = await history(write('alice-2-maproot.json', b), '--json');
        expect(r.status).to.equal(1);
        const out = JSON.parse(r.stdout);
        expect(out).to.include({ valid: false, code: 'CHECKPOINT_MISMATCH', complete: false });
        expect(out.message).to.include('map root');
      });

      describe('once a registered witness has cosigned the checkpoint on chain', () => {
        before(async () => {
          const provider = RegistryClient.provider(node.url);
          const witness = await provider.getSigner(5);
          const calls = new RegistryCalls(address);
          await governance.enact([
            calls.registerWitness(await witness.getAddress(), 0, 'an auditor'),
            calls.setWitnessThreshold(1),
          ]);
          const b = aliceWhole();
          await new RegistryClient(provider, address, witness).cosign(
            Number(ISSUER),
            1,
            SIZE,
            b.checkpoint.root,
            b.checkpoint.mapRoot!,
          );
        });

        it("says complete, and --json reports complete, the reason, the chain's map root and the cosigners it counted", async () => {
          const b = aliceWhole();
          const r = await history(write('alice-2.json', b));
          expect(r.status, r.stderr).to.equal(0);
          expect(r.stdout.trim().split('\n')[1]).to.match(
            /^ {2}complete: every event of r:\S+ from \S+ to \S+ among its first 40 is in the bundle: witnesses cosigned checkpoint 1 \(size 40\) with its map root as read from the chain$/,
          );
          const out = JSON.parse((await history('alice-2.json', '--json')).stdout);
          expect(out).to.include({ valid: true, code: 'VALID', complete: true });
          expect(out.completeness.code).to.equal('COMPLETE');
          expect(out.checkpoint).to.deep.include({
            mapRoot: b.checkpoint.mapRoot,
            cosigned: { by: 'chain', cosigners: 1, threshold: 1 },
          });
        });

        it('leaves the checkpoint nobody cosigned not complete, --cosigned or not', async () => {
          const b = historyBundle(log, ALICE, { from: timeOf(1, -60), to: timeOf(FIRST, 60) }, first, 2);
          const out = JSON.parse((await history(write('alice-2-first.json', b), '--cosigned', '--json')).stdout);
          expect(out).to.include({ valid: true, complete: false });
          expect(out.checkpoint.cosigned).to.equal(null);
        });
      });

      it('exits 1 with HEAD_MISMATCH when the last event was left out, cosigned or not', async () => {
        const b = aliceWhole();
        b.events.pop();
        for (const extra of [[], ['--cosigned']]) {
          const r = await history(write('alice-2-cut.json', b), ...extra, '--json');
          expect(r.status).to.equal(1);
          expect(JSON.parse(r.stdout)).to.include({ valid: false, code: 'HEAD_MISMATCH', complete: false });
        }
      });

      it('refuses --cosigned for proof, which has no history to complete (exit 2)', async () => {
        const r = await proof(write('events.json', eventBundle(log, [1], second)), '--cosigned');
        expect(r.status).to.equal(2);
        expect(r.stderr).to.include("Unknown option '--cosigned'");
      });
    });

    it('exits 1 with HISTORY_GAP when an event was removed', () =>
      expectHistoryFails(
        'removed.json',
        (b) => b.events.splice(2, 1),
        'HISTORY_GAP',
        'event seq 17 does not link to seq 13',
      ));

    it('exits 1 with HISTORY_ORDER when two events were swapped', () =>
      expectHistoryFails(
        'swapped.json',
        (b) => ([b.events[1], b.events[2]] = [b.events[2], b.events[1]]),
        'HISTORY_ORDER',
        'event seq 13 comes after seq 15',
      ));

    it('exits 1 with EVENT_ALTERED when an event was altered', () =>
      expectHistoryFails(
        'altered.json',
        (b) => (b.events[0].event.type = 'code.revoked'),
        'EVENT_ALTERED',
        'event seq 11',
      ));

    it('exits 1 with NOT_INCLUDED when a proof hash was flipped', () =>
      expectHistoryFails(
        'flipped.json',
        (b) => (b.events[4].proof[0] = flipHex(b.events[4].proof[0])),
        'NOT_INCLUDED',
        'event seq 19',
      ));

    it('exits 1 with NOT_INCLUDED when a leafIndex is off by one', () =>
      expectHistoryFails(
        'off-by-one.json',
        (b) => (b.events[0].leafIndex += 1),
        'NOT_INCLUDED',
        'leafIndex is 11, but seq 11 is leaf 10',
      ));

    it('exits 1 with CHECKPOINT_MISMATCH when the bundle’s root is not the chain’s', () =>
      expectHistoryFails(
        'root.json',
        (b) => (b.checkpoint.root = rootOf(log, FIRST)),
        'CHECKPOINT_MISMATCH',
        'not the root on chain',
      ));

    it('exits 1 with OUT_OF_RANGE when an event of another subject was slipped in', () =>
      expectHistoryFails(
        'foreign.json',
        (b) => b.events.splice(1, 0, entryFor(log, 12, SIZE)),
        'OUT_OF_RANGE',
        `event seq 12 is not about ${ALICE}`,
      ));

    it('exits 1 with HISTORY_GAP when previous is not the last event before the range', () =>
      expectHistoryFails(
        'previous.json',
        (b) => (b.previous = entryFor(log, 7, SIZE)),
        'HISTORY_GAP',
        'event seq 11 does not link to seq 7',
      ));

    it('exits 1 with HISTORY_GAP when previous was dropped', () =>
      expectHistoryFails(
        'no-previous.json',
        (b) => (b.previous = null),
        'HISTORY_GAP',
        'event seq 11 links to an earlier event',
      ));

    it('exits 1 with HISTORY_GAP when next is not the first event after the range', () =>
      expectHistoryFails(
        'next.json',
        (b) => (b.next = entryFor(log, 25, SIZE)),
        'HISTORY_GAP',
        'next event seq 25 does not link to seq 19',
      ));

    it('exits 1 with OUT_OF_RANGE when next lies inside the range', () =>
      expectHistoryFails(
        'next-inside.json',
        (b) => (b.range = { ...RANGE, to: timeOf(21) }),
        'OUT_OF_RANGE',
        'next event seq 21',
      ));

    it('exits 1 with MALFORMED for an event bundle', async () => {
      const r = await history(write('events.json', eventBundle(log, [1], second)));
      expect(r.status).to.equal(1);
      expect(r.stdout).to.match(/^invalid \(MALFORMED\): events\.json is an event bundle/);
    });

    it('checks the history bundle’s proofs, previous and next included, with proof', async () => {
      const b = aliceHistory();
      b.next!.proof[0] = flipHex(b.next!.proof[0]);
      const r = await proof(write('next-proof.json', b));
      expect(r.status).to.equal(1);
      expect(r.stdout).to.include('invalid (NOT_INCLUDED): event seq 21');
    });
  });

  it('agrees with the contract’s verifyInclusion for the proofs it accepts', async () => {
    const b = eventBundle(log, [1, 2, 39, 40], second);
    for (const e of b.events) {
      const leaf = `0x${Buffer.from(eventLeafHash(e.event)).toString('hex')}`;
      expect(await registry.verifyInclusion(Number(ISSUER), 1, e.leafIndex, leaf, e.proof.map(hx))).to.equal(true);
    }
  });
});
