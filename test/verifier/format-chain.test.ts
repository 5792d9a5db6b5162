import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Interface } from 'ethers';
import { artifact } from '../../anchor/registry';
import { canonicalJson } from '../../verifier/src/event';

const FORMAT = readFileSync(join(__dirname, '../../verifier/FORMAT.md'), 'utf8');
const section = (from: string, to?: string) => FORMAT.slice(FORMAT.indexOf(from), to ? FORMAT.indexOf(to) : undefined);
const CHAIN = section('## 11. The chain', '## 12.');
const JCS = section('## 12. Canonical JSON');
const interfaces = [
  new Interface(artifact('AnchorRegistry').abi as never),
  new Interface(artifact('AnchorCouncil').abi as never),
];

/** A signature as FORMAT.md writes it, `name(type name, …)`, reduced to its canonical form `name(type,…)`. */
function sighash(written: string): string {
  const [, name, params] = /^(\w+)\((.*)\)$/.exec(written)!;
  return `${name}(${params
    .split(',')
    .map((p) => p.trim().split(' ')[0])
    .filter(Boolean)
    .join(',')})`;
}

/**
 * FORMAT.md §11 and §12 are what an independent implementation works from: every selector,
 * topic and signature they give must be the contracts' own, and every example the code's.
 */
describe('FORMAT.md §11–§12 against the contracts and the code', () => {
  it('gives every function selector as the compiled contracts have it', () => {
    // `signature` then its selector, in a table cell, in parentheses or on the next line.
    const pairs = [...CHAIN.matchAll(/`(\w+\([^`]*\))`[\s|(]*`(0x[0-9a-f]{8})`/g)];
    expect(pairs.length).to.be.greaterThan(60);
    for (const [, written, selector] of pairs) {
      const sig = sighash(written.replace(/ indexed/g, ''));
      const found = interfaces.map((i) => i.getFunction(sig) ?? i.getError(sig)).find(Boolean);
      expect(found, `${sig} is not a function or error of the contracts`).to.not.equal(undefined);
      expect(selector, sig).to.equal(found!.selector);
    }
  });

  it('gives every event topic as the compiled contracts have it, with the same indexed fields', () => {
    const rows = [...CHAIN.matchAll(/`(\w+\([^`]*\))`\s*\|\s*`(0x[0-9a-f]{64})`/g)];
    expect(rows.length).to.be.greaterThan(15);
    for (const [, written, topic] of rows) {
      const event = interfaces.map((i) => i.getEvent(sighash(written.replace(/ indexed/g, '')))).find(Boolean);
      expect(event, written).to.not.equal(undefined);
      expect(topic, written).to.equal(event!.topicHash);
      expect(written, 'indexed fields').to.equal(event!.format('full').replace(/^event /, ''));
    }
  });

  it('names every function of the registry with its selector', () => {
    interfaces[0].forEachFunction((f) => expect(CHAIN, f.format('sighash')).to.include(`\`${f.selector}\``));
  });

  it('lists every custom error and every event of both contracts', () => {
    for (const iface of interfaces) {
      iface.forEachError((e) => expect(CHAIN, e.format('sighash')).to.include(e.selector));
      iface.forEachEvent((e) => {
        if (/^Role/.test(e.name)) return; // AccessControl bookkeeping of the timelock's roles
        expect(CHAIN, e.name).to.include(e.topicHash);
      });
    }
  });

  it('writes numbers and strings as the examples of §12 say', () => {
    const numbers: Array<[number, string]> = [
      [123456789012345678901, '123456789012345680000'],
      [36.6, '36.6'],
      [0.000001, '0.000001'],
      [-0.0000125, '-0.0000125'],
      [0.1 + 0.2, '0.30000000000000004'],
      [1e21, '1e+21'],
      [1.5e300, '1.5e+300'],
      [1e-7, '1e-7'],
      [5e-324, '5e-324'],
      [-0, '0'],
    ];
    for (const [n, text] of numbers) {
      expect(canonicalJson(n)).to.equal(text);
      expect(JCS).to.include(text);
    }
    expect(canonicalJson({ 9: 0, 10: 0, a: 0, Z: 0, '\u{1F600}': 0, '\uffff': 0 })).to.equal(
      '{"10":0,"9":0,"Z":0,"a":0,"\u{1F600}":0,"\uffff":0}',
    );
    expect(canonicalJson('"\\\b\t\n\f\r\u0001\u001f/\u007f\u2028\u2029é')).to.equal(
      '"\\"\\\\\\b\\t\\n\\f\\r\\u0001\\u001f/\u007f\u2028\u2029é"',
    );
    expect(canonicalJson('\ud800')).to.equal('"\\ud800"');
    expect(JCS).to.include('`\\udxxx`');
    expect(() => canonicalJson(NaN)).to.throw(TypeError);
    expect(() => canonicalJson({ a: Infinity })).to.throw(TypeError);
    expect(canonicalJson({ a: undefined, b: 1 })).to.equal('{"b":1}');
  });
});
