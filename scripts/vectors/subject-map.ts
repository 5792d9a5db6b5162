/**
 * Writes test/verifier/vectors/subject-map.json: the subject heads map of FORMAT.md §13 —
 * keys, leaf and node hashes, the roots of a few maps, and proofs of heads and of absence,
 * each as it is and changed in the ways a verifier must refuse (`wantErr`).
 * Run: npx tsx scripts/vectors/subject-map.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { toHex } from '../../verifier/src/bytes';
import {
  EMPTY_NODE,
  SubjectMap,
  keyBit,
  leafHash,
  nodeHash,
  rootFromSubjectProof,
  subjectKey,
  type SubjectHead,
  type SubjectProof,
} from '../../verifier/src/subject-map';

/** A deterministic event hash for subject `s`'s n-th event. */
const headOf = (s: string, n: number) => createHash('sha256').update(`event ${n} of ${s}`).digest('hex');
const flip = (h: string) => h.slice(0, -1) + (parseInt(h.slice(-1), 16) ^ 1).toString(16);

const SUBJECTS = [
  'r:QWxpY2UtcHNldWRvbnltMQ',
  'r:Qm9iLXBzZXVkb255bS0y',
  'v:340104-gate-7',
  'v:翡翠湖小区',
  'anchor',
  'rules',
  'issuer',
  'access',
  'r:Q2Fyb2wtcHNldWRvbnk',
  'r:RGF2ZS1wc2V1ZG9ueW0',
  'v:340202-school-1',
  'feeds',
];

interface MapVector {
  desc: string;
  heads: Record<string, SubjectHead>;
  root: string;
}

interface ProofCase {
  desc: string;
  map: number;
  subject: string;
  count: number;
  head: string | null;
  proof: SubjectProof;
  wantErr: boolean;
  errCode?: 'MALFORMED' | 'ROOT_MISMATCH';
}

const maps: MapVector[] = [];
const built: SubjectMap[] = [];
function addMap(desc: string, heads: Record<string, SubjectHead>): number {
  const m = SubjectMap.empty().with(Object.entries(heads));
  maps.push({ desc, heads, root: toHex(m.root()) });
  built.push(m);
  return maps.length - 1;
}

const empty = addMap('the empty map', {});
const one = addMap('one subject: its leaf is the root', { [SUBJECTS[0]]: { count: 1, head: headOf(SUBJECTS[0], 1) } });
const many = addMap(
  `${SUBJECTS.length} subjects`,
  Object.fromEntries(SUBJECTS.map((s, i) => [s, { count: i + 1, head: headOf(s, i + 1) }])),
);

const cases: ProofCase[] = [];
const prove = (map: number, subject: string) => {
  const h = built[map].get(subject);
  return { map, subject, count: h.count, head: h.head, proof: built[map].prove(subject) };
};
const ok = (desc: string, c: ReturnType<typeof prove>) => cases.push({ desc, ...c, wantErr: false });
const bad = (desc: string, c: ReturnType<typeof prove>, errCode: 'MALFORMED' | 'ROOT_MISMATCH') => cases.push({ desc, ...c, wantErr: true, errCode });

ok('absence in the empty map', prove(empty, SUBJECTS[1]));
ok('the only subject of a map (depth 0, no siblings)', prove(one, SUBJECTS[0]));
ok('absence in a map of one other subject: the proof ends at its leaf', prove(one, SUBJECTS[1]));
for (const s of SUBJECTS) ok(`the head of ${s} among ${SUBJECTS.length} subjects`, prove(many, s));

// Absent subjects whose paths end in an empty subtree, and at another subject's leaf.
let endsEmpty: ReturnType<typeof prove> | undefined;
let endsAtLeaf: ReturnType<typeof prove> | undefined;
for (let i = 0; !(endsEmpty && endsAtLeaf); i++) {
  const c = prove(many, `r:absent-${i}`);
  if (c.proof.other) endsAtLeaf ??= c;
  else endsEmpty ??= c;
}
ok('absence: the path ends in an empty subtree', endsEmpty!);
ok('absence: the path ends at another subject’s leaf', endsAtLeaf!);

const alice = prove(many, SUBJECTS[0]);
const deep = SUBJECTS.map((s) => prove(many, s)).sort((a, b) => b.proof.siblings.length - a.proof.siblings.length)[0];
const copy = <T>(x: T): T => structuredClone(x);

bad('a sibling with a flipped bit', { ...copy(deep), proof: { ...deep.proof, siblings: [flip(deep.proof.siblings[0]), ...deep.proof.siblings.slice(1)] } }, 'ROOT_MISMATCH');
bad('the count one lower (an event left out)', { ...copy(deep), count: deep.count - 1 }, 'ROOT_MISMATCH');
bad('a count of 0 with a head', { ...copy(alice), count: 0 }, 'MALFORMED');
bad('the count one higher', { ...copy(deep), count: deep.count + 1 }, 'ROOT_MISMATCH');
bad('another head (an earlier event named as the last)', { ...copy(deep), head: headOf(deep.subject, deep.count - 1) }, 'ROOT_MISMATCH');
bad('the proof of another subject', { ...copy(deep), subject: alice.subject }, 'ROOT_MISMATCH');
bad('a present subject claimed absent with its own proof', { ...copy(deep), count: 0, head: null }, 'ROOT_MISMATCH');
bad('a present subject claimed absent, its leaf named as the other', { ...copy(deep), count: 0, head: null, proof: { ...deep.proof, other: { key: toHex(subjectKey(deep.subject)), count: deep.count, head: deep.head! } } }, 'MALFORMED');
bad('a sibling missing', { ...copy(deep), proof: { ...deep.proof, siblings: deep.proof.siblings.slice(1) } }, 'MALFORMED');
bad('a sibling too many', { ...copy(deep), proof: { ...deep.proof, siblings: [...deep.proof.siblings, deep.proof.siblings[0]] } }, 'MALFORMED');
bad('an empty sibling listed', { ...copy(deep), proof: { ...deep.proof, siblings: [toHex(EMPTY_NODE), ...deep.proof.siblings.slice(1)] } }, 'MALFORMED');
{
  // The deepest set bit cleared and a deeper one set: the same siblings at other depths.
  const bits = Buffer.from(deep.proof.bitmap, 'hex');
  const d = deep.proof.siblings.length && [...Array(256).keys()].filter((i) => keyBit(bits, i)).pop()!;
  bits[d >> 3] &= ~(0x80 >> (d & 7));
  bits[(d + 1) >> 3] |= 0x80 >> ((d + 1) & 7);
  bad('the bitmap moved one level deeper', { ...copy(deep), proof: { ...deep.proof, bitmap: bits.toString('hex') } }, 'ROOT_MISMATCH');
}
bad('a bitmap that is not 64 hex digits', { ...copy(deep), proof: { ...deep.proof, bitmap: deep.proof.bitmap.slice(2) } }, 'MALFORMED');
bad('a head with a count of 0', { ...copy(endsEmpty!), head: headOf('x', 1) }, 'MALFORMED');
bad('a count with no head', { ...copy(deep), head: null }, 'MALFORMED');
bad('a proof of a head naming another leaf', { ...copy(deep), proof: { ...deep.proof, other: endsAtLeaf!.proof.other } }, 'MALFORMED');
{
  const o = endsAtLeaf!.proof.other!;
  bad('absence: the other leaf with another count', { ...copy(endsAtLeaf!), proof: { ...endsAtLeaf!.proof, other: { ...o, count: o.count + 1 } } }, 'ROOT_MISMATCH');
  // A key that leaves the path: flip its first bit.
  const off = Buffer.from(o.key, 'hex');
  off[0] ^= 0x80;
  bad('absence: an other leaf whose key is not on the path', { ...copy(endsAtLeaf!), proof: { ...endsAtLeaf!.proof, other: { ...o, key: off.toString('hex') } } }, 'MALFORMED');
  bad('absence ending at a leaf, its other left out', { ...copy(endsAtLeaf!), proof: { bitmap: endsAtLeaf!.proof.bitmap, siblings: endsAtLeaf!.proof.siblings } }, 'ROOT_MISMATCH');
}
bad('absence in the empty map checked against another map', { ...prove(empty, SUBJECTS[1]), map: one }, 'ROOT_MISMATCH');

// The generator checks itself: every case gives what it says.
for (const c of cases) {
  let got: string;
  try {
    got = toHex(rootFromSubjectProof(subjectKey(c.subject), { count: c.count, head: c.head }, c.proof)) === maps[c.map].root ? 'VALID' : 'ROOT_MISMATCH';
  } catch (e) {
    got = (e as { code: string }).code;
  }
  const want = c.wantErr ? c.errCode : 'VALID';
  if (got !== want) throw new Error(`${c.desc}: got ${got}, want ${want}`);
}

const hashes = {
  leaves: [
    { key: toHex(subjectKey(SUBJECTS[0])), count: 1, head: headOf(SUBJECTS[0], 1) },
    { key: toHex(subjectKey(SUBJECTS[3])), count: 2 ** 32 + 5, head: headOf(SUBJECTS[3], 5) },
  ].map((l) => ({ ...l, leafHash: toHex(leafHash(Buffer.from(l.key, 'hex'), l.count, Buffer.from(l.head, 'hex'))) })),
  nodes: [
    [toHex(EMPTY_NODE), toHex(EMPTY_NODE)],
    [headOf('left', 1), toHex(EMPTY_NODE)],
    [toHex(EMPTY_NODE), headOf('right', 1)],
    [headOf('left', 1), headOf('right', 1)],
  ].map(([left, right]) => ({ left, right, nodeHash: toHex(nodeHash(Buffer.from(left, 'hex'), Buffer.from(right, 'hex'))) })),
};

const out = {
  description:
    'Subject heads map (verifier/FORMAT.md §13). All byte strings are lower-case hex. key = SHA-256(UTF-8(subject)); ' +
    'leafHash = SHA-256(0x02 || key || uint64be(count) || head); nodeHash = SHA-256(0x03 || left || right), except that two empty (all-zero) children give the empty node; ' +
    'a leaf sits at the root of the largest subtree holding no other key. A proof: bitmap bit i (MSB of byte 0 first) set when the sibling at depth i+1 is not empty; ' +
    'siblings: those, deepest first; other: the leaf a proof of absence ends at. Each case: verify subject with {count, head} and proof against maps[map].root; ' +
    'errCode is the result when wantErr is true.',
  subjectKeys: SUBJECTS.map((s) => ({ subject: s, key: toHex(subjectKey(s)) })),
  hashes,
  maps,
  cases,
};
const file = join(__dirname, '../../test/verifier/vectors/subject-map.json');
writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
console.log(`wrote ${cases.length} cases (${cases.filter((c) => c.wantErr).length} wantErr) over ${maps.length} maps to ${file}`);
