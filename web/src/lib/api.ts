/** A field problem as the API reports it in `error.fields`. */
export interface FieldError {
  path: string;
  code: string;
  message: string;
}

/** A failed call: the API's `{ error: { code, message, fields } }`, or NETWORK when there was no answer. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: FieldError[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface CallOptions {
  token?: string;
  json?: unknown;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
}

let refreshing: Promise<boolean> | undefined;
/** Counts the refreshes that succeeded, so a call can tell whether one happened after it was sent. */
let refreshed = 0;

/**
 * Trades the session's refresh cookie for a new access cookie; one refresh at a time. Both
 * old tokens stop working, so a page must never refresh twice for the same expired token.
 */
export function refreshSession(): Promise<boolean> {
  refreshing ??= fetch('/v1/auth/refresh', { method: 'POST', cache: 'no-store' })
    .then((r) => {
      if (r.ok) refreshed++;
      return r.ok;
    })
    .catch(() => false)
    .finally(() => (refreshing = undefined));
  return refreshing;
}

/**
 * Calls the API on this page's origin and returns the parsed JSON body. The session rides
 * in HttpOnly cookies the page cannot read; when the short-lived access token has expired,
 * it is refreshed once and the call repeated.
 */
export async function api<T = unknown>(method: string, path: string, opts: CallOptions = {}): Promise<T> {
  const sentAfter = refreshed;
  try {
    return await call<T>(method, path, opts);
  } catch (e) {
    if (!(e instanceof ApiError) || e.code !== 'TOKEN_EXPIRED' || opts.token) throw e;
    // Two calls sent with the same expired token share one refresh: a call whose answer
    // comes after another call's refresh finished just repeats with the new cookie (a
    // second refresh would end the token that call now carries).
    if (refreshed === sentAfter && !(await refreshSession())) throw e;
    return call<T>(method, path, opts);
  }
}

async function call<T>(method: string, path: string, opts: CallOptions): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.json);
  }
  const q = Object.entries(opts.query ?? {}).filter(([, v]) => v !== undefined && v !== '');
  const url = path + (q.length ? `?${new URLSearchParams(q.map(([k, v]) => [k, String(v)])).toString()}` : '');
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body, cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'NETWORK', 'the service could not be reached');
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const e = (parsed as { error?: { code?: string; message?: string; fields?: FieldError[] } } | undefined)?.error;
    throw new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? res.statusText, e?.fields ?? []);
  }
  return parsed as T;
}
