/**
 * oidc-provider's storage adapter, in memory: interactions, sessions, grants, authorization
 * codes and access tokens, all of which expire within half an hour here, so losing them on
 * a restart only means signing in again. Used instead of the package's own memory adapter,
 * which keeps at most 1,000 entries (a burst of sign-ins would evict interactions still in
 * use) and warns on stderr at start.
 *
 * Entries expire at their `expiresIn`; expired ones are swept at most once a minute during
 * writes. Past `maxEntries` the oldest are dropped, so a flood of authorization requests
 * costs bounded memory.
 */

type Payload = Record<string, unknown> & { grantId?: string; uid?: string; userCode?: string; consumed?: number };

export interface OidcAdapter {
  upsert(id: string, payload: Payload, expiresIn?: number): Promise<void>;
  find(id: string): Promise<Payload | undefined>;
  findByUid(uid: string): Promise<Payload | undefined>;
  findByUserCode(userCode: string): Promise<Payload | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

interface Entry {
  payload: Payload;
  /** Milliseconds since the epoch; Infinity for no expiry. */
  expiresAt: number;
}

const SWEEP_EVERY_MS = 60_000;

/** A factory for oidc-provider's `adapter` option: one store shared by every model. */
export function createMemoryAdapter(maxEntries = 200_000): (model: string) => OidcAdapter {
  const entries = new Map<string, Entry>();
  const sessionsByUid = new Map<string, string>();
  const byUserCode = new Map<string, string>();
  const grants = new Map<string, Set<string>>();
  let lastSweep = Date.now();

  const live = (key: string): Entry | undefined => {
    const e = entries.get(key);
    if (e && e.expiresAt <= Date.now()) {
      remove(key);
      return undefined;
    }
    return e;
  };

  function remove(key: string): void {
    const e = entries.get(key);
    if (!e) return;
    entries.delete(key);
    const id = key.slice(key.indexOf(':') + 1);
    if (e.payload.uid && sessionsByUid.get(e.payload.uid) === id) sessionsByUid.delete(e.payload.uid);
    if (e.payload.userCode && byUserCode.get(e.payload.userCode) === id) byUserCode.delete(e.payload.userCode);
    if (e.payload.grantId) {
      const members = grants.get(e.payload.grantId);
      members?.delete(key);
      if (members?.size === 0) grants.delete(e.payload.grantId);
    }
  }

  function sweep(now: number): void {
    if (now - lastSweep < SWEEP_EVERY_MS) return;
    lastSweep = now;
    for (const [key, e] of entries) if (e.expiresAt <= now) remove(key);
  }

  return (model: string): OidcAdapter => {
    const key = (id: string) => `${model}:${id}`;
    return {
      async upsert(id, payload, expiresIn) {
        const now = Date.now();
        sweep(now);
        remove(key(id));
        entries.set(key(id), { payload, expiresAt: typeof expiresIn === 'number' ? now + expiresIn * 1000 : Infinity });
        if (model === 'Session' && payload.uid) sessionsByUid.set(payload.uid, id);
        if (payload.userCode) byUserCode.set(payload.userCode, id);
        if (payload.grantId) {
          const members = grants.get(payload.grantId) ?? new Set<string>();
          members.add(key(id));
          grants.set(payload.grantId, members);
        }
        while (entries.size > maxEntries) remove(entries.keys().next().value!);
      },
      async find(id) {
        return live(key(id))?.payload;
      },
      async findByUid(uid) {
        const id = sessionsByUid.get(uid);
        return id === undefined ? undefined : live(key(id))?.payload;
      },
      async findByUserCode(userCode) {
        const id = byUserCode.get(userCode);
        return id === undefined ? undefined : live(key(id))?.payload;
      },
      async consume(id) {
        const e = live(key(id));
        if (e) e.payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        remove(key(id));
      },
      async revokeByGrantId(grantId) {
        for (const k of [...(grants.get(grantId) ?? [])]) remove(k);
        grants.delete(grantId);
      },
    };
  };
}
