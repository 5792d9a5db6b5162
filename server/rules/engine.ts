import jsonLogic from 'json-logic-js';
import { COLOURS } from '../../verifier/src/claims';
import { deriveFacts, nextFactChange, type RawFacts, type RiskArea } from './facts';
import type { Colour, LocalText, RuleSet } from './schema';

/** A rule that matched, as shown to the resident and recorded in the ledger. */
export interface MatchedRule {
  id: string;
  colour: Colour;
  reason: LocalText;
}

/** The outcome of {@link evaluateRules}. */
export interface Evaluation {
  /** The most severe colour among matched rules (red > yellow > green); green when none match. */
  colour: Colour;
  /** Every matching rule, in rule-set order. */
  matched: MatchedRule[];
  /**
   * When to evaluate again even if nothing is reported: the next instant a
   * time-derived fact changes within the rule set's horizon. Null when no dated fact
   * is within the horizon. Any instant in (now, reviewAt) gives the same outcome.
   */
  reviewAt: Date | null;
}

/**
 * Evaluates a parsed rule set against one resident's raw facts at `now`.
 * @throws Error naming the rule when a rule fails at runtime (a parsed rule set has
 *   been dry-run, so this signals a rule set that slipped past {@link parseRuleSet}).
 * @example evaluateRules({ contact: { degree: 1, exposedAt } }, [], defaultRules, now).colour // 'red'
 */
export function evaluateRules(
  facts: RawFacts,
  riskAreas: readonly RiskArea[],
  ruleSet: RuleSet,
  now: Date,
): Evaluation {
  const data = deriveFacts(facts, riskAreas, now);
  const matched: MatchedRule[] = [];
  for (const rule of ruleSet.rules) {
    let hit: boolean;
    try {
      hit = jsonLogic.truthy(jsonLogic.apply(rule.when as jsonLogic.RulesLogic, data));
    } catch (e) {
      throw new Error(`rule ${rule.id} failed: ${(e as Error).message}`, { cause: e });
    }
    if (hit) matched.push({ id: rule.id, colour: rule.colour, reason: rule.reason });
  }
  const severity = Math.max(0, ...matched.map((m) => COLOURS.indexOf(m.colour)));
  return { colour: COLOURS[severity], matched, reviewAt: nextFactChange(facts, riskAreas, now, ruleSet.horizonDays) };
}
