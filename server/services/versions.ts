import { createHash } from 'node:crypto';
import { canonicalJson, type JsonValue } from '../../verifier/src/event';
import type { Ledger, Space, Tx } from '../../ledger/ledger';

export interface Version<T> {
  version: number;
  doc: T;
  digest: string;
  publishedAt: string;
  /** Token id of whoever published it ('system' for the built-in default). */
  publishedBy: string;
}

const versionKey = (v: number) => String(v).padStart(10, '0');

/**
 * A document an authority changes while the service runs (a rule set, an admission policy
 * set): every version is kept, the current one is cached in memory and replaced only once
 * a publish is durable, and each publish is a ledger event carrying the whole document,
 * so an auditor can replay any decision.
 */
export class VersionStore<T> {
  private cur!: Version<T>;

  constructor(
    private readonly ledger: Ledger,
    private readonly space: Space,
    private readonly kind: string,
  ) {}

  /** Loads the current version, publishing `initial` as version 1 on first start. */
  async load(initial: () => T): Promise<this> {
    const v = await this.ledger.read<number>('meta', `${this.kind}Current`);
    if (v) this.cur = (await this.get(v))!;
    else await this.ledger.transact((tx) => this.publish(tx, initial(), 'system'));
    return this;
  }

  get current(): Version<T> {
    return this.cur;
  }

  async get(version: number): Promise<Version<T> | undefined> {
    return this.ledger.read<Version<T>>(this.space, versionKey(version));
  }

  async list(): Promise<Array<Omit<Version<T>, 'doc'>>> {
    const out = [];
    for await (const v of this.ledger.space(this.space).values()) {
      const { doc: _doc, ...rest } = v as Version<T>;
      out.push(rest);
    }
    return out;
  }

  /** Publishes `doc` as the next version, effective once `tx` is durable. */
  async publish(tx: Tx, doc: T, publishedBy: string): Promise<Version<T>> {
    const latest = (await tx.get<number>('meta', `${this.kind}Current`)) ?? 0;
    const version: Version<T> = {
      version: latest + 1,
      doc,
      digest: createHash('sha256').update(canonicalJson(doc)).digest('hex'),
      publishedAt: tx.now.toISOString(),
      publishedBy,
    };
    tx.put(this.space, versionKey(version.version), version);
    tx.put('meta', `${this.kind}Current`, version.version);
    await tx.append({
      type: `${this.kind}.published`,
      subjects: [this.kind],
      data: { version: version.version, digest: version.digest, doc: doc as unknown as JsonValue, publishedBy },
    });
    tx.onCommit(() => {
      this.cur = version;
    });
    return version;
  }
}
