import jsonLogic from 'json-logic-js';
import { z } from 'zod';
import { COLOURS, type Colour } from '../../verifier/src/claims';
import { safeText } from '../http/text';
import { deriveFacts, FACT_CATALOGUE, VISIT_DAY_PATHS, type DerivedFacts, type RawFacts, type RiskArea } from './facts';
import { checkLogic, type JsonLogic } from './logic-check';

export { ALLOWED_OPERATORS, MAX_LOGIC_DEPTH, MAX_LOGIC_NODES, type JsonLogic } from './logic-check';

const SAMPLE_NOW = new Date('2020-03-25T04:00:00Z');
const SAMPLE_AREAS: RiskArea[] = [
  { region: '420100', level: 'high', since: '2020-01-23T00:00:00Z' },
  { region: '340104', level: 'medium', since: '2020-02-01T00:00:00Z' },
];
const SAMPLE_RAW: RawFacts[] = [
  {},
  {
    declaration: {
      at: '2020-03-24T02:00:00Z',
      temperatureC: 37.8,
      symptoms: ['fever', 'cough'],
      contactWithCase: true,
      visited: [
        { region: '420106', date: '2020-03-20' },
        { region: '340104', date: '2020-03-22' },
        { region: '310101', date: '2020-02-01' },
      ],
    },
    case: { status: 'suspected', at: '2020-03-24T08:00:00Z' },
    contact: { degree: 1, exposedAt: '2020-03-20T10:00:00Z' },
    inbound: { arrivedAt: '2020-03-15T12:00:00Z', from: 'IT' },
  },
];
/** Facts the dry run evaluates every rule against: none at all, and one of everything. */
export const SAMPLE_FACTS: readonly DerivedFacts[] = SAMPLE_RAW.map((raw) =>
  deriveFacts(raw, SAMPLE_AREAS, SAMPLE_NOW),
);

const text = z.strictObject({ zh: safeText(1, 2000, { multiline: true }), en: safeText(1, 2000, { multiline: true }) });

/** zod schema of one rule: a kebab-case id, a colour, a bilingual reason and a JSON Logic test. */
export const ruleSchema = z.strictObject({
  id: z
    .string()
    .max(64)
    .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'expected a kebab-case id'),
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
      if (seen.has(rule.id))
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate rule id ${rule.id}` });
      seen.add(rule.id);
      const issues = checkLogic(rule.when, FACT_CATALOGUE, {
        horizonDays: set.horizonDays,
        dayElementPaths: VISIT_DAY_PATHS,
      });
      for (const issue of issues)
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'when', ...issue.path], message: issue.message });
      if (issues.length) return;
      for (const facts of SAMPLE_FACTS) {
        try {
          jsonLogic.apply(rule.when as jsonLogic.RulesLogic, facts);
        } catch (e) {
          ctx.addIssue({
            code: 'custom',
            path: ['rules', i, 'when'],
            message: `fails on sample facts: ${(e as Error).message}`,
          });
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
  return {
    ok: false,
    issues: result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
  };
}
