import { BeforeApplicationShutdown, Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { GatewayError, errorMessage } from '../common/errors';
import type { RoomUri } from '../common/ids';
import { MetricsRegistry } from '../common/metrics';
import { decodeMimiContent } from '../mimi/content';
import { type RoomEventRecord, RoomEventRepository } from '../persistence/repositories/room-event.repository';
import { type RoomRecord, RoomRepository } from '../persistence/repositories/room.repository';
import { actionForContent, senderProfileOf } from './content-mapping';
import { RenderResults } from './render-results';
import { MediaAssets } from './media-assets';
import { RoomSupport } from './room-support';
import { RoomTransactions } from '../persistence/room-transactions';
import { DEFAULT_RENDER_RETRY_MS, DEFAULT_RENDER_TIMEOUT_MS, ROOMS_OPTIONS, type RoomsOptions } from './rooms.tokens';

/** Events rendered before their outcomes are recorded together. */
const RENDER_BATCH = 64;

/**
 * Follower rendering (ARCHITECTURE §2 flow 5): messages stored from `/notify` with render status
 * `pending` are posted into the local mirror room as their senders' ghosts, one room at a time
 * in log order, so replies and edits find the platform IDs of what they refer to. A render that
 * fails for a retryable reason (platform down) is retried after a delay (no sooner than the
 * platform's rate-limit wait, GatewayError.retryAfterMs), keeping the order; one
 * the platform refuses for good is marked `failed` and skipped. Rendering survives restarts: the
 * pending rows are the queue.
 */
@Injectable()
export class RenderWorker implements BeforeApplicationShutdown {
  private readonly logger = new Logger(RenderWorker.name);
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly idleWaiters = new Set<() => void>();
  /** Rooms with pending renders at start-up whose first batch is not fetched yet. */
  private readonly resumed = new Set<string>();
  /**
   * Per room resumed at start-up, the last seq of its first batch: an earlier process may have
   * posted those events without recording them (it died mid-batch), so their posts are retries.
   */
  private readonly firstBatchEnd = new Map<string, number>();
  private readonly timeoutMs: number;
  private readonly retryMs: number;
  private stopped = false;

  constructor(
    private readonly support: RoomSupport,
    private readonly rooms: RoomRepository,
    private readonly events: RoomEventRepository,
    private readonly transactions: RoomTransactions,
    private readonly media: MediaAssets,
    @Inject(ROOMS_OPTIONS) options: RoomsOptions,
    @Optional() metrics?: MetricsRegistry,
  ) {
    this.timeoutMs = options.renderTimeoutMs ?? DEFAULT_RENDER_TIMEOUT_MS;
    this.retryMs = options.renderRetryMs ?? DEFAULT_RENDER_RETRY_MS;
    metrics?.gauge('mimi_render_pending', 'Received events waiting to be rendered into platform rooms', async () => [
      { labels: {}, value: await this.events.countPendingRender() },
    ]);
    metrics?.gauge('mimi_render_rooms_active', 'Rooms being rendered or waiting for a render retry', () => [
      { labels: {}, value: new Set([...this.running.keys(), ...this.timers.keys()]).size },
    ]);
  }

  /** Render whatever is pending in every room (after a restart). */
  async resumeAll(): Promise<void> {
    for (const roomUri of await this.events.roomsWithPendingRender()) {
      this.resumed.add(roomUri);
      this.kick(roomUri);
    }
  }

  /** Start rendering `roomUri` now (or once more after the current pass). */
  kick(roomUri: RoomUri): void {
    if (this.stopped) return;
    const timer = this.timers.get(roomUri);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.timers.delete(roomUri);
    }
    if (this.running.has(roomUri)) {
      this.again.add(roomUri);
      return;
    }
    const drain = this.drain(roomUri).finally(() => {
      this.running.delete(roomUri);
      if (this.again.delete(roomUri)) this.kick(roomUri);
      else if (this.running.size === 0 && this.timers.size === 0) this.idleWaiters.forEach((w) => w());
    });
    this.running.set(roomUri, drain);
  }

  /** Resolves when no room is being rendered or waiting for a retry (tests). */
  idle(): Promise<void> {
    if (this.running.size === 0 && this.timers.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = (): void => {
        this.idleWaiters.delete(waiter);
        resolve();
      };
      this.idleWaiters.add(waiter);
    });
  }

  /** Stop before the database closes: no new renders, the ones in flight finish. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.timers.forEach((t) => clearTimeout(t));
    this.timers.clear();
    await Promise.allSettled([...this.running.values()]);
  }

  /**
   * Render the room's pending events, up to RENDER_BATCH at a time: each posted in log order, then
   * the outcomes of the batch recorded in ONE transaction (issue 12 item 2). A crash in between
   * posts them again with the same idempotency keys, which the platform answers from its record.
   */
  private async drain(roomUri: RoomUri): Promise<void> {
    try {
      for (;;) {
        if (this.stopped) return;
        const room = await this.rooms.findByUri(undefined, roomUri);
        if (room === undefined) return;
        const batch = await this.events.nextToRender(roomUri, RENDER_BATCH);
        if (batch.length === 0) return;
        if (this.resumed.delete(roomUri)) this.firstBatchEnd.set(roomUri, batch[batch.length - 1]!.seq);
        const results = new RenderResults();
        let retry: { readonly retryAfterMs?: number } | undefined;
        for (const event of batch) {
          const outcome = await this.renderOne(room, event, results);
          if (outcome !== 'done') {
            retry = outcome;
            await this.recordResults(room, results);
            await this.events.countRenderAttempt(event.roomUri, event.seq);
            break;
          }
          if (this.stopped) break;
        }
        if (retry !== undefined) {
          this.scheduleRetry(roomUri, retry.retryAfterMs);
          return;
        }
        await this.recordResults(room, results);
        // Every event of the first batch after start-up is recorded: later ones are first tries.
        if (batch[batch.length - 1]!.seq >= (this.firstBatchEnd.get(roomUri) ?? Infinity)) {
          this.firstBatchEnd.delete(roomUri);
        }
      }
    } catch (e) {
      this.logger.error(`room=${roomUri}: rendering stopped: ${errorMessage(e)}`);
      this.scheduleRetry(roomUri);
    }
  }

  /** Try the room again after renderRetryMs, or later when the platform asked for that (a 429's wait). */
  private scheduleRetry(roomUri: RoomUri, retryAfterMs = 0): void {
    if (this.stopped || this.timers.has(roomUri)) return;
    this.timers.set(
      roomUri,
      setTimeout(
        () => {
          this.timers.delete(roomUri);
          this.kick(roomUri);
        },
        Math.max(this.retryMs, retryAfterMs),
      ),
    );
  }

  /** Record the outcomes of a batch in one transaction. */
  private async recordResults(room: RoomRecord, results: RenderResults): Promise<void> {
    if (results.size === 0) return;
    await this.transactions.run(async (tx) => {
      for (const r of results.all()) {
        await this.events.setRenderStatus(tx, r.event.roomUri, r.event.seq, r.status);
        if (r.platformEventId !== undefined) {
          await this.events.recordLegacyEvent(tx, {
            platform: room.platform,
            platformEventId: r.platformEventId,
            roomUri: r.event.roomUri,
            messageId: r.event.messageId,
          });
        }
      }
    });
    results.clear();
  }

  /** Post one event; its outcome goes into `results` (recorded with the batch's). */
  private async renderOne(
    room: RoomRecord,
    event: RoomEventRecord,
    results: RenderResults,
  ): Promise<'done' | { readonly retryAfterMs?: number }> {
    const platform = room.platform;
    const ids = `room=${event.roomUri} seq=${event.seq} message=${event.messageId}`;
    const setStatus = (status: 'done' | 'failed', platformEventId?: string): void =>
      results.add({ event, status, platformEventId });
    const content = decodeMimiContent(event.content);
    // A reply to (or edit of) a message rendered earlier in this batch finds it before it is recorded.
    const action = await actionForContent(
      content,
      async (id) =>
        results.platformEventIdOf(id) ??
        (await this.events.findPlatformEventId(undefined, event.roomUri, platform, id)),
    );
    if (action === undefined) {
      this.logger.warn(`${ids}: refers to a message this room never showed; not rendered`);
      setStatus('failed');
      return 'done';
    }
    try {
      const as = await this.support.profiles.remoteUser(platform, event.senderUri, senderProfileOf(content));
      const local = await this.media.localize(room, as, action);
      const result = await this.support.bridge(platform).post(this.support.legacyRoom(room), as, local, {
        idempotencyKey: `mimi:${event.messageId}`,
        timeoutMs: this.timeoutMs,
        // Tried before (an attempt failed or timed out), or maybe by a process that died mid-batch.
        retry: event.renderAttempts > 0 || event.seq <= (this.firstBatchEnd.get(event.roomUri) ?? -1),
      });
      setStatus('done', result.platformEventId);
      this.logger.debug(`${ids}: rendered as ${result.platformEventId}`);
      return 'done';
    } catch (e) {
      if (e instanceof GatewayError && !e.retryable) {
        this.logger.warn(`${ids}: the platform refused it: ${e.message}`);
        setStatus('failed');
        return 'done';
      }
      this.logger.warn(`${ids}: render failed, will retry: ${errorMessage(e)}`);
      return { retryAfterMs: e instanceof GatewayError ? e.retryAfterMs : undefined };
    }
  }
}
