/**
 * `npm run bench:mls` (issue 9): protect+unprotect pairs/s next to the node:crypto limits
 * measured in the same run (Ed25519 sign+verify, AES-128-GCM), and the cost of one commit at the
 * hub (an Add, an AppDataUpdate of the participant list, a Remove with its UpdatePath) in groups
 * of 10, 100 and 1,000 members of which 10, 100 and 500 are local puppets. The measuring is
 * `gateway/bench-scale.ts`'s; `MLS_BENCH_QUICK=1` makes fewer runs.
 */
import './gateway/bench-scale';
