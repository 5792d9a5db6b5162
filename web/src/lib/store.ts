/**
 * localStorage with a prefix and JSON, tolerant of a browser that refuses storage
 * (private mode, file:// in some browsers): values then live for the page only.
 */
const memory = new Map<string, string>();
const PREFIX = 'ankang.';

function raw(): Storage | undefined {
  try {
    const s = window.localStorage;
    s.getItem('probe');
    return s;
  } catch {
    return undefined;
  }
}

/**
 * Where earlier versions of the pages kept tokens. The pages keep none in storage now (the
 * session and staff tokens ride in HttpOnly cookies), so a copy left from then is removed.
 */
const RETIRED_TOKEN_KEYS = ['residentToken', 'operatorToken', 'authorityToken'];
for (const key of RETIRED_TOKEN_KEYS) raw()?.removeItem(PREFIX + key);

export function load<T>(key: string): T | undefined {
  const text = raw()?.getItem(PREFIX + key) ?? memory.get(key) ?? null;
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

export function save(key: string, value: unknown): void {
  const text = JSON.stringify(value);
  memory.set(key, text);
  try {
    raw()?.setItem(PREFIX + key, text);
  } catch {
    // Quota exceeded: the in-memory copy still serves this page.
  }
}

export function forget(key: string): void {
  memory.delete(key);
  raw()?.removeItem(PREFIX + key);
}
