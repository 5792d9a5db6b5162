import { expect } from 'chai';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { fromHex, toHex } from '../../verifier/src/bytes';
import {
  EMPTY_NODE,
  SubjectMap,
  keyBit,
  leafHash,
  nodeHash,
  subjectKey,
  verifySubjectProof,
  type SubjectHead,
  type SubjectProof,
} from '../../verifier/src/subject-map';
import * as verifier from '../../verifier/src';
import vectors from './vectors/subject-map.json';

const sha = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
const headOf = (s: string, n: number) => createHash('sha256').update(`${s}#${n}`).digest('hex');
const flipHex = (h: string, at = h.length - 1) =>
  h.slice(0, at) + (parseInt(h[at], 16) ^ 1).toString(16) + h.slice(at + 1);

/**
 * The map's root straight from its definition (FORMAT.md §13.1), as an independent
 * implementation would write it: a subtree of no key is empty, of one key is that key's
 * leaf, of more is the node over its two halves.
 */
function referenceRoot(heads: Map<string, SubjectHead>): string {
  const entries = [...heads].map(([s, h]) => ({ key: createHash('sha256').update(s, 'utf8').digest(), h }));
  const bitOf = (key: Buffer, i: number) => (key[i >> 3] >> (7 - (i % 8))) & 1;
  const subtree = (es: typeof entries, depth: number): Buffer => {
    if (es.length === 0) return Buffer.alloc(32);
    if (es.length === 1) {
      const count = Buffer.alloc(8);
      count.writeBigUInt64BE(BigInt(es[0].h.count));
      return sha(Buffer.from([2]), es[0].key, count, Buffer.from(es[0].h.head!, 'hex'));
    }
    const left = subtree(
      es.filter((e) => bitOf(e.key, depth) === 0),
      depth + 1,
    );
    const right = subtree(
      es.filter((e) => bitOf(e.key, depth) === 1),
      depth + 1,
    );
    if (left.equals(Buffer.alloc(32)) && right.equals(Buffer.alloc(32))) return left;
    return sha(Buffer.from([3]), left, right);
  };
  return subtree(entries, 0).toString('hex');
}

const heads = (n: number, salt = 'x') =>
  new Map(
    Array.from(
      { length: n },
      (_, i) => [`r:${salt}-${i}`, { count: (i % 7) + 1, head: headOf(`${salt}-${i}`, i) }] as const,
    ),
  );

describe('subject heads map (verifier/src/subject-map.ts)', () => {
  it('is exported from the package index', () => {
    expect(verifier.verifySubjectProof).to.equal(verifySubjectProof);
    expect(verifier.SubjectMap).to.equal(SubjectMap);
  });

  describe('test/verifier/vectors/subject-map.json', () => {
    it('keys subjects by SHA-256 of their UTF-8 bytes', () => {
      for (const { subject, key } of vectors.subjectKeys) {
        expect(toHex(subjectKey(subject)), subject).to.equal(key);
        expect(createHash('sha256').update(Buffer.from(subject, 'utf8')).digest('hex')).to.equal(key);
      }
    });

    it('hashes leaves as SHA-256(0x02 ‖ key ‖ uint64be(count) ‖ head), counts past 2^32 included', () => {
      expect(vectors.hashes.leaves.some((l) => l.count > 2 ** 32)).to.equal(true);
      for (const l of vectors.hashes.leaves) {
        expect(toHex(leafHash(fromHex(l.key), l.count, fromHex(l.head)))).to.equal(l.leafHash);
        const count = Buffer.alloc(8);
        count.writeBigUInt64BE(BigInt(l.count));
        expect(
          sha(Buffer.from([2]), Buffer.from(l.key, 'hex'), count, Buffer.from(l.head, 'hex')).toString('hex'),
        ).to.equal(l.leafHash);
      }
    });

    it('hashes nodes as SHA-256(0x03 ‖ left ‖ right), and two empty children as the empty node', () => {
      for (const n of vectors.hashes.nodes) {
        expect(toHex(nodeHash(fromHex(n.left), fromHex(n.right)))).to.equal(n.nodeHash);
        const want = /^0+$/.test(n.left + n.right)
          ? '0'.repeat(64)
          : sha(Buffer.from([3]), Buffer.from(n.left, 'hex'), Buffer.from(n.right, 'hex')).toString('hex');
        expect(n.nodeHash).to.equal(want);
      }
    });

    it('gives each map the root of the reference definition', () => {
      for (const m of vectors.maps) {
        const h = new Map(Object.entries(m.heads) as Array<[string, SubjectHead]>);
        expect(toHex(SubjectMap.empty().with(h).root()), m.desc).to.equal(m.root);
        expect(referenceRoot(h), m.desc).to.equal(m.root);
      }
    });

    it('has valid cases and wantErr cases of both codes', () => {
      expect(vectors.cases.filter((c) => !c.wantErr).length).to.be.at.least(10);
      expect(new Set(vectors.cases.filter((c) => c.wantErr).map((c) => c.errCode))).to.deep.equal(
        new Set(['MALFORMED', 'ROOT_MISMATCH']),
      );
      expect(vectors.cases.some((c) => !c.wantErr && c.count === 0 && 'other' in c.proof)).to.equal(true);
      expect(
        vectors.cases.some((c) => !c.wantErr && c.count === 0 && !('other' in c.proof) && c.proof.siblings.length > 0),
      ).to.equal(true);
    });

    for (const c of vectors.cases) {
      it(`${c.desc} → ${c.wantErr ? c.errCode : 'VALID'}`, () => {
        const r = verifySubjectProof(
          fromHex(vectors.maps[c.map].root),
          c.subject,
          { count: c.count, head: c.head },
          c.proof as SubjectProof,
        );
        expect(r.code, r.message).to.equal(c.wantErr ? c.errCode : 'VALID');
        expect(r.valid).to.equal(!c.wantErr);
      });
    }
  });

  describe('SubjectMap', () => {
    it('has the reference root for maps of 0 to 300 subjects', () => {
      for (const n of [0, 1, 2, 3, 17, 300]) {
        const h = heads(n);
        expect(toHex(SubjectMap.empty().with(h).root()), `${n} subjects`).to.equal(referenceRoot(h));
      }
      expect(toHex(SubjectMap.empty().root())).to.equal(toHex(EMPTY_NODE));
    });

    it('gives the same root whatever order the subjects are set in, and whatever heads they passed through', () => {
      const subjects = [...heads(40).keys()];
      fc.assert(
        fc.property(
          fc.shuffledSubarray(subjects, { minLength: 40, maxLength: 40 }),
          fc.array(fc.nat(39), { maxLength: 30 }),
          (order, detours) => {
            let m = SubjectMap.empty();
            // Some subjects first get a head they later lose, as a subject's head moves on with each event.
            for (const i of detours) m = m.with([[subjects[i], { count: 99, head: headOf('detour', i) }]]);
            for (const s of order) m = m.with([[s, heads(40).get(s)!]]);
            expect(toHex(m.root())).to.equal(referenceRoot(heads(40)));
            expect(m.size).to.equal(40);
          },
        ),
        { numRuns: 50 },
      );
    });

    it('leaves the map it came from unchanged', () => {
      const a = SubjectMap.empty().with(heads(20));
      const root = toHex(a.root());
      const b = a.with([
        ['r:x-3', { count: 50, head: headOf('new', 1) }],
        ['r:new', { count: 1, head: headOf('new', 2) }],
      ]);
      expect(toHex(a.root())).to.equal(root);
      expect(a.get('r:x-3')).to.deep.equal(heads(20).get('r:x-3'));
      expect(b.get('r:x-3')).to.deep.equal({ count: 50, head: headOf('new', 1) });
      expect(a.get('r:new')).to.deep.equal({ count: 0, head: null });
      expect([a.size, b.size]).to.deep.equal([20, 21]);
    });

    it('refuses a count of 0 and a head that is not 64 hex digits', () => {
      expect(() => SubjectMap.empty().with([['r:a', { count: 0, head: null }]])).to.throw(/count of at least 1/);
      expect(() => SubjectMap.empty().with([['r:a', { count: 1, head: 'ab' }]])).to.throw(/64 lower-case hex/);
    });

    describe('proofs', () => {
      const h = heads(200);
      const map = SubjectMap.empty().with(h);
      const root = map.root();

      it('prove every subject’s head, and the absence of others, in about log2(subjects) siblings', () => {
        for (const [s, head] of h) {
          const proof = map.prove(s);
          expect(proof.other).to.equal(undefined);
          expect(proof.siblings.length).to.be.within(4, 16);
          expect(verifySubjectProof(root, s, head, proof).code).to.equal('VALID');
        }
        for (let i = 0; i < 50; i++) {
          const proof = map.prove(`v:absent-${i}`);
          const r = verifySubjectProof(root, `v:absent-${i}`, { count: 0, head: null }, proof);
          expect(r.code, r.message).to.equal('VALID');
        }
      });

      it('fail when any bit of any sibling, or of the bitmap, is flipped', () => {
        const [s, head] = [...h][17];
        const proof = map.prove(s);
        for (let i = 0; i < proof.siblings.length; i++) {
          for (const at of [0, 31, 63]) {
            const t = structuredClone(proof);
            t.siblings[i] = flipHex(t.siblings[i], at);
            expect(verifySubjectProof(root, s, head, t).code, `sibling ${i}, digit ${at}`).to.equal('ROOT_MISMATCH');
          }
        }
        for (let at = 0; at < 64; at++) {
          const t = structuredClone(proof);
          t.bitmap = flipHex(t.bitmap, at);
          expect(verifySubjectProof(root, s, head, t).valid, `bitmap digit ${at}`).to.equal(false);
        }
      });

      it('fail for every other count and head', () => {
        const [s, head] = [...h][5];
        const proof = map.prove(s);
        for (const count of [head.count - 1, head.count + 1, head.count + 2 ** 32]) {
          if (count < 1) continue;
          expect(verifySubjectProof(root, s, { ...head, count }, proof).code).to.equal('ROOT_MISMATCH');
        }
        expect(verifySubjectProof(root, s, { ...head, head: flipHex(head.head!) }, proof).code).to.equal(
          'ROOT_MISMATCH',
        );
        expect(verifySubjectProof(root, s, { count: 0, head: null }, proof).code).to.equal('ROOT_MISMATCH');
      });

      it('put each subject where its path leaves every other key’s', () => {
        const keys = [...h.keys()].map(subjectKey);
        for (const [s] of [...h].slice(0, 20)) {
          const k = subjectKey(s);
          const bitmap = fromHex(map.prove(s).bitmap);
          const depth = [...Array(256).keys()].filter((i) => keyBit(bitmap, i)).pop()! + 1;
          const shared = Math.max(
            ...keys
              .filter((o) => toHex(o) !== toHex(k))
              .map((o) => [...Array(256).keys()].findIndex((i) => keyBit(o, i) !== keyBit(k, i))),
          );
          expect(depth, s).to.equal(shared + 1);
        }
      });

      it('never throw, whatever they are given', () => {
        fc.assert(
          fc.property(fc.anything(), fc.anything(), fc.anything(), (head, proof, subject) => {
            const r = verifySubjectProof(root, subject as string, head as SubjectHead, proof as SubjectProof);
            expect(r.valid).to.equal(false);
          }),
          { numRuns: 300 },
        );
        expect(verifySubjectProof(new Uint8Array(3), 'r:x-1', h.get('r:x-1')!, map.prove('r:x-1')).code).to.equal(
          'MALFORMED',
        );
      });
    });
  });
});
