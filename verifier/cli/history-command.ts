import { PROOF_EXIT_TEXT, runProofCheck } from './proof-command';
import type { Command } from './command';

const USAGE = `Usage: ankang-verify history <bundle.json>... --rpc <url> --contract <address> [--json]

Proves that a history bundle (ankang-proof-bundle/1 with kind "history", FORMAT.md §10)
holds every event of one resident or venue over a time range: everything "proof" checks,
then that each event is about the subject and inside the range, that sequence numbers
increase, and that each event's hash link for the subject points at the one before it,
from the subject's last event before the range to its first event after it. A removed
event breaks a link. When the bundle names no event after the range, the line says that
the end of the history is open; a seal the issuer recorded after the range (FORMAT.md §10)
closes it.

Options:
  --rpc <url>            JSON-RPC endpoint of the chain (http or https)
  --contract <address>   the AnchorRegistry you trust
  --json                 print { "valid", "code", "message", "checked", "file", "checkpoint" }
                         (an array when several bundles are given)
  -h, --help             show this help

Result codes: VALID, MALFORMED, CHECKPOINT_MISMATCH, EVENT_ALTERED, NOT_INCLUDED,
HISTORY_GAP, HISTORY_ORDER, OUT_OF_RANGE.

${PROOF_EXIT_TEXT}`;

export const historyCommand: Command = {
  name: 'history',
  synopsis: 'history <bundle.json>... --rpc <url> --contract <address> [--json]',
  summary: "prove a resident's or venue's history over a range is complete",
  usage: USAGE,
  run: (argv, io) => runProofCheck('history', USAGE, argv, io),
};
