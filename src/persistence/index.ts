/** What other folders may use from src/persistence (STYLE §1). */
export { PersistenceModule } from './persistence.module';
export { TransactionRunner } from './transaction-runner';
export type { Tx } from './transaction-runner';
export { OutboxRepository } from './repositories/outbox.repository';
export { InboundDedupeRepository } from './repositories/inbound-dedupe.repository';
