import type { EntitySchema } from 'typeorm';
import type { SqlDialect } from '../sql';
import { bridgeStateEntity } from './bridge-state.entity';
import { inboundMessageEntity } from './inbound-message.entity';
import { outboxEntryEntity } from './outbox-entry.entity';
import { outboxStreamEntity } from './outbox-stream.entity';

export * from './bridge-state.entity';
export * from './inbound-message.entity';
export * from './outbox-entry.entity';
export * from './outbox-stream.entity';

/**
 * Every entity of the gateway, for one dialect. Add new entities here (and a migration: the
 * schema-drift test fails until the two agree).
 */
export function persistenceEntities(dialect: SqlDialect): EntitySchema[] {
  return [
    outboxEntryEntity(dialect),
    outboxStreamEntity(),
    inboundMessageEntity(),
    bridgeStateEntity(),
  ] as EntitySchema[];
}
