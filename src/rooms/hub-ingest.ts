import { Injectable } from '@nestjs/common';
import type { InboundEvent } from '../ports';
import { RoomEventRepository } from '../persistence/repositories/room-event.repository';
import { type RoomRecord, RoomRepository } from '../persistence/repositories/room.repository';
import { RoomTransactions } from '../persistence/room-transactions';
import { HubService } from './hub.service';
import { BatchFailure } from './ingest-batch';
import { RoomLocks } from './room-locks';

/** The events of a batch belong to a room that is not one we host: they go one by one instead. */
class NotHubRoom extends Error {
  constructor(what: string) {
    super(`${what} is not a room we host: no batch`);
    this.name = 'NotHubRoom';
  }
}

/**
 * `IngestBatcher.many` for hub rooms (issue 12 item 1): the events of one legacy room handed over
 * together are handled by `HubService.onLegacyEvent` one after the other, in the platform's
 * order, under the room's lock and inside ONE database transaction (the hub's own
 * `transactions.run` calls join it, MLS state writes too): content mapping, MLS protect, room log,
 * legacy event IDs and outbox rows of all of them commit together, with a single COMMIT.
 *
 * An event that fails rolls the transaction back and is reported as `BatchFailure(index)`, so the
 * batcher can redo its neighbours without it. Duplicates (a platform redelivering, or the same ID
 * twice in one batch) are skipped by `onLegacyEvent`, which reads inside the batch's transaction.
 */
@Injectable()
export class HubIngest {
  constructor(
    private readonly rooms: RoomRepository,
    private readonly events: RoomEventRepository,
    private readonly hub: HubService,
    private readonly locks: RoomLocks,
    private readonly transactions: RoomTransactions,
  ) {}

  /**
   * One message of a hub room (caller holds the room's lock): the duplicate check and the record
   * in ONE transaction, as for a batch, instead of a transaction for each of the checks and one for
   * the record (issue 12: an appservice transaction mostly brings a single event).
   */
  async recordOne(room: RoomRecord, event: InboundEvent): Promise<'duplicate' | 'recorded'> {
    return this.transactions.run(async (tx) => {
      if (await this.events.findLegacyEvent(tx, event.room.platform, event.platformEventId)) return 'duplicate';
      await this.hub.onLegacyEvent(room, event); // joins this transaction
      return 'recorded';
    });
  }

  /** @throws NotHubRoom (nothing done), BatchFailure (rolled back), or the commit's error. */
  async recordMany(events: readonly InboundEvent[]): Promise<void> {
    const first = events[0];
    if (first === undefined) return;
    const { platform, roomId } = first.room;
    if (events.some((e) => e.room.platform !== platform || e.room.roomId !== roomId)) {
      throw new NotHubRoom('a batch of several rooms');
    }
    const room = await this.rooms.findByLegacyRoom(undefined, platform, roomId);
    if (room?.role !== 'hub') throw new NotHubRoom(`${platform} room ${roomId}`);
    await this.locks.run(room.roomUri, async () => {
      const current = await this.rooms.findByUri(undefined, room.roomUri);
      if (current?.role !== 'hub') throw new NotHubRoom(room.roomUri);
      await this.transactions.run(async () => {
        for (const [index, event] of events.entries()) {
          try {
            // Its reads and writes join this transaction; a duplicate (even of an event earlier in
            // this batch) is recognised and skipped there.
            await this.hub.onLegacyEvent(current, event);
          } catch (e) {
            throw new BatchFailure(index, e);
          }
        }
      });
    });
  }
}
