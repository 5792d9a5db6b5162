import { PROOF_EXIT_TEXT, runProofCheck } from './proof-command';
import type { Command } from './command';

const USAGE = `Usage: ankang-verify history <bundle.json>... --rpc <url> --contract <address> [--cosigned] [--json]

Proves that a history bundle (kind "history", FORMAT.md §10–11) holds every event of one
resident or venue over a time range: everything "proof" checks, then that each event is
about the subject and inside the range, that sequence numbers increase, and that each
event's hash link for the subject points at the one before it, from the subject's last
event before the range to its first event after it. A removed event breaks a link.

A bundle of format ankang-proof-bundle/2 also carries the subject's head in the
checkpoint's subject map (how many events it has, and the last one's hash), proven into the
checkpoint's map root: an event left out at the open end, or a chain that does not add up
from the subject's first event, is refused. Such a history is reported complete only when
witnesses cosigned the checkpoint (FORMAT.md §13.5): a witness refuses a log in which an
event forks a subject's chain, which the links alone cannot show. The registry says so: its
getAttestation gives the checkpoint's map root (the bundle's must equal it) and how many
witnesses cosigned it of how many it requires. Only a registry that keeps no map roots (one
deployed before them) leaves it to --cosigned. Format 1 bundles verify as before,
completeness unknown.

Options:
  --rpc <url>            JSON-RPC endpoint of the chain (http or https)
  --contract <address>   the AnchorRegistry you trust
  --cosigned             you have checked that witnesses cosigned the (treeSize, root,
                         mapRoot) each bundle names; used only where the registry cannot
                         say (the chain's answer, where it has one, is final)
  --json                 print { "valid", "code", "message", "checked", "complete",
                         "completeness": { "code", "reason" }, "file", "checkpoint" }
                         (an array when several bundles are given)
  -h, --help             show this help

Result codes: VALID, MALFORMED, CHECKPOINT_MISMATCH, EVENT_ALTERED, NOT_INCLUDED,
HISTORY_GAP, HISTORY_ORDER, OUT_OF_RANGE, HEAD_NOT_PROVEN, HEAD_MISMATCH.
Completeness: COMPLETE, NOT_COSIGNED, FORMAT_1, NOT_VALID. A valid history exits 0
whether or not it is known complete; read "complete" (or the second line) for that.

${PROOF_EXIT_TEXT}`;

export const historyCommand: Command = {
  name: 'history',
  synopsis: 'history <bundle.json>... --rpc <url> --contract <address> [--cosigned] [--json]',
  summary: "prove a resident's or venue's history over a range is complete",
  usage: USAGE,
  run: (argv, io) => runProofCheck('history', USAGE, argv, io),
};
