/**
 * The soak's client traffic: each sender (alice on Matrix, bob on XMPP, carol on C's memory
 * platform) runs its own loop, one action at a time, so that its own posts are ordered:
 * mostly posts (tagged, soak-ledger.ts), some edits and reactions of its earlier posts; dave (C)
 * and erin (Matrix) join and leave R3. A send that fails or times out is `unknown` in the
 * ledger (it may or may not exist); its tag is never reused.
 */
import { randomUUID } from 'node:crypto';
import { NS } from '../../bridges/xmpp/protocol/namespaces';
import { xml } from '../../bridges/xmpp/protocol/xml';
import type { MatrixUserClient } from '../servers/synapse/synapse-server';
import type { SeededRandom } from '../support/fault-rng';
import type { Ledger } from './soak-ledger';
import { R3_ON_C, type Seat, type SoakRoom } from './soak-rooms';
import type { SoakWorld } from './soak-world';

const SEND_TIMEOUT_MS = 20_000;
const THUMBS = '👍';

/** What a confirmed post can be referred to by, per platform. */
type PostRef = { matrixEventId: string } | { xmppId: string; stanzaId: string } | { memoryEventId: string };

export interface TrafficCounts {
  posts: number;
  postsUnknown: number;
  edits: number;
  reactions: number;
  joins: number;
  leaves: number;
  actionErrors: number;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class SoakTraffic {
  readonly counts: TrafficCounts = {
    posts: 0,
    postsUnknown: 0,
    edits: 0,
    reactions: 0,
    joins: 0,
    leaves: 0,
    actionErrors: 0,
  };
  private readonly refs = new Map<string, PostRef[]>();
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly w: SoakWorld,
    private readonly rooms: readonly SoakRoom[],
    private readonly ledger: Ledger,
    private readonly random: SeededRandom,
    /** Mean pause between two actions of one sender. */
    private readonly meanPauseMs: number,
    private readonly erin: MatrixUserClient,
  ) {}

  start(): void {
    this.running = true;
    const senders = new Set(this.rooms.flatMap((r) => [...r.seats.keys()]));
    this.loops = [...senders].map((s) => this.senderLoop(s, this.random.fork(s)));
    this.loops.push(this.churnLoop(this.random.fork('churn')));
  }

  /** Stop starting actions and wait for the running ones. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async senderLoop(sender: string, rnd: SeededRandom): Promise<void> {
    const mine = this.rooms.filter((r) => r.seats.has(sender));
    while (this.running) {
      await sleep(rnd.int(this.meanPauseMs / 2, (this.meanPauseMs * 3) / 2));
      if (!this.running) break;
      const room = rnd.pick(mine);
      const seat = room.seats.get(sender)!;
      const refs = this.refs.get(`${room.name} ${sender}`) ?? [];
      const roll = rnd.next();
      try {
        if (roll < 0.08 && refs.length > 0) await this.edit(seat, rnd.pick(refs), room, sender);
        else if (roll < 0.16 && refs.length > 0) await this.react(seat, rnd.pick(refs));
        else await this.post(room, sender, seat);
      } catch {
        this.counts.actionErrors += 1;
      }
    }
  }

  private async post(room: SoakRoom, sender: string, seat: Seat): Promise<void> {
    const post = this.ledger.next(room.name, sender);
    try {
      const ref = await withTimeout(this.send(seat, post.tag), SEND_TIMEOUT_MS, `post ${post.tag}`);
      post.status = 'confirmed';
      this.counts.posts += 1;
      const key = `${room.name} ${sender}`;
      const refs = this.refs.get(key) ?? [];
      refs.push(ref);
      if (refs.length > 20) refs.shift();
      this.refs.set(key, refs);
    } catch (e) {
      this.counts.postsUnknown += 1;
      throw e;
    }
  }

  private async send(seat: Seat, text: string): Promise<PostRef> {
    switch (seat.kind) {
      case 'matrix':
        return { matrixEventId: await seat.client.sendText(seat.roomId, text) };
      case 'xmpp': {
        const { id, stanzaId } = await seat.user.say(seat.muc, text);
        return { xmppId: id, stanzaId };
      }
      case 'memory': {
        const r = await this.w.c.control.say(seat.roomId, { userId: 'carol' }, text);
        return { memoryEventId: r.platformEventId };
      }
    }
  }

  private async edit(seat: Seat, ref: PostRef, room: SoakRoom, sender: string): Promise<void> {
    const text = `soak-edit ${room.name} ${sender} ${randomUUID().slice(0, 6)}`;
    const done = (async () => {
      if (seat.kind === 'matrix' && 'matrixEventId' in ref) {
        await seat.client.send(seat.roomId, 'm.room.message', {
          msgtype: 'm.text',
          body: `* ${text}`,
          'm.new_content': { msgtype: 'm.text', body: text },
          'm.relates_to': { rel_type: 'm.replace', event_id: ref.matrixEventId },
        });
      } else if (seat.kind === 'xmpp' && 'xmppId' in ref) {
        await seat.user.say(seat.muc, text, [xml('replace', { xmlns: NS.CORRECT, id: ref.xmppId })]);
      } else if (seat.kind === 'memory' && 'memoryEventId' in ref) {
        await this.w.c.control.send(
          seat.roomId,
          { userId: 'carol' },
          {
            type: 'edit',
            target: { platformEventId: ref.memoryEventId },
            body: { kind: 'text', text },
          },
        );
      }
    })();
    await withTimeout(done, SEND_TIMEOUT_MS, 'edit');
    this.counts.edits += 1;
  }

  private async react(seat: Seat, ref: PostRef): Promise<void> {
    const done = (async () => {
      if (seat.kind === 'matrix' && 'matrixEventId' in ref) {
        await seat.client.send(seat.roomId, 'm.reaction', {
          'm.relates_to': { rel_type: 'm.annotation', event_id: ref.matrixEventId, key: THUMBS },
        });
      } else if (seat.kind === 'xmpp' && 'stanzaId' in ref) {
        await seat.user.say(seat.muc, undefined, [
          xml('reactions', { xmlns: NS.REACTIONS, id: ref.stanzaId }, xml('reaction', {}, THUMBS)),
        ]);
      } else if (seat.kind === 'memory' && 'memoryEventId' in ref) {
        await this.w.c.control.send(
          seat.roomId,
          { userId: 'carol' },
          {
            type: 'react',
            target: { platformEventId: ref.memoryEventId },
            key: THUMBS,
          },
        );
      }
    })();
    await withTimeout(done, SEND_TIMEOUT_MS, 'reaction');
    this.counts.reactions += 1;
  }

  /** dave (C) joins and leaves R3 on C (its hub); erin (Matrix) joins and leaves R3 through A's portal alias. */
  private async churnLoop(rnd: SeededRandom): Promise<void> {
    const dave = { userId: 'dave', displayName: 'Dave' };
    const r3 = this.rooms.find((r) => r.name === 'R3')!;
    let daveIn = false;
    let erinIn: string | undefined;
    while (this.running) {
      await sleep(rnd.int(this.meanPauseMs * 4, this.meanPauseMs * 8));
      if (!this.running) break;
      try {
        if (rnd.chance(0.5)) {
          const change = daveIn ? 'leave' : 'join';
          await withTimeout(this.w.c.control.membership(R3_ON_C, dave, change), SEND_TIMEOUT_MS, `dave: ${change}`);
          daveIn = !daveIn;
          this.counts[daveIn ? 'joins' : 'leaves'] += 1;
        } else if (erinIn === undefined) {
          erinIn = await withTimeout(this.erin.join(this.w.portalAlias(r3.roomUri)), 60_000, 'erin joins');
          this.counts.joins += 1;
        } else {
          await withTimeout(this.erin.leave(erinIn), SEND_TIMEOUT_MS, 'erin leaves');
          erinIn = undefined;
          this.counts.leaves += 1;
        }
      } catch {
        this.counts.actionErrors += 1;
      }
    }
  }
}
