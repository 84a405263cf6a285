import { EntitySchema } from 'typeorm';
import { BIGINT_AS_NUMBER } from './column-types';

/**
 * Receiver-side de-duplication: a body already seen from the same provider, for the same room
 * and endpoint, byte for byte, is a retry of a delivery we accepted (protocol-06: senders retry
 * with byte-identical bodies).
 */
export interface InboundMessageRecord {
  sourceDomain: string;
  roomUri: string;
  endpoint: string;
  /** Lower-case hex SHA-256 of the body. */
  bodySha256: string;
  firstSeenAt: number;
}

const INBOUND_MESSAGE = 'InboundMessage';

export function inboundMessageEntity(): EntitySchema<InboundMessageRecord> {
  const pk = { primary: true, primaryKeyConstraintName: 'pk_inbound_message' } as const;
  return new EntitySchema<InboundMessageRecord>({
    name: INBOUND_MESSAGE,
    tableName: 'inbound_message',
    columns: {
      sourceDomain: { name: 'source_domain', type: 'varchar', length: 253, ...pk },
      roomUri: { name: 'room_uri', type: 'varchar', length: 1024, ...pk },
      endpoint: { name: 'endpoint', type: 'varchar', length: 32, ...pk },
      bodySha256: { name: 'body_sha256', type: 'varchar', length: 64, ...pk },
      firstSeenAt: { name: 'first_seen_at', type: 'bigint', transformer: BIGINT_AS_NUMBER },
    },
    indices: [{ name: 'idx_inbound_message_first_seen_at', columns: ['firstSeenAt'] }],
  });
}
