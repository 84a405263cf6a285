/**
 * Commit costs at the hub for `bench-scale.ts`: an Add (no path), an AppDataUpdate of the
 * participant list and a Remove with its UpdatePath, first on the tree the adds left (blank parent
 * nodes: the path is encrypted to nearly every leaf), then again after both gateways' local
 * members rotated their leaf keys in `pathFillCandidates` order (the filled tree).
 */
import { participant, remote } from './gateway.fixtures';
import { hubCommit, progress, timed, type BenchGroups } from './bench-setup';

export interface CommitRuns {
  add: number[];
  appData: number[];
  remove: number[];
  commitBytes: number;
}

/** `runs` times: add a remote joiner, change its role, remove it (with a path). */
export async function commitRuns(g: BenchGroups, runs: number, tag: number): Promise<CommitRuns> {
  const out: CommitRuns = { add: [], appData: [], remove: [], commitBytes: 0 };
  for (let run = 0; run < runs; run++) {
    const joiner = remote(100_000 + tag * 1000 + run);
    const kp = (await g.followerStore.createKeyPackage(joiner)).keyPackage;
    g.participants = [...g.participants, participant(joiner)];
    out.add.push(await hubCommit(g, { add: [kp], participants: g.participants }));
    g.participants = g.participants.map((p) => (p.user === joiner ? { ...p, roleIndex: 3 } : p));
    const before = g.hubStorage.written;
    out.appData.push(await hubCommit(g, { participants: g.participants }));
    out.commitBytes = g.hubStorage.written - before;
    g.participants = g.participants.filter((p) => p.user !== joiner);
    out.remove.push(await hubCommit(g, { removeUsers: [joiner], participants: g.participants }));
  }
  return out;
}

export interface FillResult {
  rotations: number;
  /** Time of each rotation commit at its committer (stage + merge), in ms. */
  commits: number[];
  seconds: number;
}

/**
 * Rotate leaf keys until no local member of either gateway has a blank parent node of level
 * `minLevel` or above on its filtered direct path: the hub's members commit and the follower
 * applies, the follower's members commit and the hub applies (as with /update), alternately.
 */
export async function fillPaths(g: BenchGroups, minLevel: number): Promise<FillResult> {
  const out: FillResult = { rotations: 0, commits: [], seconds: 0 };
  const t0 = process.hrtime.bigint();
  for (;;) {
    const [h] = g.hub.pathFillCandidates(1, minLevel);
    if (h !== undefined) {
      const { ms, result } = await timed(async () => {
        const staged = await g.hub.rotateLeafKey(h);
        await g.hub.mergeStagedCommit();
        return staged;
      });
      await g.follower?.processMessage(result.commit);
      out.commits.push(ms);
    }
    const follower = g.follower;
    const [f] = follower?.pathFillCandidates(1, minLevel) ?? [];
    if (follower && f !== undefined) {
      const stage = await timed(() => follower.rotateLeafKey(f));
      const got = await g.hub.processMessage(stage.result.commit);
      if (got.kind !== 'commit') throw new Error(`hub: ${got.kind}`);
      const merge = await timed(() => follower.mergeStagedCommit());
      out.commits.push(stage.ms + merge.ms);
    }
    if (h === undefined && f === undefined) break;
    out.rotations += (h ? 1 : 0) + (f ? 1 : 0);
    if (out.rotations % 50 < 2) progress(`  ${out.rotations} rotations`);
  }
  out.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return out;
}
