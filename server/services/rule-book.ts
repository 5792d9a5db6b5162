import type { Ledger, Tx } from '../../ledger/ledger';
import defaultRules from '../rules/default-rules.json';
import { parseRuleSet, type RuleSet } from '../rules';
import type { RiskArea } from '../rules/facts';
import defaultPolicies from '../scenarios/default-policies.json';
import { parsePolicySet, type PolicySet } from '../scenarios/policy';
import { VersionStore } from './versions';

function parsed<T>(
  r: ({ ok: true } & Record<string, unknown>) | { ok: false; issues: unknown },
  key: string,
  what: string,
): T {
  if (!r.ok) throw new Error(`the built-in ${what} do not parse: ${JSON.stringify((r as { issues: unknown }).issues)}`);
  return r[key] as T;
}

/**
 * What authorities change while the service runs: the colour rules, the admission
 * policies (both versioned) and the current risk-area list.
 */
export class RuleBook {
  private areas: RiskArea[] = [];

  private constructor(
    private readonly ledger: Ledger,
    readonly rules: VersionStore<RuleSet>,
    readonly policies: VersionStore<PolicySet>,
  ) {}

  static async load(ledger: Ledger): Promise<RuleBook> {
    const rules = await new VersionStore<RuleSet>(ledger, 'rules', 'rules').load(() =>
      parsed(parseRuleSet(defaultRules), 'ruleSet', 'rules'),
    );
    const policies = await new VersionStore<PolicySet>(ledger, 'policies', 'policies').load(() =>
      parsed(parsePolicySet(defaultPolicies), 'policySet', 'policies'),
    );
    const book = new RuleBook(ledger, rules, policies);
    book.areas = (await ledger.read<RiskArea[]>('meta', 'riskAreas')) ?? [];
    return book;
  }

  /** The current colour rules. */
  get current() {
    return this.rules.current;
  }

  get riskAreas(): readonly RiskArea[] {
    return this.areas;
  }

  /** Replaces the risk-area list (the feed always carries the whole current list). */
  setRiskAreas(tx: Tx, areas: RiskArea[]): void {
    tx.put('meta', 'riskAreas', areas);
    tx.onCommit(() => {
      this.areas = areas;
    });
  }
}
