import { EntitySchema } from 'typeorm';
import type { SqlDialect } from '../sql';
import { BIGINT_AS_NUMBER, binaryType } from './column-types';

/** One message to one destination: the exact bytes, sent identically on every attempt. */
export interface OutboxEntryRecord {
  id: string;
  idempotencyKey: string;
  /** Provider domain of the receiver. */
  destination: string;
  roomUri: string;
  /** MIMI endpoint name (protocol-06 §5), e.g. `notify`. */
  endpoint: string;
  /** Position in the (destination, room) stream; strictly increasing, gaps allowed. */
  streamSeq: number;
  body: Uint8Array;
  status: string;
  /** Delivery attempts made so far. */
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
  /** Rows sent together in one request share it from their first attempt on (resends stay byte-identical). */
  batchId: string | null;
}

const OUTBOX_ENTRY = 'OutboxEntry';

export function outboxEntryEntity(dialect: SqlDialect): EntitySchema<OutboxEntryRecord> {
  return new EntitySchema<OutboxEntryRecord>({
    name: OUTBOX_ENTRY,
    tableName: 'outbox_entry',
    columns: {
      id: { name: 'id', type: 'varchar', length: 36, primary: true, primaryKeyConstraintName: 'pk_outbox_entry' },
      idempotencyKey: { name: 'idempotency_key', type: 'varchar', length: 255 },
      destination: { name: 'destination', type: 'varchar', length: 253 },
      roomUri: { name: 'room_uri', type: 'varchar', length: 1024 },
      endpoint: { name: 'endpoint', type: 'varchar', length: 32 },
      streamSeq: { name: 'stream_seq', type: 'bigint', transformer: BIGINT_AS_NUMBER },
      body: { name: 'body', type: binaryType(dialect) },
      status: { name: 'status', type: 'varchar', length: 16 },
      attempts: { name: 'attempts', type: 'integer' },
      nextAttemptAt: { name: 'next_attempt_at', type: 'bigint', transformer: BIGINT_AS_NUMBER },
      lastError: { name: 'last_error', type: 'text', nullable: true },
      createdAt: { name: 'created_at', type: 'bigint', transformer: BIGINT_AS_NUMBER },
      deliveredAt: { name: 'delivered_at', type: 'bigint', nullable: true, transformer: BIGINT_AS_NUMBER },
      batchId: { name: 'batch_id', type: 'varchar', length: 36, nullable: true },
    },
    indices: [
      { name: 'uq_outbox_entry_idempotency_key', columns: ['idempotencyKey'], unique: true },
      // Allocation guard: one row per position in a stream.
      { name: 'uq_outbox_entry_stream_seq', columns: ['destination', 'roomUri', 'streamSeq'], unique: true },
      // The pending rows of one stream in order, without walking its delivered history.
      { name: 'idx_outbox_entry_stream_status', columns: ['destination', 'roomUri', 'status', 'streamSeq'] },
      // Admin listing of parked rows and pruning of delivered ones.
      { name: 'idx_outbox_entry_status_created', columns: ['status', 'createdAt'] },
    ],
    checks: [{ name: 'chk_outbox_entry_status', expression: `"status" IN ('pending', 'delivered', 'parked')` }],
  });
}
