import jsonLogic from 'json-logic-js';
import { z } from 'zod';
import { COLOURS, type Colour } from '../../verifier/src/claims';
import { deriveFacts, FACT_CATALOGUE, VISIT_DAY_PATHS, type DerivedFacts, type RawFacts, type RiskArea } from './facts';

/** A JSON Logic expression (https://jsonlogic.com). */
export type JsonLogic = null | boolean | number | string | JsonLogic[] | { [op: string]: JsonLogic };

/** The only operators a rule may use: no `method`, string or array builders, or custom ops. */
export const ALLOWED_OPERATORS: ReadonlySet<string> = new Set([
  'var', '==', '===', '!=', '!==', '<', '<=', '>', '>=', 'and', 'or', '!', '!!', 'if', 'in',
  'some', 'all', 'none', 'max', 'min', '+', '-', '*', '/', 'missing', 'missing_some',
]);
export const MAX_LOGIC_NODES = 2000;
export const MAX_LOGIC_DEPTH = 20;

const COMPARISONS = new Set(['==', '===', '!=', '!==', '<', '<=', '>', '>=']);
const ARITY: Record<string, [number, number]> = {
  var: [1, 2], some: [2, 2], all: [2, 2], none: [2, 2], missing_some: [2, 2], '!': [1, 1], '!!': [1, 1],
  '==': [2, 2], '===': [2, 2], '!=': [2, 2], '!==': [2, 2], '>': [2, 2], '>=': [2, 2], '<': [2, 3], '<=': [2, 3],
  in: [2, 2], if: [1, Infinity],
};

interface Scope {
  /** var paths readable here, with the element paths when the value is an array. */
  paths: ReadonlyMap<string, { array?: readonly string[]; days?: boolean }>;
}
const ROOT: Scope = { paths: new Map(Object.entries(FACT_CATALOGUE)) };
const elementScope = (paths: readonly string[]): Scope => ({
  paths: new Map(paths.map((p) => [p, { days: VISIT_DAY_PATHS.includes(p) }])),
});

type Issue = { path: (string | number)[]; message: string };

/** Walks one `when` tree; stops at the first size or depth overflow. */
function checkLogic(root: unknown, horizonDays: number): Issue[] {
  const issues: Issue[] = [];
  let nodes = 0;
  let overflow = false;
  const walk = (node: unknown, scope: Scope, path: (string | number)[], depth: number): void => {
    if (overflow) return;
    if (++nodes > MAX_LOGIC_NODES || depth > MAX_LOGIC_DEPTH) {
      overflow = true;
      issues.push({ path, message: `expression exceeds ${MAX_LOGIC_NODES} nodes or depth ${MAX_LOGIC_DEPTH}` });
      return;
    }
    if (node === null || typeof node === 'string' || typeof node === 'boolean') return;
    if (typeof node === 'number') {
      if (!Number.isFinite(node)) issues.push({ path, message: 'numbers must be finite' });
      return;
    }
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, scope, [...path, i], depth + 1));
    if (typeof node !== 'object') return void issues.push({ path, message: `not JSON: ${typeof node}` });
    const keys = Object.keys(node);
    if (keys.length !== 1) return void issues.push({ path, message: 'an operation is an object with exactly one key' });
    const op = keys[0];
    const raw = (node as Record<string, unknown>)[op];
    const at = [...path, op];
    if (!ALLOWED_OPERATORS.has(op)) return void issues.push({ path: at, message: `operator "${op}" is not allowed` });
    const args: unknown[] = Array.isArray(raw) ? raw : [raw];
    const argPath = (i: number) => (Array.isArray(raw) ? [...at, i] : at);
    const [lo, hi] = ARITY[op] ?? [0, Infinity];
    if (args.length < lo || args.length > hi) return void issues.push({ path: at, message: `"${op}" takes ${lo === hi ? lo : `${lo} to ${hi}`} arguments` });
    const known = (p: unknown, where: (string | number)[]) => {
      if (typeof p !== 'string' || !scope.paths.has(p) || (p === '' && scope === ROOT)) {
        issues.push({ path: where, message: `unknown fact ${JSON.stringify(p)}` });
        return undefined;
      }
      return scope.paths.get(p);
    };
    switch (op) {
      case 'var':
        known(args[0], argPath(0));
        if (args.length === 2) walk(args[1], scope, argPath(1), depth + 1);
        return;
      case 'missing': {
        const names = args.length === 1 && Array.isArray(args[0]) ? args[0] : args;
        return names.forEach((n, i) => known(n, [...at, i]));
      }
      case 'missing_some':
        if (typeof args[0] !== 'number' || !Array.isArray(args[1])) return void issues.push({ path: at, message: '"missing_some" takes a count and a list of facts' });
        return args[1].forEach((n, i) => known(n, [...at, 1, i]));
      case 'some':
      case 'all':
      case 'none': {
        const over = args[0] as Record<string, unknown> | null;
        const v = over && typeof over === 'object' && !Array.isArray(over) && Object.keys(over).length === 1 ? over.var : undefined;
        const name = Array.isArray(v) ? v[0] : v;
        const fact = typeof name === 'string' ? scope.paths.get(name) : undefined;
        if (!fact?.array) return void issues.push({ path: argPath(0), message: `"${op}" must iterate over an array fact, e.g. {"var": "visits"}` });
        walk(args[0], scope, argPath(0), depth + 1);
        return walk(args[1], elementScope(fact.array), argPath(1), depth + 1);
      }
    }
    args.forEach((a, i) => walk(a, scope, argPath(i), depth + 1));
    if (COMPARISONS.has(op)) {
      const countsDays = args.some((a) => {
        const v = a && typeof a === 'object' && !Array.isArray(a) ? (a as Record<string, unknown>).var : undefined;
        const name = Array.isArray(v) ? v[0] : v;
        return typeof name === 'string' && scope.paths.get(name)?.days === true;
      });
      // reviewAt only follows a date for horizonDays days, so a rule must not tell later days apart.
      const beyond = args.find((a) => typeof a === 'number' && a >= horizonDays);
      if (countsDays && beyond !== undefined) {
        issues.push({ path: at, message: `compares a day count with ${beyond}, which needs horizonDays above ${beyond}` });
      }
    }
  };
  walk(root, ROOT, [], 1);
  return issues;
}

const SAMPLE_NOW = new Date('2020-03-25T04:00:00Z');
const SAMPLE_AREAS: RiskArea[] = [
  { region: '420100', level: 'high', since: '2020-01-23T00:00:00Z' },
  { region: '340104', level: 'medium', since: '2020-02-01T00:00:00Z' },
];
const SAMPLE_RAW: RawFacts[] = [
  {},
  {
    declaration: {
      at: '2020-03-24T02:00:00Z', temperatureC: 37.8, symptoms: ['fever', 'cough'], contactWithCase: true,
      visited: [{ region: '420106', date: '2020-03-20' }, { region: '340104', date: '2020-03-22' }, { region: '310101', date: '2020-02-01' }],
    },
    case: { status: 'suspected', at: '2020-03-24T08:00:00Z' },
    contact: { degree: 1, exposedAt: '2020-03-20T10:00:00Z' },
    inbound: { arrivedAt: '2020-03-15T12:00:00Z', from: 'IT' },
  },
];
/** Facts the dry run evaluates every rule against: none at all, and one of everything. */
export const SAMPLE_FACTS: readonly DerivedFacts[] = SAMPLE_RAW.map((raw) => deriveFacts(raw, SAMPLE_AREAS, SAMPLE_NOW));

const text = z.strictObject({ zh: z.string().trim().min(1).max(2000), en: z.string().trim().min(1).max(2000) });

/** zod schema of one rule: a kebab-case id, a colour, a bilingual reason and a JSON Logic test. */
export const ruleSchema = z.strictObject({
  id: z.string().max(64).regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'expected a kebab-case id'),
  colour: z.enum(COLOURS),
  reason: text,
  when: z.custom<JsonLogic>((v) => v !== undefined, 'required'),
});

/**
 * zod schema of a rule set as the health authority uploads it: bilingual description,
 * a 1–90 day horizon, 1–100 rules with unique ids whose `when` uses only
 * {@link ALLOWED_OPERATORS} and known facts, stays within the size limits, and runs
 * without throwing on {@link SAMPLE_FACTS}.
 */
export const ruleSetSchema = z
  .strictObject({
    description: text,
    horizonDays: z.number().int().min(1).max(90),
    rules: z.array(ruleSchema).min(1).max(100),
  })
  .superRefine((set, ctx) => {
    const seen = new Set<string>();
    set.rules.forEach((rule, i) => {
      if (seen.has(rule.id)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate rule id ${rule.id}` });
      seen.add(rule.id);
      const issues = checkLogic(rule.when, set.horizonDays);
      for (const issue of issues) ctx.addIssue({ code: 'custom', path: ['rules', i, 'when', ...issue.path], message: issue.message });
      if (issues.length) return;
      for (const facts of SAMPLE_FACTS) {
        try {
          jsonLogic.apply(rule.when as jsonLogic.RulesLogic, facts);
        } catch (e) {
          ctx.addIssue({ code: 'custom', path: ['rules', i, 'when'], message: `fails on sample facts: ${(e as Error).message}` });
          return;
        }
      }
    });
  });

/** A localised text. */
export type LocalText = z.infer<typeof text>;
/** One rule of a parsed rule set. */
export interface Rule {
  id: string;
  colour: Colour;
  reason: LocalText;
  when: JsonLogic;
}
/** A rule set that passed {@link parseRuleSet}. */
export interface RuleSet {
  description: LocalText;
  horizonDays: number;
  rules: Rule[];
}
export type { Colour };

/** One reason a rule set was refused; `path` is dotted, e.g. 'rules.2.when.and.0.var'. */
export interface RuleSetIssue {
  path: string;
  message: string;
}

/**
 * Validates an uploaded rule set. Never throws.
 * @example parseRuleSet(JSON.parse(body)) // { ok: true, ruleSet } | { ok: false, issues }
 */
export function parseRuleSet(json: unknown): { ok: true; ruleSet: RuleSet } | { ok: false; issues: RuleSetIssue[] } {
  const result = ruleSetSchema.safeParse(json);
  if (result.success) return { ok: true, ruleSet: result.data };
  return { ok: false, issues: result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })) };
}
