import * as crypto from 'node:crypto';
import { createQr } from '../../verifier/src/qr';
import {
  decodeCode,
  prepareTrustList,
  signCode,
  toBase64Url,
  verifyCode,
  type Backend,
  type CodeClaims,
  type PreparedTrustList,
  type TrustListJson,
} from '../../verifier/src';
import { buildTrustList, createTestIssuer, type TestIssuer } from '../../test/support/issuer-fixture';
import {
  aim,
  figure,
  fmt,
  fmtRatio,
  heading,
  interleavedRounds,
  rateAsync,
  rateConcurrent,
  rateSync,
  round,
  table,
  type RateFigure,
} from './util';

/** Issuers a verifier in Anhui would realistically trust: its own and four neighbours. */
const ISSUERS = [
  { id: '340000', name: '安徽省' },
  { id: '310000', name: '上海市' },
  { id: '320000', name: '江苏省' },
  { id: '330000', name: '浙江省' },
  { id: '420000', name: '湖北省' },
];
/** Entries per status list: a province of a few million residents, rounded to 2^20. */
const STATUS_ENTRIES = 1 << 20;
const CODE_POOL = 1024;
const ROUND_MS = 700;
const ROUNDS = 5;
/** FORMAT.md's budget: a code should stay short enough for QR version 10 at level M. */
const MAX_CHARS = 270;
const MAX_QR_VERSION = 10;
const VERIFY_AIM = 0.7;
const IN_FLIGHT = 64;
const IN_FLIGHT_BACKENDS = ['node', 'node-async'] as const;

export interface CodeSize {
  code: string;
  chars: number;
  qrVersion: number;
  flagged: boolean;
  /** Whether the size aim applies (resident codes). */
  aimed: boolean;
}

export interface VerifyBenchResult {
  setup: { issuers: number; keys: number; codes: number; statusListEntries: number; roundMs: number; rounds: number };
  raw: RateFigure;
  verifyCode: RateFigure & { ratio: number };
  verifyCodeWithStatusList: RateFigure & { ratio: number };
  decodeOnly: RateFigure;
  backends: Record<Backend, RateFigure & { ratio: number }>;
  /** `IN_FLIGHT` verifications awaited together; node-async spreads them over libuv's thread pool. */
  inFlight: { count: number } & Record<(typeof IN_FLIGHT_BACKENDS)[number], RateFigure & { ratio: number }>;
  aim: { ratioAtLeast: number; met: boolean };
  sizes: CodeSize[];
}

interface Sample {
  text: string;
  msg: Uint8Array;
  sig: Uint8Array;
  key: crypto.KeyObject;
}

function nodePublicKey(raw: Uint8Array): crypto.KeyObject {
  return crypto.createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]),
    format: 'der',
    type: 'spki',
  });
}

/** Codes as they arrive at a gate in Anhui: mostly home codes, some from neighbours, a few yellow. */
async function makeCodes(
  issuers: TestIssuer[],
  now: number,
): Promise<{ samples: Sample[]; statuses: Map<string, Uint8Array> }> {
  const statuses = new Map(issuers.map((i) => [i.id, new Uint8Array(STATUS_ENTRIES)]));
  const keys = new Map(issuers.map((i) => [i.id, nodePublicKey(i.publicKey)]));
  const usedIndex = new Set<string>();
  const samples: Sample[] = [];
  for (let n = 0; n < CODE_POOL; n++) {
    const issuer = n % 10 < 7 ? issuers[0] : issuers[1 + (n % 4)];
    let statusIndex: number;
    do statusIndex = crypto.randomInt(STATUS_ENTRIES);
    while (usedIndex.has(`${issuer.id}/${statusIndex}`));
    usedIndex.add(`${issuer.id}/${statusIndex}`);
    const colour = n % 17 === 0 ? 'yellow' : 'green';
    statuses.get(issuer.id)![statusIndex] = colour === 'yellow' ? 1 : 0;
    const claims = issuer.residentClaims({
      iat: now - 120,
      exp: now + 480,
      health: { colour, statusIndex, ruleVersion: 3 },
    });
    const text = await issuer.sign(claims);
    const d = decodeCode(text);
    samples.push({ text, msg: d.toBeSigned, sig: d.signature, key: keys.get(issuer.id)! });
  }
  return { samples, statuses };
}

/** decodeCode plus the key's verifier from a list prepared for one backend: verifyCode's crypto path, minus its policy checks. */
function backendVerify(prepared: PreparedTrustList, samples: Sample[]) {
  return async (i: number) => {
    const d = decodeCode(samples[i % samples.length].text);
    const key = prepared.issuers.get(d.claims.iss)!.keys.get(toBase64Url(d.kid))!;
    if (!(await key.verifier.verify(d.toBeSigned, d.signature))) throw new Error('bench code did not verify');
  };
}

async function codeSizes(issuer: TestIssuer, now: number): Promise<CodeSize[]> {
  const resident = (mode: 'dynamic' | 'printed') =>
    issuer.residentClaims({
      iat: now,
      exp: now + (mode === 'dynamic' ? 600 : 7 * 86400),
      health: { colour: 'green', ruleVersion: 12, statusIndex: 1_048_575, maskedName: '张*明', idLast4: '123X', mode },
    });
  const venue = (name: string) =>
    issuer.venueClaims({
      iat: now,
      exp: now + 365 * 86400,
      venue: { type: 'residential-community', name, district: '340104' },
    });
  const cases: Array<[string, CodeClaims]> = [
    ['resident, dynamic (张*明, status index ~1e6)', resident('dynamic')],
    ['resident, printed', resident('printed')],
    ['venue, 合肥市第一中学 (7 chars)', venue('合肥市第一中学')],
    ['venue, 20-char community name', venue('合肥市蜀山区三里庵街道安居苑社区居委')],
    ['venue, 32-char name (the format limit)', venue('安'.repeat(32))],
  ];
  const out: CodeSize[] = [];
  for (const [code, claims] of cases) {
    const text = await signCode(claims, issuer.signer);
    const qrVersion = createQr(text).version;
    // The size aim is for resident codes, shown on phones and printed on cards; venue codes are printed large at a gate.
    const aimed = claims.kind === 'resident';
    out.push({
      code,
      chars: text.length,
      qrVersion,
      flagged: aimed && (text.length > MAX_CHARS || qrVersion > MAX_QR_VERSION),
      aimed,
    });
  }
  return out;
}

/**
 * Issue 2: verifications per second of `verifyCode` (one thread, text input, awaited one
 * at a time) against raw `crypto.verify` over the same Sig_structure bytes, measured in
 * interleaved rounds in this run; then the same through each backend; then code sizes.
 */
export async function benchVerify(): Promise<VerifyBenchResult> {
  const now = Math.floor(Date.now() / 1000);
  const issuers = ISSUERS.map((i) => createTestIssuer(i));
  const trustList: TrustListJson = buildTrustList(
    issuers,
    new Date((now - 86400) * 1000).toISOString().replace(/\.\d+Z$/, 'Z'),
  );
  // The home issuer also lists its previous key, as it would during a rotation.
  const previous = createTestIssuer({
    id: '340000',
    notBefore: '2024-01-01T00:00:00Z',
    notAfter: '2026-01-01T00:00:00Z',
  });
  trustList.issuers[0] = { ...trustList.issuers[0], keys: [previous.trustListKey, ...trustList.issuers[0].keys] };
  const { samples, statuses } = await makeCodes(issuers, now);
  const statusLists = await Promise.all(
    issuers.map((i) => i.signStatusList({ issuedAt: now - 60, statuses: statuses.get(i.id)! })),
  );
  const plain = { trustList };
  const withStatus = { trustList, statusLists };

  // Every path must accept every code, or the figures below would time failures.
  for (const s of samples) {
    for (const opts of [plain, withStatus]) {
      const r = await verifyCode(s.text, opts);
      if (!r.valid) throw new Error(`bench code refused: ${r.code} ${r.message}`);
    }
    if (!crypto.verify(null, s.msg, s.key, s.sig)) throw new Error('bench code refused by crypto.verify');
  }

  const backends: Backend[] = ['node', 'node-async', 'webcrypto', 'noble'];
  const prepared = Object.fromEntries(backends.map((b) => [b, prepareTrustList(trustList, b)])) as Record<
    Backend,
    PreparedTrustList
  >;
  const n = samples.length;
  const variants = {
    raw: () =>
      rateSync((i) => crypto.verify(null, samples[i % n].msg, samples[i % n].key, samples[i % n].sig), ROUND_MS),
    verifyCode: () => rateAsync((i) => verifyCode(samples[i % n].text, plain), ROUND_MS),
    verifyCodeWithStatusList: () => rateAsync((i) => verifyCode(samples[i % n].text, withStatus), ROUND_MS),
    decodeOnly: () => rateSync((i) => decodeCode(samples[i % n].text), ROUND_MS),
    ...Object.fromEntries(
      backends.map((b) => [
        `backend:${b}`,
        () => rateAsync(backendVerify(prepared[b], samples), b === 'noble' ? ROUND_MS * 2 : ROUND_MS),
      ]),
    ),
    // As a server sees them: many verifications at once.
    ...Object.fromEntries(
      IN_FLIGHT_BACKENDS.map((b) => [
        `inFlight:${b}`,
        () => rateConcurrent(backendVerify(prepared[b], samples), ROUND_MS, IN_FLIGHT),
      ]),
    ),
  };
  const warmup = Object.fromEntries(Object.entries(variants).map(([k, v]) => [k, () => v()]));
  const rounds = await interleavedRounds(variants, { rounds: ROUNDS, warmup });

  const raw = figure(rounds.raw);
  const withRatio = (xs: number[]) => {
    const f = figure(xs);
    return { ...f, ratio: round(f.perSecond / raw.perSecond, 3) };
  };
  const result: VerifyBenchResult = {
    setup: {
      issuers: issuers.length,
      keys: trustList.issuers.reduce((k, i) => k + i.keys.length, 0),
      codes: n,
      statusListEntries: STATUS_ENTRIES,
      roundMs: ROUND_MS,
      rounds: ROUNDS,
    },
    raw,
    verifyCode: withRatio(rounds.verifyCode),
    verifyCodeWithStatusList: withRatio(rounds.verifyCodeWithStatusList),
    decodeOnly: figure(rounds.decodeOnly),
    backends: Object.fromEntries(
      backends.map((b) => [b, withRatio(rounds[`backend:${b}`])]),
    ) as VerifyBenchResult['backends'],
    inFlight: {
      count: IN_FLIGHT,
      ...(Object.fromEntries(IN_FLIGHT_BACKENDS.map((b) => [b, withRatio(rounds[`inFlight:${b}`])])) as Record<
        (typeof IN_FLIGHT_BACKENDS)[number],
        RateFigure & { ratio: number }
      >),
    },
    aim: { ratioAtLeast: VERIFY_AIM, met: false },
    sizes: await codeSizes(issuers[0], now),
  };
  result.aim.met = result.verifyCode.ratio >= VERIFY_AIM && result.verifyCodeWithStatusList.ratio >= VERIFY_AIM;
  printVerify(result);
  return result;
}

function printVerify(r: VerifyBenchResult): void {
  const row = (what: string, f: RateFigure & { ratio?: number }, note = '') => [
    what,
    fmt(f.perSecond),
    f.ratio === undefined ? '' : fmtRatio(f.ratio),
    `${fmt(f.spread * 100)}%`,
    note,
  ];
  console.log(heading('verify (issue 2): offline verification, one thread, one call in flight'));
  console.log(
    `${r.setup.issuers} issuers, ${r.setup.keys} keys in the trust list; ${r.setup.codes} distinct resident codes (70% home issuer 340000); ` +
      `status lists of ${fmt(r.setup.statusListEntries)} entries for every issuer; median of ${r.setup.rounds} interleaved rounds of ${r.setup.roundMs} ms.`,
  );
  console.log(
    table(
      ['path', 'per second', '÷ raw', 'spread', 'note'],
      [
        row('raw crypto.verify (baseline)', r.raw, 'same Sig_structure bytes, KeyObject ready'),
        row('verifyCode, no status list', r.verifyCode, aim(r.verifyCode.ratio, r.aim.ratioAtLeast)),
        row(
          'verifyCode, with status lists',
          r.verifyCodeWithStatusList,
          aim(r.verifyCodeWithStatusList.ratio, r.aim.ratioAtLeast),
        ),
        row('decodeCode only (no crypto)', r.decodeOnly, 'base45 + CBOR + claim checks'),
        ...(['node', 'node-async', 'webcrypto', 'noble'] as const).map((b) =>
          row(`decodeCode + ${b} backend verify`, r.backends[b], 'prepareTrustList(json, backend); no policy checks'),
        ),
        ...IN_FLIGHT_BACKENDS.map((b) =>
          row(
            `decodeCode + ${b} backend verify, ${r.inFlight.count} in flight`,
            r.inFlight[b],
            b === 'node-async' ? "libuv's thread pool: all cores" : 'the calling thread only',
          ),
        ),
      ],
    ),
  );
  console.log('\nCode sizes (QR alphanumeric mode, error correction M):');
  console.log(
    table(
      ['code', 'chars', 'QR version', 'flag'],
      r.sizes.map((s) => [
        s.code,
        String(s.chars),
        String(s.qrVersion),
        !s.aimed
          ? 'no size aim (venue codes are printed at the gate)'
          : s.flagged
            ? `OVER (> ${MAX_CHARS} chars or version > ${MAX_QR_VERSION})`
            : `ok (≤ ${MAX_CHARS} chars, version ≤ ${MAX_QR_VERSION})`,
      ]),
    ),
  );
}
