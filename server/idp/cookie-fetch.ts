/**
 * `fetch` with a cookie jar, for driving sign-in pages from scripts and tests: cookies are
 * kept per origin and path (RFC 6265 path matching, Max-Age and Expires honoured, Secure
 * ones sent over https, or to a loopback host, which browsers count as secure) and redirects are never followed, so the caller sees each hop.
 */

export type JarFetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

interface Cookie {
  name: string;
  value: string;
  path: string;
  secure: boolean;
  /** Milliseconds since the epoch; Infinity for a session cookie. */
  expiresAt: number;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The directory of a request path (RFC 6265 §5.1.4 default-path). */
function defaultPath(pathname: string): string {
  const i = pathname.lastIndexOf('/');
  return i <= 0 ? '/' : pathname.slice(0, i);
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

function parseSetCookie(header: string, url: URL, now: number): Cookie | undefined {
  const [pair, ...attrs] = header.split(';');
  const eq = pair.indexOf('=');
  if (eq <= 0) return undefined;
  const cookie: Cookie = {
    name: pair.slice(0, eq).trim(),
    value: pair.slice(eq + 1).trim(),
    path: defaultPath(url.pathname),
    secure: false,
    expiresAt: Infinity,
  };
  let maxAge: number | undefined;
  for (const attr of attrs) {
    const [k, ...rest] = attr.split('=');
    const key = k.trim().toLowerCase();
    const v = rest.join('=').trim();
    if (key === 'path' && v.startsWith('/')) cookie.path = v;
    else if (key === 'secure') cookie.secure = true;
    else if (key === 'max-age' && /^-?\d+$/.test(v)) maxAge = Number(v);
    else if (key === 'expires' && !Number.isNaN(Date.parse(v))) cookie.expiresAt = Date.parse(v);
  }
  // Max-Age wins over Expires (RFC 6265 §5.3 step 3).
  if (maxAge !== undefined) cookie.expiresAt = maxAge <= 0 ? 0 : now + maxAge * 1000;
  return cookie;
}

/** A cookie-keeping fetch; `jar` is exposed for inspection. */
export function createCookieFetch(base: typeof fetch = fetch): JarFetch & { jar: Map<string, Map<string, Cookie>> } {
  const jar = new Map<string, Map<string, Cookie>>();
  const jarFetch = async (input: string | URL, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input);
    const now = Date.now();
    const cookies = jar.get(url.origin) ?? new Map<string, Cookie>();
    jar.set(url.origin, cookies);
    const sending = [...cookies.values()]
      .filter(
        (c) =>
          c.expiresAt > now &&
          pathMatches(url.pathname, c.path) &&
          (!c.secure || url.protocol === 'https:' || LOOPBACK.has(url.hostname)),
      )
      .sort((a, b) => b.path.length - a.path.length);
    const headers = new Headers(init.headers);
    if (sending.length) headers.set('cookie', sending.map((c) => `${c.name}=${c.value}`).join('; '));
    const res = await base(url, { ...init, headers, redirect: 'manual' });
    for (const header of res.headers.getSetCookie()) {
      const c = parseSetCookie(header, url, now);
      if (!c) continue;
      const key = `${c.name}\0${c.path}`;
      if (c.expiresAt <= now) cookies.delete(key);
      else cookies.set(key, c);
    }
    return res;
  };
  return Object.assign(jarFetch, { jar });
}
