import jsonLogic from 'json-logic-js';
import { z } from 'zod';
import { VENUE_TYPES, type VenueType } from '../../verifier/src/claims';
import { getRegion, regionContains } from '../domain/regions';
import { safeText } from '../http/text';
import { checkLogic, type JsonLogic } from '../rules/logic-check';
import type { FactCatalogue } from '../rules/facts';

/** What a gate decides. */
export const DECISIONS = ['admit', 'deny', 'refer'] as const;
export type Decision = (typeof DECISIONS)[number];

/**
 * The facts an admission rule reads about one scan. `colour` is 'none' when no code was
 * shown (a school pupil with a paper certificate) or it did not verify.
 */
export interface ScanFacts {
  colour: 'green' | 'yellow' | 'red' | 'none';
  /** The verifier's result code, or 'NONE' when no code was shown. */
  codeResult: string;
  codeValid: boolean;
  /** The code was issued by another province (互认). */
  foreign: boolean;
  printed: boolean;
  temperatureTaken: boolean;
  temperatureC: number | null;
  /** temperatureC ≥ 37.3 °C. */
  hasFever: boolean;
  /** The resident did today's health check-in (每日健康打卡), Asia/Shanghai day. */
  checkedInToday: boolean;
  /** A paper health certificate registered beforehand by the venue (有单认单). */
  certificate: boolean;
  method: 'self' | 'staff';
}

export const SCAN_FACTS: FactCatalogue = {
  colour: {},
  codeResult: {},
  codeValid: {},
  foreign: {},
  printed: {},
  temperatureTaken: {},
  temperatureC: {},
  hasFever: {},
  checkedInToday: {},
  certificate: {},
  method: {},
};

const text = z.strictObject({ zh: safeText(1, 500, { multiline: true }), en: safeText(1, 500, { multiline: true }) });
const ruleSchema = z.strictObject({
  id: z
    .string()
    .max(64)
    .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'expected a kebab-case id'),
  decision: z.enum(DECISIONS),
  reason: text,
  when: z.custom<JsonLogic>((v) => v !== undefined, 'required'),
});
export type PolicyRule = z.infer<typeof ruleSchema>;
const rules = z.array(ruleSchema).min(1).max(50);

const SAMPLES: ScanFacts[] = [
  {
    colour: 'none',
    codeResult: 'NONE',
    codeValid: false,
    foreign: false,
    printed: false,
    temperatureTaken: false,
    temperatureC: null,
    hasFever: false,
    checkedInToday: false,
    certificate: false,
    method: 'staff',
  },
  {
    colour: 'red',
    codeResult: 'VALID',
    codeValid: true,
    foreign: true,
    printed: true,
    temperatureTaken: true,
    temperatureC: 38.2,
    hasFever: true,
    checkedInToday: true,
    certificate: true,
    method: 'self',
  },
];

/**
 * An admission policy set: rules per venue type, and overrides an authority adds for a
 * venue type, a district (any level; it contains its sub-districts) or both. For a scan,
 * the rules of every matching override come first, most specific first, then the venue
 * type's defaults; the first rule that matches decides, and no match means 'refer'.
 */
export const policySetSchema = z
  .strictObject({
    description: text,
    defaults: z.strictObject(Object.fromEntries(VENUE_TYPES.map((t) => [t, rules])) as Record<VenueType, typeof rules>),
    overrides: z
      .array(
        z.strictObject({
          id: z
            .string()
            .max(64)
            .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/),
          venueType: z.enum(VENUE_TYPES).optional(),
          district: z
            .string()
            .regex(/^\d{6}$/)
            .optional(),
          rules,
        }),
      )
      .max(200)
      .default([]),
  })
  .superRefine((set, ctx) => {
    const check = (list: PolicyRule[], path: (string | number)[]) => {
      const seen = new Set<string>();
      list.forEach((rule, i) => {
        if (seen.has(rule.id))
          ctx.addIssue({ code: 'custom', path: [...path, i, 'id'], message: `duplicate rule id ${rule.id}` });
        seen.add(rule.id);
        const issues = checkLogic(rule.when, SCAN_FACTS);
        for (const issue of issues)
          ctx.addIssue({ code: 'custom', path: [...path, i, 'when', ...issue.path], message: issue.message });
        if (issues.length) return;
        for (const facts of SAMPLES) {
          try {
            jsonLogic.apply(rule.when as jsonLogic.RulesLogic, facts);
          } catch (e) {
            ctx.addIssue({
              code: 'custom',
              path: [...path, i, 'when'],
              message: `fails on sample facts: ${(e as Error).message}`,
            });
            return;
          }
        }
      });
    };
    for (const t of VENUE_TYPES) check(set.defaults[t], ['defaults', t]);
    const ids = new Set<string>();
    set.overrides.forEach((o, i) => {
      if (ids.has(o.id))
        ctx.addIssue({ code: 'custom', path: ['overrides', i, 'id'], message: `duplicate override id ${o.id}` });
      ids.add(o.id);
      if (!o.venueType && !o.district)
        ctx.addIssue({
          code: 'custom',
          path: ['overrides', i],
          message: 'an override names a venueType, a district or both',
        });
      if (o.district && !getRegion(o.district))
        ctx.addIssue({
          code: 'custom',
          path: ['overrides', i, 'district'],
          message: `${o.district} is not a GB/T 2260 region code`,
        });
      check(o.rules, ['overrides', i, 'rules']);
    });
  });
export type PolicySet = z.infer<typeof policySetSchema>;

export function parsePolicySet(
  json: unknown,
): { ok: true; policySet: PolicySet } | { ok: false; issues: Array<{ path: string; message: string }> } {
  const r = policySetSchema.safeParse(json);
  if (r.success) return { ok: true, policySet: r.data };
  return { ok: false, issues: r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })) };
}

export interface PolicyOutcome {
  decision: Decision;
  /** `<override id>/<rule id>`, `default/<rule id>`, or `none`. */
  rule: string;
  reason: { zh: string; en: string };
}

const LEVEL_WEIGHT = { province: 1, city: 2, district: 3 } as const;

/** Decides one scan. Pure: the same set, venue and facts always give the same outcome. */
export function evaluatePolicy(
  set: PolicySet,
  venue: { type: VenueType; district: string },
  facts: ScanFacts,
): PolicyOutcome {
  const overrides = set.overrides
    .map((o, order) => ({ o, order }))
    .filter(
      ({ o }) =>
        (!o.venueType || o.venueType === venue.type) && (!o.district || regionContains(o.district, venue.district)),
    )
    .map(({ o, order }) => ({
      o,
      order,
      weight: (o.venueType ? 10 : 0) + (o.district ? LEVEL_WEIGHT[getRegion(o.district)?.level ?? 'province'] : 0),
    }))
    .sort((a, b) => b.weight - a.weight || b.order - a.order);
  const lists: Array<[string, PolicyRule[]]> = [
    ...overrides.map(({ o }) => [o.id, o.rules] as [string, PolicyRule[]]),
    ['default', set.defaults[venue.type]],
  ];
  for (const [source, list] of lists) {
    for (const rule of list) {
      if (jsonLogic.truthy(jsonLogic.apply(rule.when as jsonLogic.RulesLogic, facts))) {
        return { decision: rule.decision, rule: `${source}/${rule.id}`, reason: rule.reason };
      }
    }
  }
  return {
    decision: 'refer',
    rule: 'none',
    reason: { zh: '无适用规则，请人工核验', en: 'No rule applies; check by hand' },
  };
}
