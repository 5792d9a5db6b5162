import { seqKey, type Tx } from '../../ledger/ledger';

/** Where a synthetic scan happens and whose code it was. */
export interface SyntheticScan {
  /** The resident's subject, `r:<pseudonym>`. */
  subject: string;
  venue: string;
  venueType: string;
  subtype?: string;
  district: string;
  cti: string;
}

/**
 * What a green staff scan writes (server/services/scans.ts `record`): one `scan.recorded` event
 * on the resident's and the venue's chains, and its two entries in the `scans` space. For
 * benches that fill or load a ledger without the service.
 */
export async function appendSyntheticScan(tx: Tx, s: SyntheticScan): Promise<void> {
  const e = await tx.append({
    type: 'scan.recorded',
    subjects: [s.subject, `v:${s.venue}`],
    data: {
      venue: s.venue,
      venueType: s.venueType,
      district: s.district,
      method: 'staff',
      issuer: '340000',
      cti: s.cti,
      colour: 'green',
      codeResult: 'VALID',
      decision: 'admit',
      rule: 'green-admit',
      policyVersion: 1,
      temperatureBand: 'normal',
      certificate: null,
    },
  });
  const at = tx.now.toISOString();
  const entry = { seq: e.seq, subject: s.subject, decision: 'admit', colour: 'green', at };
  tx.put('scans', `v/${s.venue}/${at}/${seqKey(e.seq)}`, entry);
  tx.put('scans', `t/${at}/${seqKey(e.seq)}`, {
    ...entry,
    venue: s.venue,
    venueType: s.venueType,
    ...(s.subtype ? { subtype: s.subtype } : {}),
    district: s.district,
  });
}
