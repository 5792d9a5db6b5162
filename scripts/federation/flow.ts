/**
 * The federation walk-through (一码通, 全国互认): one Hardhat node, one AnchorRegistry governed
 * by the development council, and three independent issuer services — Anhui, Jiangsu, Shanghai — each its own process with
 * its own LevelDB and keys, sharing nothing but the chain. `npm run demo:federation` prints
 * each step; test/anchor/federation.test.ts runs the same walk and asserts every outcome.
 */
import { generateKeyPairSync, randomBytes, sign as edSign, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevNode, type DevNode } from '../../anchor/dev-node';
import { DEV_COUNCIL, DevGovernance } from '../../anchor/council';
import { RegistryClient } from '../../anchor/registry';
import { gb11643CheckChar } from '../../server/domain/identity';
import { computeKid, decodeCode, signCode, type CodeClaims } from '../../verifier/src';
import { run as runCli } from '../../verifier/cli/run';
import { startServiceProcess, type ServiceProcess } from '../lib/service-process';
import { signIn } from '../lib/sign-in';
import { until } from '../lib/wait';

export const PROVINCES = [
  { id: '340000', name: '安徽省', district: '340104', account: 1 },
  { id: '320000', name: '江苏省', district: '320102', account: 2 },
  { id: '310000', name: '上海市', district: '310101', account: 3 },
] as const;
type ProvinceId = (typeof PROVINCES)[number]['id'];

export interface Issuer {
  id: ProvinceId;
  name: string;
  url: string;
  admin: string;
  /** The service's development SMS outbox (`DATA_DIR/sms-outbox.jsonl`): its embedded provider's one-time codes. */
  outbox: string;
  process: ServiceProcess;
}

export interface Scan {
  decision: string;
  codeResult: string;
  issuer: string | null;
  seq: number;
}

/** Everything observed on the walk; the test asserts on it, the demo prints it. */
export interface FederationOutcome {
  contract: string;
  registered: number[];
  recognised: Record<string, string[]>;
  /**
   * The Jiangsu resident's session: what Jiangsu's `GET /v1/auth/session` says of it, and
   * the status Anhui answers `GET /v1/residents/me` with for the same token.
   */
  session: { home: { maskedName: string; idType: string; record: string } | null; elsewhereStatus: number };
  crossScan: Scan;
  crossScanSubject: string;
  crossScanAnchoredAt: number | null;
  afterJiangsuRed: Scan;
  forgedIssuer: Scan;
  forgedKey: Scan;
  rotation: { oldKid: string; newKid: string; oldCode: Scan; newCode: Scan; chainKeys: number };
  revocation: { revokedKid: string; revokedCode: Scan; jiangsuNowSignsWith: string; freshCode: Scan };
  offline: { syncExit: number; syncOutput: string; issuersInTrustList: number; codeExit: number; codeOutput: string };
  /**
   * The council suspends Shanghai, then resumes it: Anhui's verdict on a Shanghai code and
   * Shanghai's anchoring state during the suspension, what a trust sync makes of it, and the
   * same code and Shanghai's next checkpoint after the resumption.
   */
  suspension: {
    whileSuspended: Scan;
    anchorWhileSuspended: { state: string; lastError: string | null };
    federationSuspended: string[];
    syncOutput: string;
    issuersInTrustList: number;
    afterResume: Scan;
    checkpointAfterResume: { index: number; treeSize: number };
  };
  /**
   * Witnessing (FORMAT.md §13): each province witnesses the other two with the witness tokens
   * they issued (WITNESS_FOR), the council sets the witness threshold, and an Anhui resident's
   * history is reported complete under a checkpoint cosigned on chain.
   */
  witnessing: {
    witnesses: Array<{ account: string; issuer: number; name: string }>;
    threshold: number;
    /** Anhui's checkpoint the history is under, and what the chain says of it. */
    checkpoint: {
      index: number;
      treeSize: number;
      cosigners: string[];
      attestation: { cosigners: number; threshold: number };
    };
    historyExit: number;
    history: { valid: boolean; complete: boolean; completeness: { code: string }; checkpoint: { cosigned: unknown } };
    /** What each province's /v1/federation/status says of the issuers it witnesses. */
    statuses: Record<
      string,
      Array<{ issuer: string; state: string; cosignedCheckpoint: number | null; refusal: unknown }>
    >;
  };
}

let serial = 0;
function residentId(district: string): string {
  serial++;
  const first17 = `${district}1988${String(1 + (serial % 12)).padStart(2, '0')}${String(1 + (serial % 28)).padStart(2, '0')}${String(100 + (serial % 900)).padStart(3, '0')}`;
  return first17 + gb11643CheckChar(first17);
}

async function call(
  base: string,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
): Promise<{ status: number; json: any }> {
  const res = await fetch(base + path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

async function token(i: Issuer, role: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await call(i.url, 'POST', '/v1/admin/tokens', i.admin, {
    role,
    name: `${role} of the federation demo`,
    ...extra,
  });
  if (r.status !== 201) throw new Error(`token: ${JSON.stringify(r.json)}`);
  return r.json.token;
}

/**
 * A new resident of `district` signs in at the province's own service (its embedded
 * provider: phone, texted code, one-time sign-up) and applies there with that session.
 */
async function applyAt(i: Issuer, district: string) {
  const person = {
    idType: 'resident-id' as const,
    idNumber: residentId(district),
    name: '李小华',
    phone: `13${String(100000000 + serial).slice(-9)}`,
  };
  const { access } = await signIn(i.url, person, { codes: i.outbox });
  const r = await call(i.url, 'POST', '/v1/residents', access, {
    phone: person.phone,
    district,
    declaration: { temperatureC: 36.5, symptoms: [], visited: [], contactWithCase: false },
  });
  if (r.status !== 201) throw new Error(`apply at ${i.id}: ${JSON.stringify(r.json)}`);
  return {
    idNumber: person.idNumber,
    token: access,
    code: r.json.code.code as string,
    pseudonym: r.json.resident.pseudonym as string,
  };
}

/** A code signed by a key the chain has never seen, claiming to be `iss`. */
async function forgedCode(iss: string): Promise<string> {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pub = new Uint8Array(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(12));
  const now = Math.floor(Date.now() / 1000);
  const claims: CodeClaims = {
    kind: 'resident',
    iss,
    iat: now - 10,
    exp: now + 600,
    cti: randomBytes(8).toString('hex'),
    health: { colour: 'green', ruleVersion: 1, statusIndex: 0, maskedName: '伪*造', idLast4: '0000', mode: 'dynamic' },
  };
  return signCode(claims, { kid: computeKid(pub), sign: (m) => new Uint8Array(edSign(null, m, privateKey)) });
}

export interface FederationRun {
  node: DevNode;
  issuers: Record<ProvinceId, Issuer>;
  outcome: FederationOutcome;
  stop(): Promise<void>;
}

/** Runs the whole walk; `log` receives one line per step. Call `stop()` when done. */
export async function runFederation(log: (line: string) => void = () => undefined): Promise<FederationRun> {
  const dir = mkdtempSync(join(tmpdir(), 'ankang-federation-'));
  const node = await startDevNode();
  const processes: ServiceProcess[] = [];
  const stop = async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const provider = RegistryClient.provider(node.url);
    const council = await DevGovernance.deploy(provider);
    const contract = council.registry;
    const registry = new RegistryClient(provider, contract);
    log(
      `chain ${node.url}: AnchorRegistry deployed at ${contract}, governed by the development council ${council.council} ` +
        `(${DEV_COUNCIL.threshold} of node accounts ${DEV_COUNCIL.accounts.join(', ')} approve, then a ${DEV_COUNCIL.minDelaySeconds}-second timelock)`,
    );

    const issuers = {} as Record<ProvinceId, Issuer>;
    const envs = {} as Record<ProvinceId, Record<string, string>>;
    await Promise.all(
      PROVINCES.map(async (p) => {
        const admin = `ak_admin_${randomBytes(18).toString('base64url')}`;
        const dataDir = join(dir, p.id);
        const proc = await startServiceProcess(
          (envs[p.id] = {
            // The kernel picks the port as the service listens; its "listening" line names it.
            PORT: '0',
            DATA_DIR: dataDir,
            ISSUER_ID: p.id,
            ADMIN_TOKEN: admin,
            LOG_LEVEL: 'error',
            CHAIN_RPC_URL: node.url,
            CHAIN_DEV: 'true',
            ANCHOR_CONTRACT: contract,
            CHAIN_DEV_ANCHORER_ACCOUNT: String(p.account),
            CHECKPOINT_INTERVAL_SECONDS: '2',
            FEDERATION_REFRESH_SECONDS: '1',
          }),
        );
        processes.push(proc);
        issuers[p.id] = {
          id: p.id,
          name: p.name,
          url: proc.url,
          admin,
          outbox: join(dataDir, 'sms-outbox.jsonl'),
          process: proc,
        };
      }),
    );
    for (const p of PROVINCES)
      log(`issuer ${p.id} ${p.name}: its own service, LevelDB and keys at ${issuers[p.id].url}`);

    const registered = await until('all three issuers registered on chain', async () => {
      const ids = ((await registry.contract.issuerIds()) as bigint[]).map(Number).sort();
      return ids.length === 3 ? ids : undefined;
    });
    log(
      `registered on chain: ${registered.join(', ')} (each service had the development council approve, schedule and execute its registration; in production the council's members do this)`,
    );

    const recognised: Record<string, string[]> = {};
    for (const p of PROVINCES) {
      recognised[p.id] = await until(`${p.id} to recognise the others`, async () => {
        const r = await call(issuers[p.id].url, 'GET', '/v1/federation/status');
        const others = ((r.json.issuers as string[] | undefined) ?? []).sort();
        return others.length === 2 && (r.json.statusLists as string[]).length === 2 ? others : undefined;
      });
    }
    log(`mutual recognition: every service built its trust list from the chain and holds the others' status lists`);

    const anhui = issuers['340000'];
    const jiangsu = issuers['320000'];
    const shanghai = issuers['310000'];
    const operator = await token(anhui, 'operator');
    const venue = await call(anhui.url, 'POST', '/v1/venues', operator, {
      type: 'transport',
      subtype: 'station',
      name: '合肥南站',
      district: '340111',
    });
    const scanAt = async (code: string): Promise<Scan> => {
      const r = await call(anhui.url, 'POST', '/v1/scans', operator, {
        venueId: venue.json.id,
        code,
        temperatureC: 36.4,
      });
      if (r.status !== 201) throw new Error(`scan: ${JSON.stringify(r.json)}`);
      return { decision: r.json.decision, codeResult: r.json.codeResult, issuer: r.json.issuer, seq: r.json.seq };
    };

    const js = await applyAt(jiangsu, '320102');
    const session = {
      home: (await call(jiangsu.url, 'GET', '/v1/auth/session', js.token)).json.resident,
      elsewhereStatus: (await call(anhui.url, 'GET', '/v1/residents/me', js.token)).status,
    };
    log(
      `a Jiangsu resident signs in at Jiangsu's service (phone, texted code, one-time sign-up) and applies there: ` +
        `session of ${session.home?.maskedName}, record ${session.home?.record}; the same token at Anhui's service: HTTP ${session.elsewhereStatus} (sessions stay with their province)`,
    );
    const crossScan = await scanAt(js.code);
    log(
      `a Jiangsu resident's code at an Anhui station: ${crossScan.decision} (${crossScan.codeResult}), scan #${crossScan.seq} in Anhui's ledger`,
    );
    const scanEvent = await call(anhui.url, 'GET', '/v1/anchor/status');
    const crossScanAnchoredAt = await until('the scan to be anchored in Anhui', async () => {
      const s = await call(anhui.url, 'GET', '/v1/anchor/status');
      return s.json.checkpoint && s.json.checkpoint.treeSize >= crossScan.seq
        ? (s.json.checkpoint.index as number)
        : undefined;
    }).catch(() => null);
    void scanEvent;
    log(`that scan is covered by Anhui's checkpoint #${crossScanAnchoredAt} on chain`);

    const health = await token(jiangsu, 'health');
    const changedAt = Date.now();
    const feed = await call(jiangsu.url, 'POST', '/v1/feeds/close-contacts', health, {
      records: [
        {
          idType: 'resident-id',
          idNumber: js.idNumber,
          degree: 1,
          exposedAt: new Date(Date.now() - 3600_000).toISOString(),
        },
      ],
    });
    if (feed.status !== 201) throw new Error(`feed: ${JSON.stringify(feed.json)}`);
    await until("Anhui to refresh Jiangsu's status list", async () => {
      const r = await call(anhui.url, 'GET', '/v1/federation/status');
      return Date.parse(r.json.at) > changedAt + 1000;
    });
    const afterJiangsuRed = await scanAt(js.code);
    log(
      `Jiangsu turns that resident red; Anhui's next refresh of Jiangsu's status list makes the old green code ${afterJiangsuRed.codeResult}: ${afterJiangsuRed.decision}`,
    );

    const forgedIssuer = await scanAt(await forgedCode('330000'));
    const forgedKey = await scanAt(await forgedCode('320000'));
    log(
      `a forged issuer (330000, not on chain): ${forgedIssuer.codeResult}; a forged Jiangsu key: ${forgedKey.codeResult}`,
    );

    const js2 = await applyAt(jiangsu, '320105');
    const oldKid = (await call(jiangsu.url, 'GET', '/v1/trust-list')).json.issuers
      .find((i: { id: string }) => i.id === '320000')
      .keys.at(-1).kid as string;
    const rotated = await call(jiangsu.url, 'POST', '/v1/admin/keys/rotate', jiangsu.admin);
    const newKid = rotated.json.kid as string;
    const chainKeys = await until('the new Jiangsu key on chain', async () => {
      const keys = await registry.keys(320000);
      return keys.some((k) => Buffer.from(k.kid.slice(2), 'hex').toString('base64url') === newKid)
        ? keys.length
        : undefined;
    });
    await until('Anhui to learn the new Jiangsu key', async () => {
      const r = await call(anhui.url, 'GET', '/v1/trust-list');
      return r.json.issuers
        .find((i: { id: string }) => i.id === '320000')
        ?.keys.some((k: { kid: string }) => k.kid === newKid);
    });
    const newCodeText = (await call(jiangsu.url, 'GET', '/v1/residents/me/code', js2.token)).json.code as string;
    const rotation = { oldKid, newKid, oldCode: await scanAt(js2.code), newCode: await scanAt(newCodeText), chainKeys };
    log(
      `Jiangsu rotates its key (${oldKid} → ${newKid}): a code signed before still ${rotation.oldCode.codeResult}, a new one ${rotation.newCode.codeResult}`,
    );

    await council.enact([registry.calls.revokeKey(320000, Buffer.from(newKid, 'base64url').toString('hex'))]);
    const revokedCode = await until('Anhui to stop accepting the revoked key', async () => {
      const s = await scanAt(newCodeText);
      return s.codeResult === 'KEY_REVOKED' ? s : undefined;
    });
    const jiangsuNowSignsWith = await until('Jiangsu to move off its revoked key', async () => {
      const kid = (await call(jiangsu.url, 'GET', '/v1/trust-list')).json.issuers
        .find((i: { id: string }) => i.id === '320000')
        .keys.at(-1).kid as string;
      return kid !== newKid ? kid : undefined;
    });
    const freshCode = await until("a code under Jiangsu's next key to verify in Anhui", async () => {
      const text = (await call(jiangsu.url, 'GET', '/v1/residents/me/code', js2.token)).json.code as string;
      const s = await scanAt(text);
      return s.codeResult === 'VALID' ? s : undefined;
    });
    const revocation = { revokedKid: newKid, revokedCode, jiangsuNowSignsWith, freshCode };
    log(
      `the council revokes ${newKid}: Anhui rejects codes under it (${revokedCode.codeResult}) within one refresh; Jiangsu moves to ${jiangsuNowSignsWith} and its codes verify again`,
    );

    const sh = await applyAt(shanghai, '310101');
    const out: string[] = [];
    const io = {
      out: (t: string) => out.push(t),
      err: (t: string) => out.push(t),
      readStdin: async () => new Uint8Array(),
    };
    const trustFile = join(dir, 'offline', 'trust.json');
    const syncExit = await runCli(['trust', 'sync', '--rpc', node.url, '--contract', contract, '--out', trustFile], io);
    const issuersInTrustList = (JSON.parse(readFileSync(trustFile, 'utf8')) as { issuers: unknown[] }).issuers.length;
    const syncOutput = out.splice(0).join('\n');
    const codeExit = await runCli(
      ['code', sh.code, '--trust-list', trustFile, '--status-list', join(dir, 'offline', 'status-310000.cose')],
      io,
    );
    const offline = { syncExit, syncOutput, issuersInTrustList, codeExit, codeOutput: out.join('\n') };
    log(
      `offline: "ankang-verify trust sync" wrote a trust list of ${issuersInTrustList} issuers from the chain and their status lists; a Shanghai code checked offline: ${offline.codeOutput.split('\n')[0]}`,
    );

    await council.enact([registry.calls.suspendIssuer(310000)]);
    const whileSuspended = await until('Anhui to stop accepting Shanghai codes', async () => {
      const s = await scanAt(sh.code);
      return s.codeResult === 'UNKNOWN_ISSUER' ? s : undefined;
    });
    const federationSuspended = (await call(anhui.url, 'GET', '/v1/federation/status')).json.suspended as string[];
    // A new resident gives Shanghai's anchorer a checkpoint to try.
    await applyAt(shanghai, '310104');
    const shanghaiHead = (await call(shanghai.url, 'GET', '/v1/anchor/status')).json.treeSize as number;
    const anchorWhileSuspended = await until("Shanghai's anchorer to find its checkpoints refused", async () => {
      const r = await call(shanghai.url, 'GET', '/v1/anchor/status');
      return r.json.state === 'suspended'
        ? { state: r.json.state as string, lastError: r.json.lastError as string | null }
        : undefined;
    });
    const suspendedTrust = join(dir, 'offline-suspended', 'trust.json');
    const suspendedSyncExit = await runCli(
      ['trust', 'sync', '--rpc', node.url, '--contract', contract, '--out', suspendedTrust],
      io,
    );
    const suspendedSyncOutput = out.splice(0).join('\n');
    if (suspendedSyncExit !== 0) throw new Error(`trust sync while Shanghai is suspended: ${suspendedSyncOutput}`);
    const suspendedList = (JSON.parse(readFileSync(suspendedTrust, 'utf8')) as { issuers: unknown[] }).issuers.length;
    log(
      `the council suspends Shanghai: Anhui refuses its code (${whileSuspended.codeResult}) within one refresh, a trust sync leaves it out ` +
        `(${suspendedList} issuers), and the registry refuses Shanghai's checkpoints (its anchorer: ${anchorWhileSuspended.state})`,
    );

    await council.enact([registry.calls.resumeIssuer(310000)]);
    const afterResume = await until('Anhui to accept Shanghai codes again', async () => {
      const s = await scanAt(sh.code);
      return s.codeResult === 'VALID' ? s : undefined;
    });
    const checkpointAfterResume = await until('Shanghai to anchor again', async () => {
      const r = await call(shanghai.url, 'GET', '/v1/anchor/status');
      const cp = r.json.checkpoint as { index: number; treeSize: number } | null;
      return r.json.state === 'up' && cp && cp.treeSize >= shanghaiHead
        ? { index: cp.index, treeSize: cp.treeSize }
        : undefined;
    });
    log(
      `the council resumes Shanghai: its code is ${afterResume.codeResult} at Anhui again, and Shanghai catches up with checkpoint #${checkpointAfterResume.index} (${checkpointAfterResume.treeSize} events)`,
    );
    const suspension = {
      whileSuspended,
      anchorWhileSuspended,
      federationSuspended,
      syncOutput: suspendedSyncOutput,
      issuersInTrustList: suspendedList,
      afterResume,
      checkpointAfterResume,
    };

    // Witnessing. Each province issues a witness token to each of the other two, and each
    // service is restarted with WITNESS_FOR naming the other two and their tokens (on the port
    // it had, which its status list URL on chain names, and where the others find its log).
    const witnessTokens = {} as Record<ProvinceId, Record<string, string>>;
    for (const p of PROVINCES) {
      witnessTokens[p.id] = {};
      for (const q of PROVINCES)
        if (q.id !== p.id)
          witnessTokens[p.id][q.id] = await token(issuers[q.id], 'witness', {
            name: `${p.name} (${p.id}) witnessing ${q.id}`,
          });
    }
    await Promise.all(PROVINCES.map((p) => issuers[p.id].process.stop()));
    await Promise.all(
      PROVINCES.map(async (p) => {
        const witnessFor = Object.entries(witnessTokens[p.id])
          .map(([id, t]) => `${id}=${t}`)
          .join(',');
        const proc = await startServiceProcess({
          ...envs[p.id],
          PORT: new URL(issuers[p.id].url).port,
          WITNESS_FOR: witnessFor,
          WITNESS_INTERVAL_SECONDS: '1',
        });
        processes.push(proc);
        issuers[p.id] = { ...issuers[p.id], url: proc.url, process: proc };
      }),
    );
    const witnesses = await until('the three anchorers registered as witnesses', async () => {
      const accounts = (await registry.contract.witnessAccounts()) as string[];
      if (accounts.length < 3) return undefined;
      return Promise.all(accounts.map(async (account) => ({ account, ...(await registry.witness(account)) })));
    });
    await council.enact([registry.calls.setWitnessThreshold(2)]);
    const threshold = await registry.witnessThreshold();
    log(
      `witnesses: each province issues the other two a witness token and witnesses them (WITNESS_FOR); the council registered their anchorers as witnesses ` +
        `(${witnesses.map((w) => `${w.issuer} ${w.account.slice(0, 10)}…`).join(', ')}) and sets the witness threshold to ${threshold}`,
    );

    const ah = await applyAt(anhui, '340104');
    const scanned = await scanAt(ah.code);
    await until("Anhui to anchor the resident's scan", async () => {
      const cp = (await call(anhui.url, 'GET', '/v1/anchor/status')).json.checkpoint as { treeSize: number } | null;
      return cp && cp.treeSize >= scanned.seq;
    });
    const auditor = await token(anhui, 'auditor');
    const bundle = await call(anhui.url, 'GET', `/v1/proofs/subjects/${ah.pseudonym}`, auditor);
    if (bundle.status !== 200) throw new Error(`history bundle: ${JSON.stringify(bundle.json)}`);
    const covering = bundle.json.checkpoint as { index: number; treeSize: number };
    const attestation = await until(
      `Jiangsu and Shanghai to cosign Anhui's checkpoint #${covering.index}`,
      async () => {
        const a = await registry.attestation(340000, covering.index);
        return a.cosigners >= a.threshold && a.threshold >= 1 ? a : undefined;
      },
    );
    const cosigners = await registry.cosigners(340000, covering.index);
    const bundleFile = join(dir, 'offline', 'anhui-history.json');
    writeFileSync(bundleFile, JSON.stringify(bundle.json, null, 2));
    out.splice(0);
    const historyExit = await runCli(['history', bundleFile, '--rpc', node.url, '--contract', contract, '--json'], io);
    const history = JSON.parse(out.splice(0).join('\n')) as FederationOutcome['witnessing']['history'];
    await runCli(['history', bundleFile, '--rpc', node.url, '--contract', contract], io);
    const historyText = out.splice(0).join('\n');
    const statuses: FederationOutcome['witnessing']['statuses'] = {};
    for (const p of PROVINCES) {
      const r = await call(issuers[p.id].url, 'GET', '/v1/federation/status');
      statuses[p.id] = (r.json.witness.issuers as FederationOutcome['witnessing']['statuses'][string]).map(
        ({ issuer, state, cosignedCheckpoint, refusal }) => ({ issuer, state, cosignedCheckpoint, refusal }),
      );
    }
    log(
      `an Anhui resident applies and is scanned at the station; Anhui's checkpoint #${covering.index} is cosigned on chain by ${cosigners.length} witnesses ` +
        `(${attestation.cosigners} of ${attestation.threshold} count), and "ankang-verify history" reading the chain says:\n    ${historyText.replace(/\n/g, '\n    ')}`,
    );
    const witnessing = {
      witnesses: witnesses.map((w) => ({ account: w.account, issuer: w.issuer, name: w.name })),
      threshold,
      checkpoint: {
        index: covering.index,
        treeSize: covering.treeSize,
        cosigners,
        attestation: { cosigners: attestation.cosigners, threshold: attestation.threshold },
      },
      historyExit,
      history,
      statuses,
    };

    return {
      node,
      issuers,
      stop,
      outcome: {
        contract,
        registered,
        recognised,
        session,
        crossScan,
        crossScanSubject: `f:320000:${decodeCode(js.code).claims.cti}`,
        crossScanAnchoredAt,
        afterJiangsuRed,
        forgedIssuer,
        forgedKey,
        rotation,
        revocation,
        offline,
        suspension,
        witnessing,
      },
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
