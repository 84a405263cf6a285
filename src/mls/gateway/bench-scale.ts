/**
 * Gateway-scale MLS on this machine, for groups of 10, 100 and 1,000 members (10, 100 and 500 of
 * them local puppets of the hub gateway, the rest members of a follower gateway that joined from
 * the Welcome); storage writes are included, in memory.
 *
 * 1. Commits at the hub (`bench-commits.ts`), p50/p95 over several runs: an Add, an AppDataUpdate
 *    of the participant list, a Remove with its UpdatePath. First on the tree the adds left
 *    (blank parent nodes: the baseline), then after the local members of both gateways rotated
 *    their leaf keys in `pathFillCandidates` order (the filled tree), with what the filling cost.
 * 2. Application messages (`bench-messages.ts`): protect at the hub + unprotect at the follower,
 *    first message of each sender in an epoch and steady state, next to node:crypto's Ed25519
 *    sign+verify measured in the same run.
 *
 *   npm run bench:mls
 *   MLS_BENCH_QUICK=1 npm run bench:mls        (fewer runs and messages)
 *   MLS_BENCH_SIZES=10,100 npm run bench:mls   (some sizes only)
 *   MLS_BENCH_FILL_LEVEL=1 npm run bench:mls   (fill blank nodes down to this level; default 2)
 */
import { bot } from './gateway.fixtures';
import { commitRuns, fillPaths, type CommitRuns, type FillResult } from './bench-commits';
import { messageFigures, type MessageFigures } from './bench-messages';
import { benchGroups, fmt, p50p95, progress } from './bench-setup';

const QUICK = process.env.MLS_BENCH_QUICK === '1';
const RUNS = QUICK ? 3 : 7;
const MESSAGES = QUICK ? 600 : 3000;
const BASELINE_MS = QUICK ? 300 : 700;
const FILL_LEVEL = Number(process.env.MLS_BENCH_FILL_LEVEL ?? 2);
const ONLY = process.env.MLS_BENCH_SIZES?.split(',').map(Number);
const SIZES = [
  { members: 10, locals: 10 },
  { members: 100, locals: 100 },
  { members: 1000, locals: 500 },
].filter((s) => !ONLY || ONLY.includes(s.members));

const out = (text: string): void => void process.stdout.write(`${text}\n`);

interface Row {
  members: number;
  locals: number;
  blank: CommitRuns;
  fill: FillResult;
  filled: CommitRuns;
  msg: MessageFigures;
}

async function benchSize(members: number, locals: number): Promise<Row> {
  const g = await benchGroups(members, locals);
  progress(`${members} members: groups set up`);
  const blank = await commitRuns(g, RUNS, 0);
  progress(`${members} members: commits on the blank tree done; filling paths (level >= ${FILL_LEVEL})`);
  const fill = await fillPaths(g, FILL_LEVEL);
  const filled = await commitRuns(g, RUNS, 1);
  progress(`${members} members: commits on the filled tree done`);
  const msg = await messageFigures(g, MESSAGES, BASELINE_MS);
  if (!g.hub.isLocalMember(bot())) throw new Error('the bot left');
  return { members, locals, blank, fill, filled, msg };
}

function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((l) => l[i]!.length)));
  const print = (cells: string[]): void => out(`| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`);
  print(header);
  print(widths.map((w) => '-'.repeat(w)));
  for (const r of rows) print(r);
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const s of SIZES) rows.push(await benchSize(s.members, s.locals));
  out(`gateway-scale MLS bench (${QUICK ? 'quick, ' : ''}${RUNS} commit runs, ${MESSAGES} steady messages per size)`);
  out('');
  out('Commits at the hub (ms, p50 / p95). Blank tree: after the adds (the baseline); filled: after the rotations.');
  table(
    [
      'members',
      'local',
      'add',
      'AppDataUpdate',
      'remove+path, blank tree',
      `fill: rotations, s, p50/p95 ms each`,
      'add (filled)',
      'AppDataUpdate (filled)',
      'remove+path, filled tree',
      'bytes/commit',
    ],
    rows.map((r) => [
      String(r.members),
      String(r.locals),
      p50p95(r.blank.add),
      p50p95(r.blank.appData),
      p50p95(r.blank.remove),
      `${r.fill.rotations}, ${r.fill.seconds.toFixed(1)} s, ${p50p95(r.fill.commits)}`,
      p50p95(r.filled.add),
      p50p95(r.filled.appData),
      p50p95(r.filled.remove),
      String(r.blank.commitBytes),
    ]),
  );
  out('');
  out('Application messages: protect at the hub + unprotect at the follower (pairs/s), against Ed25519 sign+verify');
  out('of node:crypto measured in slices between them (200 B, and the length the message signature covers here).');
  out('first msg: each sender once in a fresh epoch; idle: senders that did not send in the epoch before.');
  table(
    [
      'members',
      'GroupContext B',
      'first msg, idle sender',
      'first msg/sender',
      'steady',
      'sign+verify 200 B',
      'ratio first (idle / sent before)',
      'ratio steady',
      'sign+verify at signed size',
      'cap (ratio)',
      'bytes/message',
    ],
    rows.map((r) => {
      const m = r.msg;
      return [
        String(r.members),
        String(m.contextBytes),
        m.firstIdle.toFixed(0),
        m.first.toFixed(0),
        m.steady.toFixed(0),
        m.signVerify.toFixed(0),
        `${(m.firstIdle / m.signVerify).toFixed(2)} / ${(m.first / m.signVerify).toFixed(2)}`,
        (m.steady / m.signVerify).toFixed(2),
        m.signVerifyAtSize.toFixed(0),
        (m.signVerifyAtSize / m.signVerify).toFixed(2),
        fmt(m.messageBytes),
      ];
    }),
  );
  out('');
  out(
    'cap: RFC 9420 §6.1 signs FramedContentTBS with the whole GroupContext, which holds the participant list; ' +
      'Ed25519 hashes it three times per sign+verify, so no implementation exceeds that ratio at that size.',
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e instanceof Error ? e.stack : e)}\n`);
  process.exit(1);
});
