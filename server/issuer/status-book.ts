import { signStatusList, type Signer } from '../../verifier/src';

/**
 * Every resident's current status (2 bits per status index) in memory, and the signed
 * status list built from it. A change marks the list stale, so the next request re-signs
 * it and a verifier sees the change at once; an unchanged list is re-signed once it is
 * older than `maxAgeSeconds`, so verifiers always find a fresh one.
 */
export class StatusBook {
  private values = new Uint8Array(1024);
  private count = 0;
  private signed: { bytes: Uint8Array; issuedAt: number } | undefined;
  private signing: Promise<void> | undefined;
  private version = 0;
  private signedVersion = -1;
  private signedKid = '';

  constructor(
    private readonly iss: string,
    private readonly maxAgeSeconds: number,
  ) {}

  get size(): number {
    return this.count;
  }

  get(index: number): number | undefined {
    return index < this.count ? this.values[index] : undefined;
  }

  set(index: number, value: number): void {
    if (index >= this.values.length) {
      let n = this.values.length;
      while (n <= index) n *= 2;
      const grown = new Uint8Array(n);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[index] = value;
    this.count = Math.max(this.count, index + 1);
    this.version++;
  }

  /** The signed list, re-signed when something changed since it was signed or it has aged. */
  async current(now: number, signer: Signer): Promise<{ bytes: Uint8Array; issuedAt: number }> {
    const wanted = this.version;
    const kid = Buffer.from(signer.kid).toString('hex');
    for (;;) {
      // Re-sign after a change, when aged, and when the signing key changed (rotation or revocation).
      if (this.signed && this.signedVersion >= wanted && this.signedKid === kid && now - this.signed.issuedAt < this.maxAgeSeconds) return this.signed;
      if (this.signing) {
        await this.signing;
        continue;
      }
      const version = this.version;
      this.signing = signStatusList({ iss: this.iss, issuedAt: now, statuses: this.values.subarray(0, this.count) }, signer)
        .then((bytes) => {
          this.signed = { bytes, issuedAt: now };
          this.signedVersion = version;
          this.signedKid = kid;
        })
        .finally(() => {
          this.signing = undefined;
        });
    }
  }
}
