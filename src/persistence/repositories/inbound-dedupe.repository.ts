import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, Clock } from '../../common/clock';
import type { ProviderDomain, RoomUri } from '../../common/ids';
import { TransactionRunner, Tx, sqlOf } from '../transaction-runner';

/** What identifies one inbound delivery: who sent which exact bytes, to which room and endpoint. */
export interface InboundMessageKey {
  readonly sourceDomain: ProviderDomain;
  readonly roomUri: RoomUri;
  readonly endpoint: string;
  /** The request body as received; only its SHA-256 is stored. */
  readonly body: Uint8Array;
}

/**
 * Receiver-side de-duplication of byte-identical bodies. MIMI senders retry with the same bytes
 * (protocol-06: a follower dedupes on the exact body), and our own outbox delivers at least once,
 * so a body seen before from the same provider for the same room and endpoint is a retry.
 */
@Injectable()
export class InboundDedupeRepository {
  constructor(
    private readonly transactions: TransactionRunner,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * Remember `key`. Pass the transaction that applies the message's effects, so that the
   * message is marked seen exactly when its effects commit.
   * @returns true the first time this key is recorded, false for a repeat
   */
  async recordIfNew(tx: Tx | undefined, key: InboundMessageKey): Promise<boolean> {
    if (tx === undefined) return this.transactions.run((own) => this.recordIfNew(own, key));
    const inserted = await sqlOf(tx).query(
      `INSERT INTO inbound_message (source_domain, room_uri, endpoint, body_sha256, first_seen_at)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
      [key.sourceDomain, key.roomUri, key.endpoint, sha256Hex(key.body), this.clock.now()],
    );
    return inserted.affected === 1;
  }

  /** Forget keys first seen before `cutoff` (retention). Returns how many were deleted. */
  async pruneSeenBefore(cutoff: number): Promise<number> {
    return this.transactions.run(async (tx) => {
      const deleted = await sqlOf(tx).query(`DELETE FROM inbound_message WHERE first_seen_at < $1`, [cutoff]);
      return deleted.affected;
    });
  }
}

export function sha256Hex(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}
