import { Injectable, Logger, type OnModuleDestroy, Optional } from '@nestjs/common';
import { crashPoint } from '../common/crash-points';
import { GatewayError, errorMessage } from '../common/errors';
import { type Counter, MetricsRegistry } from '../common/metrics';
import type { InboundEvent, InboundSink } from '../ports';
import { RoomEventRepository } from '../persistence/repositories/room-event.repository';
import { RoomRepository } from '../persistence/repositories/room.repository';
import { BehindHubError, FollowerService } from './follower.service';
import { HubIngest } from './hub-ingest';
import { HubService } from './hub.service';
import { IngestBatcher } from './ingest-batch';
import { isReadEvent, ReadCoalescer, readKey } from './read-receipts';
import { RoomLocks } from './room-locks';

/**
 * A local change in a mirror room that the hub refused with `wrongEpoch` is tried this often in
 * all, each time after our clients caught up with the hub (or `CATCH_UP_WAIT_MS` passed); the last
 * refusal is told to the user.
 */
const MAX_CHANGE_ATTEMPTS = 4;
const CATCH_UP_WAIT_MS = 5_000;

/** What the sink made of an event. */
export type SinkOutcome = 'recorded' | 'duplicate' | 'echo' | 'unlinked';

/**
 * The core's side of every bridge: the InboundSink each bridge is given in `start` (`sink`). The
 * bridges keep no records of their own about what the core has seen; this service owns them:
 *
 * - idempotency: an event is recorded once per (platform, platformEventId). A platform that
 *   redelivers (a homeserver re-sending a transaction, an archive replay after a reconnection)
 *   gets `duplicate` (checked under the room's lock) and the event is dropped;
 * - echo: an event sent by one of our own ghosts or puppets (sender with a `userUri`) is the echo
 *   of a post; it completes the submission still `posting` (the post timed out, or we crashed)
 *   or is only recorded (HubService.onLegacyEvent, FollowerService.onLegacyEvent);
 * - ordering and retries within the core: the room's lock, and a mirror room's change that met a
 *   hub commit still on its way here waits for it and is tried again.
 *
 * `record` resolves once the event's effect is committed (or it is recognised as a duplicate or
 * an echo); it rejects when the event could not be recorded, so that the platform redelivers it.
 * Events of rooms that are not linked are ignored.
 *
 * The sink batches (issue 12 item 1, ingest-batch.ts): events are queued per legacy room in call
 * order, so a bridge may hand over a whole appservice transaction or burst of stanzas without
 * waiting between events; the messages among them that reach a room we host are recorded in one
 * database transaction (hub-ingest.ts), everything else alone through `record`, in its place.
 * Each call still resolves only once its own event is durable, and rejects with its own failure.
 */
@Injectable()
export class BridgeSinkService implements OnModuleDestroy {
  private readonly logger = new Logger(BridgeSinkService.name);
  /** Read markers: the latest per user and room, at most one per interval (read-receipts.ts). */
  private readonly reads = new ReadCoalescer();

  private readonly batcher: IngestBatcher<InboundEvent>;
  /** Failed attempts to record an event handed over by a bridge (RELIABILITY T07: alert on `retryable="true"`). */
  private readonly failed?: Counter;

  constructor(
    private readonly rooms: RoomRepository,
    private readonly events: RoomEventRepository,
    private readonly hub: HubService,
    private readonly follower: FollowerService,
    private readonly locks: RoomLocks,
    private readonly hubIngest: HubIngest,
    @Optional() metrics?: MetricsRegistry,
  ) {
    this.batcher = new IngestBatcher<InboundEvent>({
      batchable: (event) => event.kind === 'message',
      many: (_room, events) => hubIngest.recordMany(events),
      one: async (_room, event) => void (await this.record(event)),
    });
    metrics?.gauge('mimi_ingest_queued', 'Platform events waiting to be recorded (per-room ingest queues)', () => [
      { labels: {}, value: this.batcher.queued },
    ]);
    this.failed = metrics?.counter(
      'mimi_ingest_failed_total',
      'Failed attempts to record a platform event, by platform; retryable="true" (the store failed: the event is delivered again) is the one to alert on',
    );
  }

  /** The InboundSink handed to every bridge. */
  readonly sink: InboundSink = async (event) => {
    const key = `${event.room.platform}\0${event.room.roomId}`;
    if (isReadEvent(event)) {
      return this.reads.offer(readKey(event), async () => {
        await this.batcher.submit(key, event);
      });
    }
    crashPoint('before-store');
    try {
      await this.batcher.submit(key, event);
    } catch (e) {
      const retryable = !(e instanceof GatewayError) || e.retryable;
      this.failed?.inc({ platform: event.room.platform, retryable: String(retryable) });
      throw e;
    }
    // Resolved once the event is durable (or refused): a crash point before the bridge acknowledges it.
    crashPoint('after-store-before-ack');
  };

  onModuleDestroy(): void {
    this.reads.stop();
  }

  /** True when the core has recorded this platform event already. */
  async isDuplicate(event: InboundEvent): Promise<boolean> {
    return (await this.events.findLegacyEvent(undefined, event.room.platform, event.platformEventId)) !== undefined;
  }

  /** An event sent by one of our own ghosts or puppets: the echo of a post of ours. */
  isEcho(event: InboundEvent): boolean {
    return event.kind === 'message' && 'userUri' in event.sender;
  }

  async record(event: InboundEvent): Promise<SinkOutcome> {
    const room = await this.rooms.findByLegacyRoom(undefined, event.room.platform, event.room.roomId);
    if (room === undefined) return 'unlinked';
    // A mirror room's posts by our ghosts are the follower's own renders coming back: nothing to
    // record (FollowerService.onLegacyEvent drops them), so they need not wait for the room's lock.
    if (room.role === 'follower' && this.isEcho(event)) return 'echo';
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.locks.run(room.roomUri, async (): Promise<SinkOutcome> => {
          const current = await this.rooms.findByUri(undefined, room.roomUri);
          if (current === undefined) return 'unlinked';
          if (current.role === 'hub' && event.kind === 'message') {
            const outcome = await this.hubIngest.recordOne(current, event);
            return outcome === 'recorded' && this.isEcho(event) ? 'echo' : outcome;
          }
          if (await this.isDuplicate(event)) return 'duplicate';
          if (current.role === 'hub') await this.hub.onLegacyEvent(current, event);
          else await this.follower.onLegacyEvent(current, event, attempt < MAX_CHANGE_ATTEMPTS);
          return this.isEcho(event) ? 'echo' : 'recorded';
        });
      } catch (e) {
        if (e instanceof BehindHubError) {
          // A local change met a hub commit still on its way here: wait for it, then try again.
          this.logger.debug(`${e.message}; event=${event.platformEventId} waits (attempt ${attempt})`);
          await this.follower.waitForEpoch(room.roomUri, e.currentEpoch, CATCH_UP_WAIT_MS);
          continue;
        }
        this.logger.warn(
          `room=${room.roomUri} platform=${event.room.platform} event=${event.platformEventId} (${event.kind}) not recorded: ${errorMessage(e)}`,
        );
        throw e;
      }
    }
  }
}
