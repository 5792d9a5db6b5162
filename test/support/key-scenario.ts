// A service on a real chain whose keys were rotated and revoked, and codes forged with the
// keys an attacker copied off its disk before that: the material the key-lifetime tests of the
// service, the CLI and the web verifier check.
import { expect } from 'chai';
import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DevGovernance } from '../../anchor/council';
import { RegistryClient } from '../../anchor/registry';
import { until } from '../../scripts/lib/wait';
import { indexCode } from '../../server/services/code-index';
import {
  computeKid,
  decodeCode,
  signCode,
  toBase64Url,
  type CodeClaims,
  type ResidentClaims,
  type Signer,
  type TrustListJson,
} from '../../verifier/src';
import { movableClock } from './browser';
import { startHardhatNode, type HardhatNode } from './hardhat-node';
import { newResident, registerVenue, type Resident, type Venue } from './scenario';
import { startTestService, type TestService } from './service';

const DAY = 86_400;

export interface StolenKey {
  kid: string;
  /** The PEM as it lay in DATA_DIR/keys before the key retired. */
  pem: string;
  signer: Signer;
}

/** Codes made with keys the service no longer trusts, or that break a lifetime cap. */
export interface ForgedCodes {
  /** Key A (retired): a printed code dated a minute before A retired, living 20 days (within the printed cap). */
  retiredPrinted: string;
  /** Key A: a dynamic code dated before A retired that expires in 2036 (the review's case). */
  retired2036: string;
  /** Key A: a venue code of the real venue, dated before A retired, living 300 days. */
  retiredVenue: string;
  /** Key A: a dynamic code dated 30 s after A retired, living an hour: what a thief who copied A would make. */
  retiredAfter: string;
  /** Key B (revoked): a printed code dated before the revocation, living 20 days. */
  revokedPrinted: string;
  /** Key B: a dynamic code dated before the revocation that expires in 2036. */
  revoked2036: string;
  /** Key B: a venue code of the real venue. */
  revokedVenue: string;
  /** The key signing now: a dynamic code that lives an hour and a second. */
  overCapDynamic: string;
  /** The key signing now: a printed code that lives 30 days and a second. */
  overCapPrinted: string;
  /** The key signing now: a venue code of the real venue that lives 366 days and a second. */
  overCapVenue: string;
  /** The key signing now, within every cap, naming a status index the service never gave out. */
  unknownIndex: string;
}

export interface KeyScenario {
  node: HardhatNode;
  svc: TestService;
  operator: string;
  venue: Venue;
  resident: Resident;
  /** The first key, retired by POST /v1/admin/keys/rotate. */
  a: StolenKey;
  /** The second key, revoked on chain while it signed; the service then moved to `c`. */
  b: StolenKey;
  c: { kid: string };
  retiredAt: number;
  /** When the service drops A from its trust list (the rotation's answer). */
  listedUntil: number;
  /** The registry on the Hardhat node, where the anchorer shortened A's notAfter to `retiredAt`. */
  registry: RegistryClient;
  /** Block time of B's revocation. */
  revokedAt: number;
  forged: ForgedCodes;
  /**
   * Enters a resident code signed here in the issuer's code index, for the scenario's resident,
   * as issuing it would have: a resident code names nobody (FORMAT.md §4), so the issuer's own
   * gates know whose it is only from the index (an unindexed one is CODE_UNKNOWN there).
   */
  indexAsIssued(code: string): Promise<void>;
  trustList(): Promise<TrustListJson>;
  statusList(): Promise<Buffer>;
  /** Moves the service's clock to a minute after A left the trust list (once). */
  passRetirementWindow(): void;
  close(): Promise<void>;
}

const seconds = (d: Date) => Math.floor(d.getTime() / 1000);

function stealKey(svc: TestService, kid: string): StolenKey {
  const path = join(svc.dir, 'keys', `${kid}.pem`);
  expect(existsSync(path), `${path} while the key signs`).to.equal(true);
  const pem = readFileSync(path, 'utf8');
  const key: KeyObject = createPrivateKey(pem);
  const raw = new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(12));
  expect(toBase64Url(computeKid(raw))).to.equal(kid);
  return { kid, pem, signer: { kid: computeKid(raw), sign: (m) => new Uint8Array(sign(null, m, key)) } };
}

/**
 * Starts a Hardhat node and a service anchored to it (a development chain: it deploys the
 * registry and registers itself and its keys), then: registers a venue and a resident, copies
 * key A off the disk and rotates to B (waiting until the anchorer has retired A on chain), copies
 * B and has the governor revoke it on chain, and lets the service's federation refresh take the
 * revocation in (it moves to C).
 */
export async function startKeyScenario(): Promise<KeyScenario> {
  const node = await startHardhatNode();
  const clock = movableClock();
  let svc: TestService | undefined;
  try {
    svc = await startTestService({
      clock,
      config: {
        CHAIN_RPC_URL: node.url,
        CHAIN_DEV: 'true',
        CHECKPOINT_INTERVAL_SECONDS: '1',
        FEDERATION_REFRESH_SECONDS: '3600',
      },
    });
    const s = svc;
    const keys = () => s.running.app.keys;
    const chainFile = join(s.dir, 'chain.json');
    const registry = await until(
      'the registry on the development chain',
      () =>
        existsSync(chainFile) &&
        new RegistryClient(RegistryClient.provider(node.url), JSON.parse(readFileSync(chainFile, 'utf8')).contract),
    );
    const onChain = (kid: string) =>
      until(`key ${kid} registered on chain`, async () =>
        (await registry.keys(340000)).find((k) => Buffer.from(k.kid.slice(2), 'hex').toString('base64url') === kid),
      );

    const operator = await s.token('operator');
    const venue = await registerVenue(s, operator, {
      type: 'crowded-place',
      subtype: 'mall',
      name: '合肥某商场',
      district: '340104',
    });
    const resident = await newResident(s);
    const statusIndex = (await s.call('GET', '/v1/residents/me', { token: resident.token })).body.resident
      .statusIndex as number;

    const a = stealKey(s, keys().active().record.kid);
    await onChain(a.kid);
    clock.advance(60_000);
    const rotated = await s.call('POST', '/v1/admin/keys/rotate', { token: s.adminToken });
    expect(rotated.status, JSON.stringify(rotated.body)).to.equal(201);
    const aEntry = rotated.body.keys.find((k: { kid: string }) => k.kid === a.kid);
    const retiredAt = Date.parse(aEntry.retiredAt) / 1000;
    const listedUntil = Date.parse(aEntry.listedUntil) / 1000;

    const b = stealKey(s, rotated.body.kid);
    await onChain(b.kid);
    // The rotation has the anchorer reconnect, and it retires A on chain from its own account.
    await until(`key ${a.kid} retired on chain`, async () => (await onChain(a.kid)).notAfter === retiredAt);
    clock.advance(60_000);
    const council = await DevGovernance.attach(registry.provider, registry.address);
    // The service's clock runs ahead of the node's: date the council's blocks (two approvals, then
    // the execution a second or two later) by the service's clock.
    await registry.provider.send('evm_setNextBlockTimestamp', [seconds(clock.now()) - 3]);
    await council.enact([registry.calls.revokeKey(340000, Buffer.from(b.kid, 'base64url').toString('hex'))]);
    const revokedAt = (await onChain(b.kid)).revokedAt;
    expect(revokedAt).to.be.greaterThan(0);
    await s.running.app.federation!.refresh();
    const c = { kid: keys().active().record.kid };
    expect(c.kid).to.not.equal(b.kid);
    // Codes dated a minute ago under C must fall inside C's window.
    clock.advance(2 * 60_000);

    const now = seconds(clock.now());
    const venueClaims = (iat: number, life: number, cti: string): CodeClaims => ({
      kind: 'venue',
      iss: '340000',
      sub: venue.id,
      iat,
      exp: iat + life,
      cti,
      venue: { id: venue.id, type: 'crowded-place', name: venue.name, district: venue.district },
    });
    const residentClaims = (
      iat: number,
      exp: number,
      mode: 'dynamic' | 'printed',
      cti: string,
      index?: number,
    ): ResidentClaims => ({
      kind: 'resident',
      iss: '340000',
      iat,
      exp,
      cti,
      health: {
        colour: 'green',
        ruleVersion: 1,
        statusIndex: index ?? statusIndex,
        maskedName: '张*明',
        idLast4: '123X',
        mode,
      },
    });
    const beforeRetirement = retiredAt - 30;
    const beforeRevocation = revokedAt - 30;
    const in2036 = Date.parse('2036-01-01T00:00:00Z') / 1000;
    const current = keys().active().signer;
    const forged: ForgedCodes = {
      retiredPrinted: await signCode(
        residentClaims(beforeRetirement, beforeRetirement + 20 * DAY, 'printed', 'a000000000000001'),
        a.signer,
      ),
      retired2036: await signCode(residentClaims(beforeRetirement, in2036, 'dynamic', 'a000000000000002'), a.signer),
      retiredVenue: await signCode(venueClaims(beforeRetirement, 300 * DAY, 'a000000000000003'), a.signer),
      retiredAfter: await signCode(
        residentClaims(retiredAt + 30, retiredAt + 30 + 3600, 'dynamic', 'a000000000000004'),
        a.signer,
      ),
      revokedPrinted: await signCode(
        residentClaims(beforeRevocation, beforeRevocation + 20 * DAY, 'printed', 'b000000000000001'),
        b.signer,
      ),
      revoked2036: await signCode(residentClaims(beforeRevocation, in2036, 'dynamic', 'b000000000000002'), b.signer),
      revokedVenue: await signCode(venueClaims(beforeRevocation, 300 * DAY, 'b000000000000003'), b.signer),
      overCapDynamic: await signCode(residentClaims(now - 60, now - 60 + 3601, 'dynamic', 'c000000000000001'), current),
      overCapPrinted: await signCode(
        residentClaims(now - 60, now - 60 + 30 * DAY + 1, 'printed', 'c000000000000002'),
        current,
      ),
      overCapVenue: await signCode(venueClaims(now - 60, 366 * DAY + 1, 'c000000000000003'), current),
      unknownIndex: await signCode(
        residentClaims(now - 60, now - 60 + 600, 'dynamic', 'c000000000000004', 999),
        current,
      ),
    };

    const indexAsIssued = async (code: string) => {
      const c = decodeCode(code).claims as ResidentClaims;
      const entry = { cti: c.cti, iat: c.iat, exp: c.exp, mode: c.health.mode };
      await s.running.app.ledger.transact((tx) => indexCode(tx, entry, resident.pseudonym));
    };
    for (const code of Object.values(forged))
      if (decodeCode(code).claims.kind === 'resident') await indexAsIssued(code);

    let passed = false;
    return {
      node,
      svc: s,
      operator,
      venue,
      resident,
      a,
      b,
      c,
      retiredAt,
      listedUntil,
      registry,
      revokedAt,
      forged,
      indexAsIssued,
      trustList: async () => (await s.call('GET', '/v1/trust-list')).body as TrustListJson,
      statusList: async () => (await s.call('GET', '/v1/status-list')).bytes,
      passRetirementWindow() {
        if (passed) return;
        passed = true;
        clock.advance((listedUntil + 60) * 1000 - clock.now().getTime());
      },
      async close() {
        await s.close();
        await node.stop();
      },
    };
  } catch (e) {
    await svc?.close();
    await node.stop();
    throw e;
  }
}
