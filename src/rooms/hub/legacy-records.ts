/**
 * The hub's record of legacy events it has handled (platform event ID → message ID, or none):
 * what makes `HubService.onLegacyEvent` idempotent on a platform event ID.
 */
import { Injectable } from '@nestjs/common';
import type { Tx } from '../../persistence';
import { RoomEventRepository } from '../../persistence/repositories/room-event.repository';
import type { RoomRecord } from '../../persistence/repositories/room.repository';
import { RoomTransactions } from '../../persistence/room-transactions';
import type { InboundEvent } from '../../ports';

@Injectable()
export class LegacyRecords {
  constructor(
    private readonly events: RoomEventRepository,
    private readonly transactions: RoomTransactions,
  ) {}

  /** Record an event that changes nothing in the MIMI room, in its own transaction. */
  async recordOnly(room: RoomRecord, event: InboundEvent): Promise<void> {
    await this.transactions.run((tx) => this.recordLegacy(tx, room, event.platformEventId, null));
  }

  async recordLegacy(tx: Tx, room: RoomRecord, platformEventId: string, messageId: string | null): Promise<void> {
    await this.events.recordLegacyEvent(tx, {
      platform: room.platform,
      platformEventId,
      roomUri: room.roomUri,
      messageId,
    });
  }
}
