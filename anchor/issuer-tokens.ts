/** Another issuer's service, with the token that issuer gave us: a WITNESS_FOR or FEDERATION_PEERS entry. */
export interface IssuerToken {
  /** Its GB/T 2260 region code. */
  issuer: string;
  token: string;
  /** Where its service is, as written; absent: its status list URL's origin. */
  url?: string;
}

/**
 * Parses `320000=<token>,310000=<token>@https://sh.example`: each entry an issuer's region code,
 * the token it issued us, and optionally where its service is (WITNESS_FOR, FEDERATION_PEERS).
 * @param tokenName what the token is called in the error message ("witness token")
 * @throws Error naming the entry that does not parse, never its token
 */
export function parseIssuerTokens(value: string, tokenName: string): IssuerToken[] {
  const out: IssuerToken[] = [];
  for (const part of value
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([1-9][0-9]{5})=([A-Za-z0-9_-]{16,})(?:@(https?:\/\/\S+))?$/.exec(part);
    if (!m) throw new Error(`"${part.replace(/=.*/, '=…')}" is not <region code>=<${tokenName}>[@<service URL>]`);
    if (out.some((t) => t.issuer === m[1])) throw new Error(`issuer ${m[1]} is listed twice`);
    out.push({ issuer: m[1], token: m[2], ...(m[3] ? { url: m[3] } : {}) });
  }
  return out;
}
