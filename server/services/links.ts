import { randomBytes } from 'node:crypto';
import { openField, sealField } from '../crypto/pii';
import { CARD_KINDS, PURPOSE_CARD, PURPOSES, type CardKind, type Purpose } from '../domain/services';
import { ServiceError } from '../errors';
import type { Tx } from '../../ledger/ledger';
import { residentSubject } from './residents';

/**
 * Linked cards (多功能): an authority links its card (电子健康卡, 电子社保卡, 医保电子凭证) or a
 * payment provider its account token to a resident, and a desk's look-up returns that
 * reference for the one purpose it serves, while the resident has not paused it.
 *
 * Space `links`, by pseudonym:
 * - `l/<pseudonym>/<kind>` → LinkRecord: the card's reference sealed under the encryption key,
 *   bound to the resident and kind (a reference cannot be pasted under another resident).
 * - `c/<pseudonym>/<purpose>` → ConsentRecord: present only while the resident paused it;
 *   a purpose is allowed unless paused.
 * - `q/<requestId>` → LinkRequest: a link the resident asked for, until the authority confirms it
 *   or it expires (LINK_REQUEST_TTL_MS); `p/<pseudonym>/<kind>` → its id. A resident has at most
 *   one request per kind: a new one replaces the last, so nothing needs sweeping.
 *
 * Every change is an event on the resident's chain (`card.linked`, `card.changed`,
 * `card.removed`, `consent.changed`) naming the kind or purpose and who did it, never the
 * reference.
 */

export interface LinkRecord {
  kind: CardKind;
  /** The reference, sealed (AES-256-GCM, bound to `link:<pseudonym>:<kind>`). */
  refSealed: string;
  /** Its last four characters, for the resident to tell cards apart; never enough to use. */
  refHint: string;
  /** Payment links: the provider that holds the account (its id, as the provider's token names it). */
  provider?: string;
  /** Token id of the authority that linked it. */
  by: string;
  /** Whether the authority linked it by ID number, or confirmed the resident's own request. */
  via: 'authority' | 'request';
  linkedAt: string;
  changedAt: string;
}

export interface ConsentRecord {
  paused: true;
  at: string;
}

export interface LinkRequest {
  pseudonym: string;
  kind: CardKind;
  at: string;
  expiresAt: string;
}

/** How long a resident's link request waits for its authority's confirmation. */
export const LINK_REQUEST_TTL_MS = 24 * 3_600_000;

const linkKey = (pseudonym: string, kind: CardKind) => `l/${pseudonym}/${kind}`;
const consentKey = (pseudonym: string, purpose: Purpose) => `c/${pseudonym}/${purpose}`;
const requestKey = (id: string) => `q/${id}`;
const pendingKey = (pseudonym: string, kind: CardKind) => `p/${pseudonym}/${kind}`;
const linkAad = (pseudonym: string, kind: CardKind) => `link:${pseudonym}:${kind}`;

/** The purpose a card serves (each card serves exactly one). */
export function purposeOfCard(kind: CardKind): Purpose {
  return PURPOSES.find((p) => PURPOSE_CARD[p] === kind)!;
}

/** A resident's link of one kind, if any. */
export async function getLink(tx: Pick<Tx, 'get'>, pseudonym: string, kind: CardKind): Promise<LinkRecord | undefined> {
  return tx.get<LinkRecord>('links', linkKey(pseudonym, kind));
}

/** Opens a link's reference. */
export function openRef(key: Buffer, pseudonym: string, link: LinkRecord): string {
  return openField(key, link.refSealed, linkAad(pseudonym, link.kind));
}

/** Whether the resident paused `purpose`. */
export async function isPaused(tx: Pick<Tx, 'get'>, pseudonym: string, purpose: Purpose): Promise<boolean> {
  return (await tx.get<ConsentRecord>('links', consentKey(pseudonym, purpose))) !== undefined;
}

/**
 * What a look-up for `purpose` may return for this resident: whether they allow it, and the
 * reference (with its provider) of the card the purpose needs, when one is linked. `identity`
 * needs no card: the caller reads the name and ID number from the resident record.
 */
export async function entitlementFor(
  tx: Pick<Tx, 'get'>,
  key: Buffer,
  pseudonym: string,
  purpose: Purpose,
): Promise<{ paused: boolean; card: CardKind | null; link?: { ref: string; provider?: string } }> {
  const card = PURPOSE_CARD[purpose];
  const paused = await isPaused(tx, pseudonym, purpose);
  if (!card) return { paused, card };
  const l = await getLink(tx, pseudonym, card);
  return {
    paused,
    card,
    ...(l ? { link: { ref: openRef(key, pseudonym, l), ...(l.provider ? { provider: l.provider } : {}) } } : {}),
  };
}

/** A link as the resident sees it on `/`: kind, hint, provider, state; never the reference. */
export interface LinkView {
  kind: CardKind;
  purpose: Purpose;
  linked: boolean;
  refHint: string | null;
  provider: string | null;
  linkedAt: string | null;
  paused: boolean;
}

/**
 * Linking, changing, removing, pausing: each writes one event on the resident's chain in the
 * caller's transaction. Callers have checked who may do it (server/http/permissions.ts).
 */
export class LinkBook {
  constructor(private readonly key: Buffer) {}

  /**
   * Links (or changes) `kind` for the resident. A second link of the same kind replaces the
   * first (`card.changed`); the same reference again changes nothing and writes nothing.
   */
  async link(
    tx: Tx,
    pseudonym: string,
    kind: CardKind,
    ref: string,
    by: string,
    via: LinkRecord['via'],
    provider?: string,
  ): Promise<{ link: LinkRecord; changed: 'linked' | 'changed' | 'unchanged' }> {
    const prior = await getLink(tx, pseudonym, kind);
    if (prior && openRef(this.key, pseudonym, prior) === ref && prior.provider === provider)
      return { link: prior, changed: 'unchanged' };
    const now = tx.now.toISOString();
    const link: LinkRecord = {
      kind,
      refSealed: sealField(this.key, ref, linkAad(pseudonym, kind)),
      refHint: ref.slice(-4),
      ...(provider ? { provider } : {}),
      by,
      via,
      linkedAt: prior?.linkedAt ?? now,
      changedAt: now,
    };
    tx.put('links', linkKey(pseudonym, kind), link);
    const type = prior ? 'card.changed' : 'card.linked';
    await tx.append({
      type,
      subjects: [residentSubject(pseudonym)],
      data: { kind, by, via, ...(provider ? { provider } : {}) },
    });
    return { link, changed: prior ? 'changed' : 'linked' };
  }

  /** Removes a link (by the resident, or by its authority when the card is cancelled); 404 when there is none. */
  async remove(tx: Tx, pseudonym: string, kind: CardKind, by: string): Promise<void> {
    if (!(await getLink(tx, pseudonym, kind))) throw new ServiceError('CARD_NOT_LINKED', `no ${kind} is linked`);
    tx.del('links', linkKey(pseudonym, kind));
    await tx.append({ type: 'card.removed', subjects: [residentSubject(pseudonym)], data: { kind, by } });
  }

  /** Pauses or allows a purpose again; writes nothing when it is already so. */
  async setConsent(tx: Tx, pseudonym: string, purpose: Purpose, paused: boolean, by: string): Promise<boolean> {
    if ((await isPaused(tx, pseudonym, purpose)) === paused) return false;
    if (paused)
      tx.put('links', consentKey(pseudonym, purpose), {
        paused: true,
        at: tx.now.toISOString(),
      } satisfies ConsentRecord);
    else tx.del('links', consentKey(pseudonym, purpose));
    await tx.append({ type: 'consent.changed', subjects: [residentSubject(pseudonym)], data: { purpose, paused, by } });
    return true;
  }

  /** Every card kind and purpose as the resident sees them. */
  async view(
    tx: Pick<Tx, 'get'>,
    pseudonym: string,
  ): Promise<{ links: LinkView[]; purposes: Array<{ purpose: Purpose; card: CardKind | null; paused: boolean }> }> {
    const links: LinkView[] = [];
    for (const kind of CARD_KINDS) {
      const l = await getLink(tx, pseudonym, kind);
      const purpose = purposeOfCard(kind);
      links.push({
        kind,
        purpose,
        linked: !!l,
        refHint: l?.refHint ?? null,
        provider: l?.provider ?? null,
        linkedAt: l?.linkedAt ?? null,
        paused: await isPaused(tx, pseudonym, purpose),
      });
    }
    const purposes = [];
    for (const purpose of PURPOSES)
      purposes.push({ purpose, card: PURPOSE_CARD[purpose], paused: await isPaused(tx, pseudonym, purpose) });
    return { links, purposes };
  }

  /** A resident asks for `kind` to be linked: a request id the resident gives its authority, which confirms it. */
  async request(
    tx: Tx,
    pseudonym: string,
    kind: CardKind,
  ): Promise<{ requestId: string; kind: CardKind; expiresAt: string }> {
    const requestId = randomBytes(12).toString('base64url');
    const expiresAt = new Date(tx.now.getTime() + LINK_REQUEST_TTL_MS).toISOString();
    const prior = await tx.get<string>('links', pendingKey(pseudonym, kind));
    if (prior) tx.del('links', requestKey(prior));
    tx.put('links', requestKey(requestId), {
      pseudonym,
      kind,
      at: tx.now.toISOString(),
      expiresAt,
    } satisfies LinkRequest);
    tx.put('links', pendingKey(pseudonym, kind), requestId);
    return { requestId, kind, expiresAt };
  }

  /**
   * The request `requestId` for `kind`, if it exists, has not expired and was made by the
   * resident `pseudonym` (the ID the authority names). Any mismatch is the same NOT_FOUND,
   * so an authority learns nothing about requests of other people or other kinds.
   */
  async takeRequest(tx: Tx, requestId: string, kind: CardKind, pseudonym: string): Promise<LinkRequest> {
    const r = await tx.get<LinkRequest>('links', requestKey(requestId));
    if (!r || r.kind !== kind || r.pseudonym !== pseudonym || Date.parse(r.expiresAt) <= tx.now.getTime()) {
      throw new ServiceError('NOT_FOUND', 'no such link request for this person and card (or it expired)');
    }
    tx.del('links', requestKey(requestId));
    tx.del('links', pendingKey(pseudonym, kind));
    return r;
  }
}
