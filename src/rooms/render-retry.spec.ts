import type { RoomUri, UserUri } from '../common/ids';
import { ErrorCode, PlatformError } from '../common/errors';
import { encodeMimiContentWithId } from '../mimi/content';
import type { RoomEventRecord } from '../persistence/repositories/room-event.repository';
import type { RoomRecord } from '../persistence/repositories/room.repository';
import type { MessageAction, PostOptions } from '../ports';
import { contentForAction } from './content-mapping';
import { RenderWorker } from './render.worker';

/**
 * Which renders the RenderWorker marks as retries (PostOptions.retry), so that a bridge whose
 * platform may have forgotten its de-duplication looks for the post before sending it again
 * (issue #14): an event tried before, and the first batch of a room that had pending renders
 * when the process started (an earlier process may have posted them without recording it). A
 * first attempt in a running process is not a retry. The repositories are in-memory stand-ins.
 */

const ROOM = 'mimi://hub.example/r/club' as RoomUri;
const SENDER = 'mimi://hub.example/u/alice' as UserUri;
const room: RoomRecord = {
  roomUri: ROOM,
  role: 'follower',
  hubDomain: 'hub.example',
  platform: 'memory',
  legacyRoomId: '!club',
  fanoutSeq: 0,
  eventSeq: 0,
  createdAt: 0,
} as unknown as RoomRecord;

async function eventAt(seq: number, renderAttempts = 0): Promise<RoomEventRecord> {
  const action: MessageAction = { type: 'post', body: { kind: 'text', text: `message ${seq}` } };
  const content = await contentForAction(action, {
    senderUri: SENDER,
    roomUri: ROOM,
    messageIdOf: async () => undefined,
  });
  const { bytes } = encodeMimiContentWithId(content!, SENDER, ROOM);
  return {
    roomUri: ROOM,
    seq,
    messageId: `m${seq}`,
    senderUri: SENDER,
    kind: 'text',
    content: bytes,
    acceptedAt: seq,
    renderStatus: 'pending',
    renderAttempts,
    createdAt: seq,
  };
}

function workerOver(pending: RoomEventRecord[], batchSize = 64) {
  const calls: { seq: number; opts: PostOptions }[] = [];
  let failNext = 0;
  const events = {
    roomsWithPendingRender: async () => (pending.length > 0 ? [ROOM] : []),
    nextToRender: async (_room: RoomUri, limit: number) =>
      pending.filter((e) => e.renderStatus === 'pending').slice(0, Math.min(limit, batchSize)),
    findPlatformEventId: async () => undefined,
    countRenderAttempt: async (_room: RoomUri, seq: number) => {
      const i = pending.findIndex((e) => e.seq === seq);
      pending[i] = { ...pending[i]!, renderAttempts: pending[i]!.renderAttempts + 1 };
    },
    setRenderStatus: async (_tx: unknown, _room: RoomUri, seq: number, status: 'done' | 'failed') => {
      const i = pending.findIndex((e) => e.seq === seq);
      pending[i] = { ...pending[i]!, renderStatus: status };
    },
    recordLegacyEvent: async () => undefined,
  };
  const bridge = {
    post: async (_room: unknown, _as: unknown, action: MessageAction, opts: PostOptions) => {
      const seq = Number(action.type === 'post' ? action.body.text.split(' ')[1] : NaN);
      calls.push({ seq, opts });
      if (failNext > 0) {
        failNext -= 1;
        throw new PlatformError(ErrorCode.PlatformUnavailable, 'no answer');
      }
      return { platformEventId: `$${seq}`, acceptedAt: 1 };
    },
  };
  const worker = new RenderWorker(
    {
      bridge: () => bridge,
      legacyRoom: () => ({ platform: 'memory', roomId: '!club' }),
      profiles: { remoteUser: async (_p: string, userUri: UserUri) => ({ userUri }) },
    } as never,
    { findByUri: async () => room } as never,
    events as never,
    { run: async (fn: (tx: unknown) => Promise<unknown>) => fn({}) } as never,
    { localize: async (_r: unknown, _as: unknown, action: MessageAction) => action } as never,
    { renderRetryMs: 10, renderTimeoutMs: 1_000 },
  );
  const retries = () => calls.map((c) => `${c.seq}:${String(c.opts.retry)}`);
  return { worker, retries, failOnce: () => (failNext = 1) };
}

/** Render what `w` has (after a start-up resume when `resumed`), then stop it: `seq:retry` of each post. */
async function rendered(w: ReturnType<typeof workerOver>, resumed = false): Promise<string[]> {
  if (resumed) await w.worker.resumeAll();
  else w.worker.kick(ROOM);
  await w.worker.idle();
  await w.worker.beforeApplicationShutdown();
  return w.retries();
}

describe('RenderWorker: which posts are retries (PostOptions.retry)', () => {
  it('after a start, the first batch of a room with pending renders is a retry; what comes after is not', async () => {
    const pending = await Promise.all([1, 2, 3, 4, 5].map((seq) => eventAt(seq)));
    expect(await rendered(workerOver(pending, 3), true)).toEqual(['1:true', '2:true', '3:true', '4:false', '5:false']);
  });

  it('a room without pending renders at start-up: its first post is no retry; a post tried before is', async () => {
    const pending: RoomEventRecord[] = [];
    const w = workerOver(pending);
    await w.worker.resumeAll();
    pending.push(await eventAt(1), await eventAt(2, 1));
    expect(await rendered(w)).toEqual(['1:false', '2:true']);
  });

  it('a render that failed is tried again as a retry', async () => {
    const w = workerOver([await eventAt(1)]);
    w.failOnce();
    expect(await rendered(w)).toEqual(['1:false', '1:true']);
  });
});
