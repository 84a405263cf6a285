/** What other folders may use from src/persistence (STYLE §1). */
export { PersistenceModule } from './persistence.module';
export type { PersistenceModuleOptions } from './persistence.module';
export { createDataSource, dataSourceOptions, SQLITE_BUSY_TIMEOUT_MS, SQLITE_SYNCHRONOUS } from './create-data-source';
export { runMigrations } from './run-migrations';
export { TransactionRunner } from './transaction-runner';
export type { Tx } from './transaction-runner';
export { OutboxRepository, OutboxStatus } from './repositories/outbox.repository';
export type {
  AppendedOutboxEntry,
  DeliveredResult,
  LeaseState,
  NewOutboxEntry,
  OutboxEntry,
  OutboxEntryMeta,
  ParkedOutboxEntry,
  StreamKey,
  StreamLease,
} from './repositories/outbox.repository';
export { InboundDedupeRepository, sha256Hex } from './repositories/inbound-dedupe.repository';
export type { InboundMessageKey } from './repositories/inbound-dedupe.repository';
export { BridgeStateRepository } from './repositories/bridge-state.repository';
export { RoomTransactions } from './room-transactions';
export { DbMlsStorage } from './db-mls-storage';
