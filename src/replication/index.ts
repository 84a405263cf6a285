/** What other folders may use from src/replication (STYLE §1). */
export { ReplicationModule } from './replication.module';
export type { ReplicationModuleOptions, DeliveryTargetProvider } from './replication.module';
export { OutboxService } from './outbox.service';
export type { OutboundMessage } from './outbox.service';
export { OutboxWorker, OUTBOX_WORKER_OPTIONS, defaultLeaseMs } from './outbox.worker';
export type { OutboxWorkerOptions } from './outbox.worker';
export { OutboxMetrics } from './outbox-metrics';
export type { OutboxCounts } from './outbox-metrics';
export { OutboxNotifier, type OutboxWakeListener } from './outbox-notifier';
export { backoffCeilingMs, nextRetryDelayMs } from './retry-policy';
export type { BackoffSettings } from './retry-policy';
export { isMimiEndpoint } from './mimi-endpoints';
export { RetentionService, RETENTION_OPTIONS } from './retention.service';
export type { RetentionOptions, RetentionResult } from './retention.service';
