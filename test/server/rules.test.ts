import { expect } from 'chai';
import fc from 'fast-check';
import defaultRulesJson from '../../server/rules/default-rules.json';
import table from './vectors/rules-table.json';
import {
  deriveFacts,
  evaluateRules,
  parseRuleSet,
  type RawFacts,
  type RiskArea,
  type RuleSet,
} from '../../server/rules';

const DAY = 86_400_000;

function defaultRules(): RuleSet {
  const parsed = parseRuleSet(defaultRulesJson);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.ruleSet;
}

function ruleSetWith(when: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    description: { zh: '测试', en: 'test' },
    horizonDays: 28,
    rules: [{ id: 'only-rule', colour: 'red', reason: { zh: '测试', en: 'test' }, when }],
    ...extra,
  };
}

function issuesOf(json: unknown): { path: string; message: string }[] {
  const parsed = parseRuleSet(json);
  expect(parsed.ok, 'expected the rule set to be refused').to.equal(false);
  return parsed.ok ? [] : parsed.issues;
}

describe('default-rules.json', () => {
  it('parses', () => {
    const parsed = parseRuleSet(defaultRulesJson);
    expect(parsed.ok, JSON.stringify(!parsed.ok && parsed.issues)).to.equal(true);
  });

  it('has Chinese and English text for every rule', () => {
    for (const rule of defaultRules().rules) {
      expect(rule.reason.zh).to.match(/\p{Script=Han}/u);
      expect(rule.reason.en).to.match(/[a-z]/);
    }
  });
});

describe('evaluateRules with the default rules', () => {
  const rules = defaultRules();
  expect(table.rows.length).to.be.at.least(30);
  for (const row of table.rows) {
    it(row.name, () => {
      const riskAreas = ((row as { riskAreas?: RiskArea[] }).riskAreas ?? []) as RiskArea[];
      const result = evaluateRules(row.raw as RawFacts, riskAreas, rules, new Date(row.now));
      expect(result.colour).to.equal(row.colour);
      expect(result.matched.map((m) => m.id)).to.deep.equal(row.matched);
    });
  }
});

describe('deriveFacts', () => {
  it('gives null day counts and neutral values without facts', () => {
    const facts = deriveFacts({}, [], new Date('2022-04-01T00:00:00Z'));
    expect(facts).to.deep.equal({
      temperatureC: null,
      hasFever: false,
      symptoms: [],
      hasSymptoms: false,
      contactWithCase: false,
      declarationDaysAgo: null,
      caseStatus: 'none',
      caseDaysAgo: null,
      contactDegree: 0,
      contactDaysAgo: null,
      inbound: false,
      inboundDaysAgo: null,
      highRiskVisitDaysAgo: null,
      mediumRiskVisitDaysAgo: null,
      visits: [],
    });
  });

  it('classifies each visit and keeps the most recent per risk level', () => {
    const raw: RawFacts = {
      declaration: {
        at: '2022-04-20T00:00:00Z',
        temperatureC: 36.5,
        symptoms: [],
        contactWithCase: false,
        visited: [
          { region: '340104', date: '2022-04-10' },
          { region: '340102', date: '2022-04-15' },
          { region: '340181', date: '2022-04-18' },
          { region: '110105', date: '2022-04-19' },
        ],
      },
    };
    const areas: RiskArea[] = [
      { region: '340104', level: 'high', since: '2022-04-01T00:00:00Z' },
      { region: '340100', level: 'medium', since: '2022-04-01T00:00:00Z' },
    ];
    const facts = deriveFacts(raw, areas, new Date('2022-04-20T04:00:00Z'));
    expect(facts.visits.map((v) => [v.region, v.daysAgo, v.risk])).to.deep.equal([
      ['340104', 10, 'high'],
      ['340102', 5, 'medium'],
      ['340181', 2, 'medium'],
      ['110105', 1, 'none'],
    ]);
    expect(facts.highRiskVisitDaysAgo).to.equal(10);
    expect(facts.mediumRiskVisitDaysAgo).to.equal(2);
  });
});

describe('reviewAt', () => {
  const rules = defaultRules();

  it("is the end of a close contact's quarantine, when the code turns green", () => {
    const raw: RawFacts = { contact: { degree: 1, exposedAt: '2022-04-01T02:00:00Z' } };
    const day13 = evaluateRules(raw, [], rules, new Date('2022-04-14T09:00:00Z'));
    expect(day13.colour).to.equal('red');
    expect(day13.reviewAt?.toISOString()).to.equal('2022-04-15T02:00:00.000Z');
    expect(evaluateRules(raw, [], rules, day13.reviewAt!).colour).to.equal('green');
  });

  it('is the next local midnight for a visit', () => {
    const raw: RawFacts = {
      declaration: {
        at: '2022-04-18T02:00:00Z',
        temperatureC: 36.5,
        symptoms: [],
        visited: [{ region: '340104', date: '2022-04-17' }],
        contactWithCase: false,
      },
    };
    const result = evaluateRules(raw, [], rules, new Date('2022-04-18T15:00:00Z'));
    expect(result.reviewAt?.toISOString()).to.equal('2022-04-18T16:00:00.000Z');
  });

  it('is when a listed area takes effect over a visited region', () => {
    const raw: RawFacts = {
      declaration: {
        at: '2022-03-01T02:00:00Z',
        temperatureC: 36.5,
        symptoms: [],
        visited: [{ region: '340104', date: '2022-02-28' }],
        contactWithCase: false,
      },
    };
    const areas: RiskArea[] = [{ region: '340100', level: 'high', since: '2022-04-21T00:00:00Z' }];
    expect(evaluateRules(raw, areas, rules, new Date('2022-04-20T04:00:00Z')).reviewAt?.toISOString()).to.equal(
      '2022-04-21T00:00:00.000Z',
    );
  });

  it('is null when every dated fact is beyond the horizon', () => {
    const raw: RawFacts = {
      case: { status: 'confirmed', at: '2022-01-01T00:00:00Z' },
      inbound: { arrivedAt: '2022-01-02T00:00:00Z', from: 'US' },
    };
    const result = evaluateRules(raw, [], rules, new Date('2022-04-20T04:00:00Z'));
    expect(result).to.include({ colour: 'red', reviewAt: null });
  });

  it('is null without facts', () => {
    expect(evaluateRules({}, [], rules, new Date('2022-04-20T04:00:00Z')).reviewAt).to.equal(null);
  });

  it('bounds an interval in which the outcome cannot change (property)', () => {
    const base = Date.parse('2022-04-20T00:00:00Z');
    const regions = ['340104', '340102', '340181', '341002', '420106', '110105'];
    const offset = fc.integer({ min: -40 * 24 * 60, max: 2 * 24 * 60 }).map((m) => m * 60_000);
    const iso = (ms: number) => new Date(ms).toISOString();
    const localDate = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10);
    const raw = fc.record(
      {
        declaration: fc.record({
          at: offset.map((o) => iso(base + o)),
          temperatureC: fc.constantFrom(36.2, 37.2, 37.3, 38.5),
          symptoms: fc.subarray(['cough', 'fatigue']),
          visited: fc.array(
            fc.record({ region: fc.constantFrom(...regions), date: offset.map((o) => localDate(base + o)) }),
            { maxLength: 4 },
          ),
          contactWithCase: fc.boolean(),
        }),
        case: fc.record({
          status: fc.constantFrom('confirmed', 'suspected', 'recovered', 'cleared' as const),
          at: offset.map((o) => iso(base + o)),
        }),
        contact: fc.record({
          degree: fc.constantFrom(1 as const, 2 as const),
          exposedAt: offset.map((o) => iso(base + o)),
        }),
        inbound: fc.record({ arrivedAt: offset.map((o) => iso(base + o)), from: fc.constantFrom('IT', 'US') }),
      },
      { requiredKeys: [] },
    );
    const areas = fc.array(
      fc.record({
        region: fc.constantFrom('340100', '340104', '420000', '340000', '110000'),
        level: fc.constantFrom('high' as const, 'medium' as const),
        since: fc.integer({ min: -30 * 24 * 60, max: 5 * 24 * 60 }).map((m) => iso(base + m * 60_000)),
      }),
      { maxLength: 3 },
    );
    fc.assert(
      fc.property(
        raw,
        areas,
        fc.integer({ min: 0, max: 3 * DAY }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (facts, riskAreas, nowOffset, fraction) => {
          const now = new Date(base + nowOffset);
          const first = evaluateRules(facts as RawFacts, riskAreas, rules, now);
          const end = first.reviewAt ? first.reviewAt.getTime() : now.getTime() + 400 * DAY;
          expect(end).to.be.greaterThan(now.getTime());
          const later = new Date(
            Math.min(end - 1, now.getTime() + 1 + Math.floor(fraction * (end - now.getTime() - 1))),
          );
          const second = evaluateRules(facts as RawFacts, riskAreas, rules, later);
          expect(second.colour).to.equal(first.colour);
          expect(second.matched.map((m) => m.id)).to.deep.equal(first.matched.map((m) => m.id));
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('parseRuleSet', () => {
  it('accepts a rule iterating over visits with element paths', () => {
    const when = {
      some: [{ var: 'visits' }, { and: [{ '==': [{ var: 'risk' }, 'high'] }, { '<': [{ var: 'daysAgo' }, 7] }] }],
    };
    expect(parseRuleSet(ruleSetWith(when)).ok).to.equal(true);
  });

  it('accepts in, missing and arithmetic over known facts', () => {
    const when = {
      or: [
        { in: ['cough', { var: 'symptoms' }] },
        { '!': { missing: ['temperatureC'] } },
        { '>': [{ '+': [{ var: 'temperatureC' }, 0.5] }, 38] },
        { missing_some: [1, ['caseStatus', 'contactDegree']] },
      ],
    };
    expect(parseRuleSet(ruleSetWith(when)).ok).to.equal(true);
  });

  const rejections: { name: string; json: unknown; path: string; message: RegExp }[] = [
    {
      name: 'an unknown operator',
      json: ruleSetWith({ cat: ['a', 'b'] }),
      path: 'rules.0.when.cat',
      message: /not allowed/,
    },
    {
      name: 'the method operator',
      json: ruleSetWith({ method: [{ var: 'caseStatus' }, 'toUpperCase'] }),
      path: 'rules.0.when.method',
      message: /not allowed/,
    },
    {
      name: 'an unknown fact',
      json: ruleSetWith({ '==': [{ var: 'age' }, 3] }),
      path: 'rules.0.when.==.0.var',
      message: /unknown fact "age"/,
    },
    {
      name: 'the whole data object',
      json: ruleSetWith({ var: '' }),
      path: 'rules.0.when.var',
      message: /unknown fact/,
    },
    {
      name: 'an outer fact inside some',
      json: ruleSetWith({ some: [{ var: 'visits' }, { var: 'caseStatus' }] }),
      path: 'rules.0.when.some.1.var',
      message: /unknown fact/,
    },
    {
      name: 'some over a scalar fact',
      json: ruleSetWith({ some: [{ var: 'caseStatus' }, true] }),
      path: 'rules.0.when.some.0',
      message: /array fact/,
    },
    {
      name: 'an unknown fact in missing',
      json: ruleSetWith({ missing: ['age'] }),
      path: 'rules.0.when.missing.0',
      message: /unknown fact/,
    },
    {
      name: 'an object with two keys',
      json: ruleSetWith({ and: [true], or: [true] }),
      path: 'rules.0.when',
      message: /exactly one key/,
    },
    {
      name: 'a wrong arity',
      json: ruleSetWith({ '==': [1, 2, 3] }),
      path: 'rules.0.when.==',
      message: /takes 2 arguments/,
    },
    {
      name: 'a tree deeper than 20',
      json: ruleSetWith(Array.from({ length: 25 }).reduce((inner) => ({ '!': inner }), true)),
      path: 'rules.0.when.!.!.!.!.!.!.!.!.!.!.!.!.!.!.!.!.!.!.!.!',
      message: /depth 20/,
    },
    {
      name: 'a tree of more than 2000 nodes',
      json: ruleSetWith({ or: Array.from({ length: 2001 }, () => false) }),
      path: 'rules.0.when.or.1999',
      message: /2000 nodes/,
    },
    {
      name: 'a rule that throws at runtime',
      json: ruleSetWith({ '*': [] }),
      path: 'rules.0.when',
      message: /fails on sample facts/,
    },
    {
      name: 'a day window beyond the horizon',
      json: ruleSetWith({ '<': [{ var: 'contactDaysAgo' }, 30] }),
      path: 'rules.0.when.<',
      message: /horizonDays/,
    },
    {
      name: 'a duplicate rule id',
      json: {
        ...ruleSetWith(true),
        rules: [0, 1].map(() => ({ id: 'same', colour: 'red', reason: { zh: '甲', en: 'a' }, when: true })),
      },
      path: 'rules.1.id',
      message: /duplicate/,
    },
    {
      name: 'a non-kebab-case id',
      json: {
        ...ruleSetWith(true),
        rules: [{ id: 'Close_Contact', colour: 'red', reason: { zh: '甲', en: 'a' }, when: true }],
      },
      path: 'rules.0.id',
      message: /kebab/,
    },
    {
      name: 'a bad colour',
      json: { ...ruleSetWith(true), rules: [{ id: 'a', colour: 'blue', reason: { zh: '甲', en: 'a' }, when: true }] },
      path: 'rules.0.colour',
      message: /./,
    },
    {
      name: 'a missing English description',
      json: ruleSetWith(true, { description: { zh: '测试' } }),
      path: 'description.en',
      message: /./,
    },
    {
      name: 'a missing Chinese reason',
      json: { ...ruleSetWith(true), rules: [{ id: 'a', colour: 'red', reason: { en: 'a' }, when: true }] },
      path: 'rules.0.reason.zh',
      message: /./,
    },
    {
      name: 'a missing when',
      json: { ...ruleSetWith(true), rules: [{ id: 'a', colour: 'red', reason: { zh: '甲', en: 'a' } }] },
      path: 'rules.0.when',
      message: /./,
    },
    { name: 'horizonDays 0', json: ruleSetWith(true, { horizonDays: 0 }), path: 'horizonDays', message: /./ },
    { name: 'horizonDays 91', json: ruleSetWith(true, { horizonDays: 91 }), path: 'horizonDays', message: /./ },
    { name: 'no rules', json: ruleSetWith(true, { rules: [] }), path: 'rules', message: /./ },
    {
      name: 'more than 100 rules',
      json: ruleSetWith(true, {
        rules: Array.from({ length: 101 }, (_, i) => ({
          id: `r-${i}`,
          colour: 'red',
          reason: { zh: '甲', en: 'a' },
          when: true,
        })),
      }),
      path: 'rules',
      message: /./,
    },
    { name: 'an unknown top-level key', json: ruleSetWith(true, { version: 3 }), path: '', message: /version/ },
    { name: 'something that is not an object', json: 'rules', path: '', message: /./ },
  ];
  for (const { name, json, path, message } of rejections) {
    it(`refuses ${name} at ${path || 'the root'}`, () => {
      const issues = issuesOf(json);
      const hit = issues.find((i) => i.path === path);
      expect(hit, JSON.stringify(issues)).to.not.equal(undefined);
      expect(hit!.message).to.match(message);
    });
  }
});
