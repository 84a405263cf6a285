import { EntitySchema } from 'typeorm';
import { BIGINT_AS_NUMBER } from './column-types';

/**
 * One (destination, room) stream of the outbox: the sequence allocator, the count of pending
 * rows, when its head row is due, and which worker holds it. Workers lease whole streams, so one
 * worker at a time delivers a stream, in order (ARCHITECTURE §5). Leasing the stream rather than
 * single rows means other processes need not inspect the rows to know a stream is taken.
 */
export interface OutboxStreamRecord {
  destination: string;
  roomUri: string;
  /** Last stream_seq handed out. */
  lastSeq: number;
  /** Rows with status `pending`. */
  pendingCount: number;
  /** When the head pending row may be tried; null while nothing is pending. */
  nextAttemptAt: number | null;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
}

const OUTBOX_STREAM = 'OutboxStream';

export function outboxStreamEntity(): EntitySchema<OutboxStreamRecord> {
  return new EntitySchema<OutboxStreamRecord>({
    name: OUTBOX_STREAM,
    tableName: 'outbox_stream',
    columns: {
      destination: {
        name: 'destination',
        type: 'varchar',
        length: 253,
        primary: true,
        primaryKeyConstraintName: 'pk_outbox_stream',
      },
      roomUri: {
        name: 'room_uri',
        type: 'varchar',
        length: 1024,
        primary: true,
        primaryKeyConstraintName: 'pk_outbox_stream',
      },
      lastSeq: { name: 'last_seq', type: 'bigint', transformer: BIGINT_AS_NUMBER },
      pendingCount: { name: 'pending_count', type: 'integer' },
      nextAttemptAt: { name: 'next_attempt_at', type: 'bigint', nullable: true, transformer: BIGINT_AS_NUMBER },
      leaseOwner: { name: 'lease_owner', type: 'varchar', length: 64, nullable: true },
      leaseExpiresAt: { name: 'lease_expires_at', type: 'bigint', nullable: true, transformer: BIGINT_AS_NUMBER },
    },
    indices: [{ name: 'idx_outbox_stream_next_attempt_at', columns: ['nextAttemptAt'] }],
  });
}
