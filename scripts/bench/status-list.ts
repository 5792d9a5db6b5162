import { randomBytes, randomInt } from 'node:crypto';
import { signStatusList } from '../../verifier/src';
import {
  COVER_RATE_RANGE,
  MIN_STATUS_LIST_SIZE,
  StatusBook,
  StatusCover,
  type CoverRates,
} from '../../server/issuer/status-book';
import { createTestIssuer } from '../../test/support/issuer-fixture';
import { fmt, heading, table } from './util';

/** A realistic split of the residents themselves: 1% red, 2% yellow. */
const REAL = { red: 0.01, yellow: 0.02 };
const POPULATIONS = [10, 100_000, 10_000_000];

export interface StatusListSize {
  residents: number;
  entries: number;
  /** The signed list's bytes (COSE envelope around the gzip'd 2-bit entries) per cover rate. */
  bytes: { low: number; middle: number; high: number };
  /** Today's list before cover: one entry per resident, nothing else. */
  withoutCover: number;
  signMs: number;
}

export interface StatusListBenchResult {
  realSplit: typeof REAL;
  coverRange: typeof COVER_RATE_RANGE;
  sizes: StatusListSize[];
  /** A list at W3C's 131,072 minimum, 10 residents, the middle rates: what 2^17 would have cost. */
  w3cMinimumBytes: number;
}

const rates = (at: 0 | 0.5 | 1): CoverRates => {
  const pick = ([lo, hi]: readonly [number, number]) => lo + at * (hi - lo);
  return { yellow: pick(COVER_RATE_RANGE.yellow), red: pick(COVER_RATE_RANGE.red) };
};

/** A StatusBook holding `residents` at random indexes, REAL split, as the service holds them. */
function bookOf(residents: number, cover: StatusCover): StatusBook {
  const book = new StatusBook('340000', 60, cover);
  for (let k = 0; k < residents; k++) {
    let i: number;
    do i = randomInt(book.drawSpace(1));
    while (book.isIssued(i));
    const u = k / residents;
    book.set(i, u < REAL.red ? 2 : u < REAL.red + REAL.yellow ? 1 : 0);
  }
  return book;
}

/**
 * The signed status list's size on the wire for 10, 100,000 and 10,000,000 residents, at
 * the low end, the middle and the high end of the cover rate range, next to the list without
 * cover (one entry per resident, as before issue 16).
 */
export async function benchStatusList(): Promise<StatusListBenchResult> {
  const issuer = createTestIssuer();
  const now = Math.floor(Date.now() / 1000);
  const sizes: StatusListSize[] = [];
  for (const residents of POPULATIONS) {
    const bytes = { low: 0, middle: 0, high: 0 };
    let entries = 0;
    let signMs = 0;
    for (const [name, at] of [
      ['low', 0],
      ['middle', 0.5],
      ['high', 1],
    ] as const) {
      const book = bookOf(residents, new StatusCover(randomBytes(32), rates(at)));
      const t0 = performance.now();
      bytes[name] = (await book.current(now, issuer.signer)).bytes.length;
      if (name === 'middle') signMs = performance.now() - t0;
      entries = book.listSize;
    }
    const plain = Uint8Array.from({ length: residents }, (_, k) =>
      k < residents * REAL.red ? 2 : k < residents * (REAL.red + REAL.yellow) ? 1 : 0,
    );
    // Shuffle, so the plain list is not sorted by colour (which gzip would favour).
    for (let i = plain.length - 1; i > 0; i--) {
      const j = randomInt(i + 1);
      [plain[i], plain[j]] = [plain[j], plain[i]];
    }
    const withoutCover = (await signStatusList({ iss: '340000', issuedAt: now, statuses: plain }, issuer.signer))
      .length;
    sizes.push({ residents, entries, bytes, withoutCover, signMs: Math.round(signMs) });
  }
  const w3c = new Uint8Array(MIN_STATUS_LIST_SIZE / 2);
  new StatusCover(randomBytes(32), rates(0.5)).fill(w3c, 0, w3c.length);
  const w3cMinimumBytes = (await signStatusList({ iss: '340000', issuedAt: now, statuses: w3c }, issuer.signer)).length;

  const pct = (r: CoverRates) => `${(r.red * 100).toFixed(1)}% red, ${(r.yellow * 100).toFixed(1)}% yellow`;
  console.log(
    heading(
      `status list (issue 16): signed bytes on the wire; residents ${REAL.red * 100}% red, ${REAL.yellow * 100}% yellow; cover low ${pct(rates(0))}, middle ${pct(rates(0.5))}, high ${pct(rates(1))}`,
    ),
  );
  console.log(
    table(
      [
        'residents',
        'entries',
        'bytes, low cover',
        'bytes, middle cover',
        'bytes, high cover',
        'bytes without cover',
        'sign ms (middle)',
      ],
      sizes.map((s) => [
        fmt(s.residents),
        fmt(s.entries),
        fmt(s.bytes.low),
        fmt(s.bytes.middle),
        fmt(s.bytes.high),
        fmt(s.withoutCover),
        fmt(s.signMs),
      ]),
    ),
  );
  console.log(`\nat W3C's 131,072-entry minimum (10 residents, middle cover): ${fmt(w3cMinimumBytes)} bytes`);
  return { realSplit: REAL, coverRange: COVER_RATE_RANGE, sizes, w3cMinimumBytes };
}

if (require.main === module) {
  benchStatusList().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
