import { createHash } from 'node:crypto';
import { canonicalJson, type JsonValue } from '../../verifier/src/event';
import type { Ledger, Tx } from '../ledger/ledger';
import defaultRules from '../rules/default-rules.json';
import { parseRuleSet, type RuleSet } from '../rules';
import type { RiskArea } from '../rules/facts';

export interface RuleVersion {
  version: number;
  ruleSet: RuleSet;
  digest: string;
  publishedAt: string;
  /** Token id of whoever published it ('system' for the default set). */
  publishedBy: string;
}

const versionKey = (v: number) => String(v).padStart(10, '0');

/**
 * The versioned rule sets and the current risk-area list. The current version and the
 * risk areas are cached in memory and replaced only after a publish is durable.
 */
export class RuleBook {
  private currentVersion!: RuleVersion;
  private areas: RiskArea[] = [];

  private constructor(private readonly ledger: Ledger) {}

  static async load(ledger: Ledger): Promise<RuleBook> {
    const book = new RuleBook(ledger);
    const v = await ledger.read<number>('meta', 'rulesCurrent');
    if (v) book.currentVersion = (await ledger.read<RuleVersion>('rules', versionKey(v)))!;
    else {
      const parsed = parseRuleSet(defaultRules);
      if (!parsed.ok) throw new Error(`default rules do not parse: ${JSON.stringify(parsed.issues)}`);
      await ledger.transact((tx) => book.publish(tx, parsed.ruleSet, 'system'));
    }
    book.areas = (await ledger.read<RiskArea[]>('meta', 'riskAreas')) ?? [];
    return book;
  }

  get current(): RuleVersion {
    return this.currentVersion;
  }

  get riskAreas(): readonly RiskArea[] {
    return this.areas;
  }

  async get(version: number): Promise<RuleVersion | undefined> {
    return this.ledger.read<RuleVersion>('rules', versionKey(version));
  }

  async list(): Promise<Array<Omit<RuleVersion, 'ruleSet'> & { description: RuleSet['description']; rules: number }>> {
    const out = [];
    for await (const v of this.ledger.space('rules').values()) {
      const r = v as RuleVersion;
      out.push({ version: r.version, digest: r.digest, publishedAt: r.publishedAt, publishedBy: r.publishedBy, description: r.ruleSet.description, rules: r.ruleSet.rules.length });
    }
    return out;
  }

  /** Publishes a parsed rule set as the next version, effective once `tx` is durable. */
  async publish(tx: Tx, ruleSet: RuleSet, publishedBy: string): Promise<RuleVersion> {
    const latest = (await tx.get<number>('meta', 'rulesCurrent')) ?? 0;
    const version: RuleVersion = {
      version: latest + 1,
      ruleSet,
      digest: createHash('sha256').update(canonicalJson(ruleSet)).digest('hex'),
      publishedAt: tx.now.toISOString(),
      publishedBy,
    };
    tx.put('rules', versionKey(version.version), version);
    tx.put('meta', 'rulesCurrent', version.version);
    // The whole rule set goes into the event: an auditor can replay any decision.
    await tx.append({ type: 'rules.published', subjects: ['rules'], data: { version: version.version, digest: version.digest, ruleSet: ruleSet as unknown as JsonValue, publishedBy } });
    tx.onCommit(() => {
      this.currentVersion = version;
    });
    return version;
  }

  /** Replaces the risk-area list (the feed always carries the whole current list). */
  async setRiskAreas(tx: Tx, areas: RiskArea[]): Promise<void> {
    tx.put('meta', 'riskAreas', areas);
    tx.onCommit(() => {
      this.areas = areas;
    });
  }
}
