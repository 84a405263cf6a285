import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { GatewayError, errorMessage } from '../common/errors';
import type { RoomUri } from '../common/ids';
import { decodeMimiContent } from '../mimi/content';
import { type RoomEventRecord, RoomEventRepository } from '../persistence/repositories/room-event.repository';
import { type RoomRecord, RoomRepository } from '../persistence/repositories/room.repository';
import { actionForContent, senderProfileOf } from './content-mapping';
import { MediaAssets } from './media-assets';
import { RoomSupport } from './room-support';
import { RoomTransactions } from '../persistence/room-transactions';
import { DEFAULT_RENDER_RETRY_MS, DEFAULT_RENDER_TIMEOUT_MS, ROOMS_OPTIONS, type RoomsOptions } from './rooms.tokens';

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
  ) {
    this.timeoutMs = options.renderTimeoutMs ?? DEFAULT_RENDER_TIMEOUT_MS;
    this.retryMs = options.renderRetryMs ?? DEFAULT_RENDER_RETRY_MS;
  }

  /** Render whatever is pending in every room (after a restart). */
  async resumeAll(): Promise<void> {
    for (const roomUri of await this.events.roomsWithPendingRender()) this.kick(roomUri);
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

  private async drain(roomUri: RoomUri): Promise<void> {
    try {
      for (;;) {
        if (this.stopped) return;
        const room = await this.rooms.findByUri(undefined, roomUri);
        if (room === undefined) return;
        const event = await this.events.nextToRender(roomUri);
        if (event === undefined) return;
        const outcome = await this.renderOne(room, event);
        if (outcome !== 'done') {
          this.scheduleRetry(roomUri, outcome.retryAfterMs);
          return;
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

  private async renderOne(
    room: RoomRecord,
    event: RoomEventRecord,
  ): Promise<'done' | { readonly retryAfterMs?: number }> {
    const platform = room.platform;
    const ids = `room=${event.roomUri} seq=${event.seq} message=${event.messageId}`;
    const setStatus = (status: 'done' | 'failed', platformEventId?: string): Promise<void> =>
      this.transactions.run(async (tx) => {
        await this.events.setRenderStatus(tx, event.roomUri, event.seq, status);
        if (platformEventId !== undefined) {
          await this.events.recordLegacyEvent(tx, {
            platform,
            platformEventId,
            roomUri: event.roomUri,
            messageId: event.messageId,
          });
        }
      });
    const content = decodeMimiContent(event.content);
    const action = await actionForContent(content, (id) =>
      this.events.findPlatformEventId(undefined, event.roomUri, platform, id),
    );
    if (action === undefined) {
      this.logger.warn(`${ids}: refers to a message this room never showed; not rendered`);
      await setStatus('failed');
      return 'done';
    }
    try {
      const as = await this.support.profiles.remoteUser(platform, event.senderUri, senderProfileOf(content));
      const local = await this.media.localize(room, as, action);
      const result = await this.support.bridge(platform).post(this.support.legacyRoom(room), as, local, {
        idempotencyKey: `mimi:${event.messageId}`,
        timeoutMs: this.timeoutMs,
      });
      await setStatus('done', result.platformEventId);
      this.logger.debug(`${ids}: rendered as ${result.platformEventId}`);
      return 'done';
    } catch (e) {
      if (e instanceof GatewayError && !e.retryable) {
        this.logger.warn(`${ids}: the platform refused it: ${e.message}`);
        await setStatus('failed');
        return 'done';
      }
      this.logger.warn(`${ids}: render failed, will retry: ${errorMessage(e)}`);
      await this.events.countRenderAttempt(event.roomUri, event.seq);
      return { retryAfterMs: e instanceof GatewayError ? e.retryAfterMs : undefined };
    }
  }
}
