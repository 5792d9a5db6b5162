import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDevNode, type DevNode } from '../../anchor/dev-node';
import type { ProofBundle, ProofEntry } from '../../verifier/src/proof-bundle';
import { deployRegistry } from '../support/hardhat-node';
import { installedVerifier, runCommand, type InstalledVerifier } from '../support/installed-verifier';
import { checkin, newResident, registerVenue, type Resident, type Venue } from '../support/scenario';
import { apply, startTestService, type TestService, WallClock } from '../support/service';
import { tempDir } from '../support/tmp';
import { until } from '../../scripts/lib/wait';

const ISSUER = '340000';

/** What `ankang-verify proof|history --json` prints for one bundle. */
interface Report {
  valid: boolean;
  code: string;
  message: string;
  checked: number;
  file: string;
  checkpoint: { index: number; treeSize: number; root: string; anchoredAt: number; blockNumber: number } | null;
}

/** The same hash with the lowest bit of its last hex digit flipped. */
const flipBit = (hex: string) => hex.slice(0, -1) + (parseInt(hex.slice(-1), 16) ^ 1).toString(16);

describe('proof bundles end to end: the service anchors on a Hardhat node, the installed ankang-verify checks', function () {
  this.timeout(120_000);
  let node: DevNode;
  let svc: TestService;
  let verifier: InstalledVerifier;
  let files: ReturnType<typeof tempDir>;
  let contract: string;
  let auditor: string;
  let operator: string;
  let health: string;
  let alice: Resident;
  let gate: Venue;
  let aliceScanSeq: number;
  let eventBundle: ProofBundle;
  let aliceHistory: ProofBundle;
  let gateHistory: ProofBundle;
  /** Alice's history over a range inside it, with `previous` and `next` both named. */
  let aliceMiddle: ProofBundle;

  const call = (method: string, path: string, token?: string, json?: unknown) =>
    svc.call(method, path, { token, json });

  /** The service's latest checkpoint, as GET /v1/anchor/status reports it. */
  const anchorStatus = async () =>
    (await call('GET', '/v1/anchor/status')).body as {
      state: string;
      checkpoint: { treeSize: number; contract: string } | null;
    };

  const fetchBundle = async (path: string): Promise<ProofBundle> => {
    const r = await call('GET', path, auditor);
    expect(r.status, `${path}: ${JSON.stringify(r.body)}`).to.equal(200);
    return r.body;
  };

  /** Writes a bundle into the temp folder and returns its path. */
  const save = (name: string, bundle: unknown): string => {
    const path = join(files.dir, `${name}.json`);
    writeFileSync(path, JSON.stringify(bundle, null, 2));
    return path;
  };

  /** Runs the installed bin, as another province would, against the node and a registry (the service's by default). */
  const verify = (command: 'proof' | 'history', paths: string[], opts: { json?: boolean; contract?: string } = {}) =>
    runCommand(
      verifier.bin,
      [command, ...paths, '--rpc', node.url, '--contract', opts.contract ?? contract, ...(opts.json ? ['--json'] : [])],
      verifier.project,
    );

  /** Saves a tampered copy, checks it with --json, and expects exit 1 with one report. */
  const rejected = async (command: 'proof' | 'history', name: string, bundle: ProofBundle): Promise<Report> => {
    const r = await verify(command, [save(name, bundle)], { json: true });
    expect(r.status, r.stdout + r.stderr).to.equal(1);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.valid).to.equal(false);
    return report;
  };

  const copy = (b: ProofBundle): ProofBundle => structuredClone(b);
  const seqs = (entries: ProofEntry[]) => entries.map((e) => e.event.seq);

  before(async () => {
    files = tempDir('ankang-e2e-proofs-');
    [node, verifier] = await Promise.all([startDevNode(), installedVerifier()]);
    svc = await startTestService({
      clock: new WallClock(),
      config: { CHAIN_RPC_URL: node.url, CHAIN_DEV: 'true', CHECKPOINT_INTERVAL_SECONDS: '1' },
    });
    // Through POST /v1/admin/tokens with the service's admin token.
    expect(svc.adminToken).to.equal(svc.running.app.secrets.adminToken);
    [auditor, operator, health] = await Promise.all([svc.token('auditor'), svc.token('operator'), svc.token('health')]);

    gate = await registerVenue(svc, operator, {
      type: 'residential-community',
      name: '翡翠湖小区',
      district: '340104',
    });
    alice = await newResident(svc);
    for (let i = 0; i < 3; i++) expect((await checkin(svc, await newResident(svc), gate, 36.5)).status).to.equal(201);

    // Alice's history: applied (with her first status and code), a new declaration, a
    // printed code, a check-in at the gate, a close contact from the health authority that
    // changes her colour, a printed code in the new colour, and a daily health check-in.
    const reapply = await apply(svc, { ...alice.body, declaration: { ...alice.body.declaration, temperatureC: 36.4 } });
    expect(reapply.status, JSON.stringify(reapply.body)).to.equal(200);
    expect((await call('GET', '/v1/residents/me/code?mode=printed', alice.token)).status).to.equal(200);
    const scan = await checkin(svc, alice, gate, 36.6);
    expect(scan.status, JSON.stringify(scan.body)).to.equal(201);
    aliceScanSeq = scan.body.seq;
    const exposedAt = new Date(Date.now() - 86_400_000).toISOString();
    const feed = await call('POST', '/v1/feeds/close-contacts', health, {
      records: [{ idType: alice.body.idType, idNumber: alice.body.idNumber, degree: 1, exposedAt }],
    });
    expect(feed.status, JSON.stringify(feed.body)).to.equal(201);
    const printed = await call('GET', '/v1/residents/me/code?mode=printed', alice.token);
    expect(printed.body.colour, 'a close contact is not green').to.not.equal('green');
    expect((await call('POST', '/v1/checkins/daily', alice.token, { temperatureC: 36.5 })).status).to.equal(201);

    const head = (await svc.head()).seq;
    const cp = await until('a checkpoint covering every event of the scenario', async () => {
      const s = await anchorStatus();
      return s.checkpoint && s.checkpoint.treeSize >= head ? s.checkpoint : undefined;
    });
    // The registry the service anchors to is the one an auditor is told to trust.
    contract = cp.contract;
    expect(contract).to.equal(svc.running.app.anchorer!.checkpoint!.contract);

    eventBundle = await fetchBundle(`/v1/proofs/events/${aliceScanSeq}`);
    aliceHistory = await fetchBundle(`/v1/proofs/subjects/${alice.pseudonym}`);
    gateHistory = await fetchBundle(`/v1/proofs/venues/${gate.id}`);

    // A range from Alice's third distinct event time to her second-last: events on both sides.
    const times = [...new Set(aliceHistory.events.map((e) => e.event.at))];
    expect(times.length, 'distinct event times of Alice').to.be.at.least(5);
    const range = `from=${encodeURIComponent(times[2])}&to=${encodeURIComponent(times[times.length - 2])}`;
    aliceMiddle = await fetchBundle(`/v1/proofs/subjects/${alice.pseudonym}?${range}`);

    // Quiet: the latest event is the checkpoint record, and nothing substantive waits to be anchored.
    await until('the anchorer to settle', async () => {
      const s = await anchorStatus();
      return s.checkpoint !== null && s.checkpoint.treeSize === (await svc.head()).seq - 1;
    });
  });

  after(async () => {
    await svc?.close();
    await node?.stop();
    files?.cleanup();
  });

  describe('the bundles the service hands an auditor', () => {
    it("name the registry the service anchors to and hold Alice's whole history of at least 5 events", () => {
      for (const b of [eventBundle, aliceHistory, gateHistory, aliceMiddle]) {
        expect(b).to.include({ format: 'ankang-proof-bundle/2', issuer: ISSUER });
        expect(b.chain.contract.toLowerCase()).to.equal(contract.toLowerCase());
      }
      expect(eventBundle.kind).to.equal('event');
      expect(eventBundle.events.map((e) => e.event.type)).to.deep.equal(['scan.recorded']);
      expect(aliceHistory).to.include({ kind: 'history', subject: `r:${alice.pseudonym}`, previous: null, next: null });
      const types = aliceHistory.events.map((e) => e.event.type);
      expect(types.length).to.be.at.least(5);
      expect(types).to.include.members([
        'resident.applied',
        'declaration.submitted',
        'code.issued',
        'scan.recorded',
        'status.changed',
        'checkin.daily',
      ]);
      expect(gateHistory.subject).to.equal(`v:${gate.id}`);
      expect(gateHistory.events.filter((e) => e.event.type === 'scan.recorded')).to.have.length(4);
      expect(aliceMiddle.previous).to.not.equal(null);
      expect(aliceMiddle.next).to.not.equal(null);
    });
  });

  describe('when nothing was changed', () => {
    it('`ankang-verify proof` exits 0 and says the event is included in the checkpoint, in its block', async () => {
      const r = await verify('proof', [save('event', eventBundle)]);
      expect(r.status, r.stdout + r.stderr).to.equal(0);
      const { index, treeSize, blockNumber } = eventBundle.checkpoint;
      expect(r.stdout.trim()).to.equal(
        `valid: 1 event of issuer ${ISSUER} is included in checkpoint ${index} (size ${treeSize}) anchored in block ${blockNumber}`,
      );
    });

    it("`ankang-verify history` exits 0 for Alice's whole history, ends it at her head in the subject map, and does not call it complete without witnesses", async () => {
      const r = await verify('history', [save('alice', aliceHistory)]);
      expect(r.status, r.stdout + r.stderr).to.equal(0);
      const n = aliceHistory.events.length;
      const last = aliceHistory.events[n - 1].event.seq;
      const [line, completeness] = r.stdout.trim().split('\n');
      expect(line).to.match(
        new RegExp(
          `^valid: ${n} events of r:${alice.pseudonym} from \\S+ to \\S+ are included in checkpoint ${aliceHistory.checkpoint.index} \\(size ${aliceHistory.checkpoint.treeSize}\\) anchored in block ${aliceHistory.checkpoint.blockNumber} and the history has no gaps up to seq ${last}, the last of the ${n} events of r:${alice.pseudonym} in the checkpoint's subject map$`,
        ),
      );
      expect(completeness).to.match(/^ {2}not known complete \(NOT_COSIGNED\): /);
    });

    it('`ankang-verify history --json` reports VALID with the checkpoint read from the chain', async () => {
      const r = await verify('history', [save('alice', aliceHistory)], { json: true });
      expect(r.status, r.stdout + r.stderr).to.equal(0);
      const report = JSON.parse(r.stdout) as Report;
      expect(report).to.include({ valid: true, code: 'VALID', checked: aliceHistory.events.length });
      expect(report.checkpoint).to.include({
        index: aliceHistory.checkpoint.index,
        treeSize: aliceHistory.checkpoint.treeSize,
        root: aliceHistory.checkpoint.root,
      });
    });

    it("`ankang-verify history` exits 0 for the gate's history", async () => {
      const r = await verify('history', [save('gate', gateHistory)]);
      expect(r.status, r.stdout + r.stderr).to.equal(0);
      expect(r.stdout).to.match(new RegExp(`^valid: ${gateHistory.events.length} events of v:${gate.id} from `));
    });

    it('`ankang-verify history` exits 0 for a range with events on both sides and says it has no gaps', async () => {
      const r = await verify('history', [save('alice-middle', aliceMiddle)]);
      expect(r.status, r.stdout + r.stderr).to.equal(0);
      expect(r.stdout.trim().split('\n')[0]).to.match(
        /^valid: \d+ events? of r:\S+ from \S+ to \S+ (is|are) included in checkpoint \d+ \(size \d+\) anchored in block \d+ and the history has no gaps$/,
      );
    });
  });

  describe('when the history is tampered with', () => {
    const middle = () => Math.floor(aliceHistory.events.length / 2);

    it('exits 1 with HISTORY_GAP naming the seqs around an event that was removed', async () => {
      const m = middle();
      const cut = copy(aliceHistory);
      const [removed] = cut.events.splice(m, 1);
      const report = await rejected('history', 'removed', cut);
      expect(report.code, report.message).to.equal('HISTORY_GAP');
      const [before, after] = [aliceHistory.events[m - 1].event.seq, aliceHistory.events[m + 1].event.seq];
      expect(report.message).to.include(`event seq ${after} does not link to seq ${before}`);
      expect(seqs(cut.events)).to.not.include(removed.event.seq);
    });

    it('exits 1 with HISTORY_ORDER naming the seqs of two events that were swapped', async () => {
      const m = middle();
      const swapped = copy(aliceHistory);
      [swapped.events[m], swapped.events[m + 1]] = [swapped.events[m + 1], swapped.events[m]];
      const report = await rejected('history', 'swapped', swapped);
      expect(report.code, report.message).to.equal('HISTORY_ORDER');
      expect(report.message).to.include(
        `event seq ${aliceHistory.events[m].event.seq} comes after seq ${aliceHistory.events[m + 1].event.seq}`,
      );
    });

    it('exits 1 with EVENT_ALTERED naming the seq of an event whose data was rewritten', async () => {
      const altered = copy(aliceHistory);
      const change = altered.events.filter((e) => e.event.type === 'status.changed').pop()!;
      expect(change.event.data.to).to.not.equal('green');
      change.event.data.to = 'green';
      const report = await rejected('history', 'altered', altered);
      expect(report.code, report.message).to.equal('EVENT_ALTERED');
      expect(report.message).to.include(`event seq ${change.event.seq}:`);
    });

    it('exits 1 with NOT_INCLUDED naming the seq of an event whose proof has a flipped bit', async () => {
      const m = middle();
      const flipped = copy(aliceHistory);
      const entry = flipped.events[m];
      expect(entry.proof.length).to.be.greaterThan(0);
      entry.proof[0] = flipBit(entry.proof[0]);
      const report = await rejected('history', 'flipped', flipped);
      expect(report.code, report.message).to.equal('NOT_INCLUDED');
      expect(report.message).to.include(`event seq ${entry.event.seq}:`);
    });

    it("exits 1 with CHECKPOINT_MISMATCH when the bundle's checkpoint root was changed", async () => {
      const rerooted = copy(aliceHistory);
      rerooted.checkpoint.root = flipBit(rerooted.checkpoint.root);
      const report = await rejected('history', 'rerooted', rerooted);
      expect(report.code, report.message).to.equal('CHECKPOINT_MISMATCH');
      expect(report.message).to.include(`checkpoint ${aliceHistory.checkpoint.index}`);
      // The root reported is the chain's, not the bundle's.
      expect(report.checkpoint!.root).to.equal(aliceHistory.checkpoint.root);
    });

    it('exits 1 with HISTORY_GAP when `previous` was dropped and the first event kept', async () => {
      const dropped = copy(aliceMiddle);
      dropped.previous = null;
      const report = await rejected('history', 'no-previous', dropped);
      expect(report.code, report.message).to.equal('HISTORY_GAP');
      expect(report.message).to.include(`event seq ${aliceMiddle.events[0].event.seq} links to an earlier event`);
    });

    it('exits 1 with HISTORY_GAP when the last event before `next` was removed', async () => {
      const cut = copy(aliceMiddle);
      cut.events.pop();
      const report = await rejected('history', 'no-last', cut);
      expect(report.code, report.message).to.equal('HISTORY_GAP');
      expect(report.message).to.include(
        `next event seq ${aliceMiddle.next!.event.seq} does not link to seq ${cut.events[cut.events.length - 1].event.seq}`,
      );
    });

    it('prints the reason on the human line: "invalid (HISTORY_GAP): …" and exits 1', async () => {
      const cut = copy(aliceHistory);
      cut.events.splice(middle(), 1);
      const r = await verify('history', [save('removed-human', cut)]);
      expect(r.status).to.equal(1);
      expect(r.stdout).to.match(/^invalid \(HISTORY_GAP\): event seq \d+ does not link to seq \d+/);
    });

    it('exits 1 when one of several bundles fails, and 0 only when every one holds', async () => {
      const cut = copy(aliceHistory);
      cut.events.splice(middle(), 1);
      const r = await verify(
        'history',
        [save('alice', aliceHistory), save('gate', gateHistory), save('removed', cut)],
        { json: true },
      );
      expect(r.status, r.stdout + r.stderr).to.equal(1);
      expect((JSON.parse(r.stdout) as Report[]).map((x) => x.code)).to.deep.equal(['VALID', 'VALID', 'HISTORY_GAP']);
    });
  });

  describe('when an event bundle is tampered with', () => {
    it('exits 1 with EVENT_ALTERED naming the seq of a scan whose decision was rewritten', async () => {
      const altered = copy(eventBundle);
      altered.events[0].event.data.decision = altered.events[0].event.data.decision === 'deny' ? 'allow' : 'deny';
      const report = await rejected('proof', 'event-altered', altered);
      expect(report.code, report.message).to.equal('EVENT_ALTERED');
      expect(report.message).to.include(`event seq ${aliceScanSeq}:`);
    });

    it('exits 1 with NOT_INCLUDED naming the seq when a proof hash has a flipped bit', async () => {
      const flipped = copy(eventBundle);
      const proof = flipped.events[0].proof;
      proof[proof.length - 1] = flipBit(proof[proof.length - 1]);
      const report = await rejected('proof', 'event-flipped', flipped);
      expect(report.code, report.message).to.equal('NOT_INCLUDED');
      expect(report.message).to.include(`event seq ${aliceScanSeq}:`);
    });
  });

  describe('against another registry on the same chain', () => {
    let other: string;
    before(async () => {
      other = (await deployRegistry(node.url)).address;
    });

    it('exits 1 with CHECKPOINT_MISMATCH when --contract names it', async () => {
      const r = await verify('history', [save('alice', aliceHistory)], { json: true, contract: other });
      expect(r.status, r.stdout + r.stderr).to.equal(1);
      const report = JSON.parse(r.stdout) as Report;
      expect(report.code).to.equal('CHECKPOINT_MISMATCH');
      expect(report.message).to.include(other.toLowerCase());
    });

    it('exits 1 with CHECKPOINT_MISMATCH when the bundle is also rewritten to name it: that registry has no such checkpoint', async () => {
      const moved = copy(aliceHistory);
      moved.chain.contract = other;
      const r = await verify('history', [save('moved', moved)], { json: true, contract: other });
      expect(r.status, r.stdout + r.stderr).to.equal(1);
      const report = JSON.parse(r.stdout) as Report;
      expect(report.code, report.message).to.equal('CHECKPOINT_MISMATCH');
      expect(report.message).to.include(`no checkpoint ${aliceHistory.checkpoint.index} of issuer ${ISSUER}`);
    });
  });

  describe('GET /v1/proofs/*', () => {
    it('answers 409 NOT_ANCHORED_YET for an event after the latest checkpoint', async () => {
      const { checkpoint } = await anchorStatus();
      const seq = checkpoint!.treeSize + 1;
      // The event exists: it is the ledger's record of that checkpoint, which no checkpoint covers yet.
      expect((await svc.head()).seq).to.be.at.least(seq);
      const r = await call('GET', `/v1/proofs/events/${seq}`, auditor);
      expect(r.status, JSON.stringify(r.body)).to.equal(409);
      expect(r.body.error.code).to.equal('NOT_ANCHORED_YET');
      expect(r.body.error.message).to.include(`event ${seq}`);
    });

    it('answers 404 NOT_FOUND, not 409, for an event the ledger does not hold', async () => {
      const seq = (await svc.head()).seq + 1000;
      const r = await call('GET', `/v1/proofs/events/${seq}`, auditor);
      expect(r.status, JSON.stringify(r.body)).to.equal(404);
      expect(r.body.error.code).to.equal('NOT_FOUND');
    });

    it("answers 403 to a token that is not an auditor's, and 401 without a token", async () => {
      for (const path of [
        `/v1/proofs/events/${aliceScanSeq}`,
        `/v1/proofs/subjects/${alice.pseudonym}`,
        `/v1/proofs/venues/${gate.id}`,
      ]) {
        for (const token of [operator, health, alice.token]) {
          const r = await call('GET', path, token);
          expect(r.status, `${path}: ${JSON.stringify(r.body)}`).to.equal(403);
          expect(r.body.error.code).to.equal('FORBIDDEN');
        }
        expect((await call('GET', path)).status, path).to.equal(401);
      }
    });
  });

  describe('closing the open end with a seal (POST /v1/proofs/*/seal)', () => {
    it('refuses anyone but an auditor (403, 401) and an unknown subject (404), writing nothing', async () => {
      const head = await svc.head();
      for (const token of [operator, health, alice.token])
        expect((await call('POST', `/v1/proofs/subjects/${alice.pseudonym}/seal`, token)).status).to.equal(403);
      expect((await call('POST', `/v1/proofs/venues/${gate.id}/seal`)).status).to.equal(401);
      expect((await call('POST', '/v1/proofs/subjects/AAAAAAAAAAAAAAAA/seal', auditor)).status).to.equal(404);
      expect((await call('POST', '/v1/proofs/subjects/short/seal', auditor)).status).to.equal(400);
      expect((await call('POST', '/v1/proofs/venues/AAAAAAAAAAAAAAAA/seal', auditor)).status).to.equal(404);
      expect(await svc.head()).to.deep.equal(head);
    });

    it("makes Alice's whole history provably complete: the seal is `next`, and dropping her last event is a HISTORY_GAP", async () => {
      const sealed = await call('POST', `/v1/proofs/subjects/${alice.pseudonym}/seal`, auditor);
      expect(sealed.status, JSON.stringify(sealed.body)).to.equal(201);
      expect(sealed.body).to.include({ subject: `r:${alice.pseudonym}` });
      await until(
        'a checkpoint covering the seal',
        async () => ((await anchorStatus()).checkpoint?.treeSize ?? 0) >= sealed.body.seq,
      );

      const to = new Date(Date.parse(sealed.body.at) - 1).toISOString();
      const closed = await fetchBundle(`/v1/proofs/subjects/${alice.pseudonym}?to=${encodeURIComponent(to)}`);
      expect(closed.next?.event).to.include({ seq: sealed.body.seq, type: 'audit.sealed', hash: sealed.body.hash });
      expect(closed.next!.event.data).to.deep.equal({ by: closed.next!.event.data.by });
      expect(seqs(closed.events)).to.deep.equal(seqs(aliceHistory.events));

      const r = await verify('history', [save('alice-sealed', closed)]);
      expect(r.status, r.stdout + r.stderr).to.equal(0);
      expect(r.stdout.trim().split('\n')[0]).to.match(
        new RegExp(
          `and the history has no gaps; no event of r:${alice.pseudonym} follows until its seal at seq ${sealed.body.seq}$`,
        ),
      );

      const dropped = copy(closed);
      const last = dropped.events.pop()!;
      const report = await rejected('history', 'alice-sealed-dropped', dropped);
      expect(report.code).to.equal('HISTORY_GAP');
      expect(report.message)
        .to.include(`seq ${sealed.body.seq}`)
        .and.include(`seq ${dropped.events[dropped.events.length - 1].event.seq}`);
      expect(last.event.seq).to.be.below(sealed.body.seq);
    });

    it("seals a venue's history the same way", async () => {
      const sealed = await call('POST', `/v1/proofs/venues/${gate.id}/seal`, auditor);
      expect(sealed.status, JSON.stringify(sealed.body)).to.equal(201);
      await until(
        'a checkpoint covering the seal',
        async () => ((await anchorStatus()).checkpoint?.treeSize ?? 0) >= sealed.body.seq,
      );
      const to = new Date(Date.parse(sealed.body.at) - 1).toISOString();
      const closed = await fetchBundle(`/v1/proofs/venues/${gate.id}?to=${encodeURIComponent(to)}`);
      expect(closed.next?.event.seq).to.equal(sealed.body.seq);
      const r = await verify('history', [save('gate-sealed', closed)]);
      expect(r.status, r.stdout + r.stderr).to.equal(0);
      expect(r.stdout).to.include(`follows until its seal at seq ${sealed.body.seq}`);
    });
  });
});
