/**
 * The scale bench's room (test/bench/scale.bench.ts): a linked room of the hub gateway whose members
 * have all posted, half of them native users of the hub's platform and half native users of the
 * follower's (in its mirror room), with what the bench measures on it. Every time is a platform's
 * own clock (wall clock with sub-ms resolution, the same machine): when the event entered the
 * sender's platform, and when the other gateway put the result on its platform (a rendered post, a
 * ghost joining), which it does after storing it.
 */
import { randomBytes } from 'node:crypto';
import { legacyUserUri } from '../../src/rooms/identity';
import { ParticipantRole } from '../../src/ports';
import { GHOST_PREFIX } from '../fakes/memory-platform';
import type { ControlClient, NativeUser, ProvisioningClient } from '../support/e2e-clients';
import { MEMORY_PLATFORM, type GatewayCluster } from '../support/e2e-gateways';
import { waitFor } from '../support/e2e-wait';

/** How long any one wait of the bench may take before it fails (building a room waits the longest). */
const WAIT_MS = 600_000;
/** Poll interval while timing one event (the times come from the platforms, not from the poll). */
const SAMPLE_POLL_MS = 10;
const BULK_POLL_MS = 100;
/** Requests kept in flight while building (each is queued behind the room lock of the gateway). */
const BUILD_CONCURRENCY = 4;

/** One gateway's view of the room: its platform's control API and the legacy room there. */
interface Side {
  readonly domain: string;
  readonly control: ControlClient;
  readonly provisioning: ProvisioningClient;
  readonly roomId: string;
}

/**
 * What one gateway's platform shows of the room, read incrementally: posts by text and member
 * changes by `<change> <member id>`, each with the time the platform made it.
 */
class PlatformLog {
  private readonly postTimes = new Map<string, number>();
  private readonly changes = new Map<string, number>();
  private nextPost = 0;
  private nextChange = 0;

  constructor(private readonly side: Side) {}

  async poll(): Promise<void> {
    const [entries, changes] = await Promise.all([
      this.side.control.timeline(this.side.roomId, this.nextPost),
      this.side.control.memberLog(this.side.roomId, this.nextChange),
    ]);
    for (const t of entries) {
      const e = t.event;
      if (e.kind === 'message' && e.action.type === 'post' && !this.postTimes.has(e.action.body.text)) {
        this.postTimes.set(e.action.body.text, t.recordedAt);
      }
    }
    for (const c of changes) this.changes.set(`${c.change} ${c.id}`, c.at);
    this.nextPost += entries.length;
    this.nextChange += changes.length;
  }

  /** When the post `text` appeared (waits for it). */
  post(text: string, intervalMs = SAMPLE_POLL_MS): Promise<number> {
    return this.until(() => this.postTimes.get(text), `post "${text}" on ${this.side.domain}`, intervalMs);
  }

  /** When all of `texts` had appeared: the latest of their times. */
  async posts(texts: readonly string[]): Promise<number> {
    await this.until(
      () => (texts.every((t) => this.postTimes.has(t)) ? true : undefined),
      `${texts.length} posts on ${this.side.domain}`,
      BULK_POLL_MS,
    );
    return Math.max(...texts.map((t) => this.postTimes.get(t)!));
  }

  /** When the ghost of `userUri` made `change` in the room (waits for it). */
  ghost(userUri: string, change: 'join' | 'leave'): Promise<number> {
    const key = `${change} ${GHOST_PREFIX}${userUri}`;
    return this.until(() => this.changes.get(key), `${key} on ${this.side.domain}`, SAMPLE_POLL_MS);
  }

  private async until<T>(probe: () => T | undefined, what: string, intervalMs: number): Promise<T> {
    return waitFor(
      async () => {
        const hit = probe();
        if (hit !== undefined) return hit;
        await this.poll();
        return probe();
      },
      { timeoutMs: WAIT_MS, intervalMs, what },
    );
  }
}

/** Run `task` over `items` with `concurrency` in flight; `done(n)` after each. */
async function pool<T>(
  items: readonly T[],
  concurrency: number,
  task: (item: T) => Promise<unknown>,
  done: (n: number) => void,
): Promise<void> {
  let next = 0;
  let finished = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        await task(items[next++]!);
        done(++finished);
      }
    }),
  );
}

/** One timed sample: from the event on one platform to its effect on the other. */
export interface Sample {
  readonly join: number;
  readonly firstPost: number;
}

/** How many of a size's members are on each side: half and half, the hub's side taking the odd one. */
export function split(size: number): { hub: number; follower: number } {
  const hub = Math.ceil(size / 2);
  // The follower needs one member of the room to receive anything: a room of 1 gets a reader there.
  return { hub, follower: Math.max(1, size - hub) };
}

export class ScaleRoom {
  private readonly hubLog: PlatformLog;
  private readonly followerLog: PlatformLog;
  private readonly tag = randomBytes(3).toString('hex');
  private samples = 0;
  private ingestRounds = 0;

  private constructor(
    readonly hub: Side,
    readonly follower: Side,
    readonly roomUri: string,
    readonly hubUsers: readonly NativeUser[],
    readonly followerUsers: readonly NativeUser[],
  ) {
    this.hubLog = new PlatformLog(hub);
    this.followerLog = new PlatformLog(follower);
  }

  /**
   * Link a room of `size` members on the hub and have every member post once: the hub's users
   * are native members when the room is linked; the first follower user is invited by the hub (a
   * Welcome creates the mirror room), the others join the mirror room on their platform (the
   * follower commits their puppets' Adds through the hub's /update). Each hub user's first post
   * makes the hub commit its puppet's Add. Resolves once every post is on the other side.
   */
  static async build(
    cluster: GatewayCluster,
    domains: readonly [string, string],
    size: number,
    progress: (text: string) => void,
  ): Promise<ScaleRoom> {
    const [hubDomain, followerDomain] = domains;
    const hubGw = cluster.gateway(hubDomain);
    const followerGw = cluster.gateway(followerDomain);
    const counts = split(size);
    const user = (side: string, i: number): NativeUser => ({ userId: `@${side}${size}-${i}:bench` });
    const hubUsers = Array.from({ length: counts.hub }, (_, i) => user('a', i));
    const followerUsers = Array.from({ length: counts.follower }, (_, i) => user('b', i));

    const roomId = `!scale-${size}-${randomBytes(4).toString('hex')}`;
    await hubGw.control.createRoom(roomId, {
      name: `Scale ${size}`,
      members: hubUsers.map((u, i) => ({ ...u, role: i === 0 ? ParticipantRole.Owner : ParticipantRole.Member })),
    });
    const roomUri = await hubGw.provisioning.linkRoom(MEMORY_PLATFORM, roomId);
    const firstReader = legacyUserUri(followerDomain, MEMORY_PLATFORM, followerUsers[0]!.userId);
    await hubGw.control.membership(roomId, { userUri: firstReader }, 'invite', { by: hubUsers[0] });
    const mirror = await waitFor(
      async () => (await followerGw.control.rooms()).find((r) => r.roomId.includes(roomUri)),
      { timeoutMs: WAIT_MS, what: `${followerDomain}'s mirror room of ${roomUri}` },
    );
    const room = new ScaleRoom(
      { domain: hubDomain, control: hubGw.control, provisioning: hubGw.provisioning, roomId },
      {
        domain: followerDomain,
        control: followerGw.control,
        provisioning: followerGw.provisioning,
        roomId: mirror.roomId,
      },
      roomUri,
      hubUsers,
      followerUsers,
    );
    const every = Math.max(1, Math.floor(size / 10));
    const report = (what: string, total: number) => (n: number) => {
      if (n % every === 0 || n === total) progress(`  ${what}: ${n}/${total}`);
    };
    const joiners = followerUsers.slice(1);
    await pool(
      joiners,
      BUILD_CONCURRENCY,
      (u) => followerGw.control.membership(mirror.roomId, u, 'join'),
      report(`${followerDomain} users join`, joiners.length),
    );
    await room.settle();
    const hello = (u: NativeUser): string => `hello from ${u.userId} ${room.tag}`;
    await pool(
      hubUsers,
      BUILD_CONCURRENCY,
      (u) => hubGw.control.say(roomId, u, hello(u)),
      report(`${hubDomain} users' first posts`, hubUsers.length),
    );
    await room.followerLog.posts(hubUsers.map(hello));
    await room.settle();
    await pool(
      followerUsers,
      BUILD_CONCURRENCY,
      (u) => followerGw.control.say(mirror.roomId, u, hello(u)),
      report(`${followerDomain} users' first posts`, followerUsers.length),
    );
    await room.hubLog.posts(followerUsers.map(hello));
    return room;
  }

  /** Users with clients in the group, as the hub sees it. */
  async groupMembers(): Promise<number> {
    return (await this.hub.provisioning.room(this.roomUri))?.members.length ?? NaN;
  }

  /** Resolves once the follower's group is at the hub's epoch (no commit on its way). */
  async settle(): Promise<void> {
    await waitFor(
      async () => {
        const [h, f] = await Promise.all([
          this.hub.provisioning.room(this.roomUri),
          this.follower.provisioning.room(this.roomUri),
        ]);
        return h !== undefined && f !== undefined && String(h.epoch) === String(f.epoch) ? true : undefined;
      },
      { timeoutMs: WAIT_MS, intervalMs: 50, what: `${this.follower.domain} at the hub's epoch of ${this.roomUri}` },
    );
  }

  /**
   * One sender of the hub's side posts `count` messages, each acknowledged by the hub before the
   * next. Returns the milliseconds from the first post entering the platform to the last one
   * acknowledged by the hub, and to the last one rendered on the follower.
   */
  async ingest(count: number): Promise<{ ackedMs: number; deliveredMs: number }> {
    const round = this.ingestRounds++;
    const texts = Array.from({ length: count }, (_, i) => `ingest ${round}.${i} ${this.tag}`);
    const sent = await this.hub.control.sayMany(this.hub.roomId, this.hubUsers[0]!, texts);
    const start = sent[0]!.recordedAt;
    const delivered = await this.followerLog.posts(texts);
    return { ackedMs: sent[sent.length - 1]!.ackedAt - start, deliveredMs: delivered - start };
  }

  /**
   * A new native user of the hub's platform joins (the hub commits the participant list), posts
   * for the first time (the hub commits its puppet's Add, then the message), and leaves again so
   * that the room keeps its size. Times: join → ghost joined on the follower; post → rendered there.
   */
  async hubNewcomer(): Promise<Sample> {
    const u = { userId: `@new-a${this.samples++}-${this.tag}:bench` };
    const uri = legacyUserUri(this.hub.domain, MEMORY_PLATFORM, u.userId);
    return this.newcomer(this.hub, this.followerLog, u, uri);
  }

  /**
   * A new native user of the follower's platform joins the mirror room (the follower commits its
   * puppet's Add through the hub's /update), posts for the first time and leaves again. Times:
   * join → its ghost joined on the hub's platform; post → rendered there.
   */
  async followerNewcomer(): Promise<Sample> {
    const u = { userId: `@new-b${this.samples++}-${this.tag}:bench` };
    const uri = legacyUserUri(this.follower.domain, MEMORY_PLATFORM, u.userId);
    return this.newcomer(this.follower, this.hubLog, u, uri);
  }

  private async newcomer(from: Side, to: PlatformLog, u: NativeUser, uri: string): Promise<Sample> {
    const joined = await from.control.membership(from.roomId, u, 'join');
    const join = (await to.ghost(uri, 'join')) - joined.recordedAt;
    const text = `first post of ${u.userId}`;
    const posted = await from.control.say(from.roomId, u, text);
    const firstPost = (await to.post(text)) - posted.recordedAt;
    await from.control.membership(from.roomId, u, 'leave');
    await to.ghost(uri, 'leave');
    // A leave on the follower is the list change alone; the hub then removes the clients.
    await waitFor(
      async () =>
        (await this.hub.provisioning.room(this.roomUri))?.members.includes(uri) === false ? true : undefined,
      { timeoutMs: WAIT_MS, intervalMs: 50, what: `${uri}'s clients removed` },
    );
    await this.settle();
    return { join, firstPost };
  }
}
