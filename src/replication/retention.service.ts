import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import { CLOCK, type Clock } from '../common/clock';
import { errorMessage } from '../common/errors';
import { type Counter, MetricsRegistry } from '../common/metrics';
import { GatewayConfig, type RetentionConfig } from '../config/gateway-config';
import { InboundDedupeRepository } from '../persistence/repositories/inbound-dedupe.repository';
import { OutboxRepository } from '../persistence/repositories/outbox.repository';

export const RETENTION_OPTIONS = Symbol('RETENTION_OPTIONS');

export interface RetentionOptions {
  /** Run on a timer after start (default true; tests call `runOnce`). */
  readonly autoStart?: boolean;
  /** Delay of the first run after start (default one minute). */
  readonly firstRunDelayMs?: number;
}

/** What one run deleted. */
export interface RetentionResult {
  readonly outboxRows: number;
  readonly dedupeKeys: number;
}

const HOUR_MS = 3_600_000;
/** Outbox rows deleted per statement, so that one run never holds the database for long. */
const OUTBOX_BATCH = 1_000;

/**
 * Keeps the two tables that only grow from growing without bound (RELIABILITY "storage"): delivered
 * outbox rows (`retention.outboxDeliveredHours` after delivery; pending and parked rows are never
 * touched) and the receiver's de-duplication keys (`retention.dedupeHours` after first sight).
 * Runs on a timer in every process; deletes are idempotent, so several processes on one
 * PostgreSQL database may run it at once. A failed run is logged and tried again next time.
 */
@Injectable()
export class RetentionService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(RetentionService.name);
  private readonly settings: RetentionConfig;
  private readonly deleted: Counter;
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = false;

  constructor(
    config: GatewayConfig,
    private readonly outbox: OutboxRepository,
    private readonly dedupe: InboundDedupeRepository,
    @Inject(CLOCK) private readonly clock: Clock,
    @Optional() registry: MetricsRegistry = new MetricsRegistry(),
    @Optional() @Inject(RETENTION_OPTIONS) private readonly options: RetentionOptions = {},
  ) {
    this.settings = config.retention;
    this.deleted = registry.counter(
      'mimi_retention_deleted_total',
      'Rows the retention job deleted, per table (outbox_entry, inbound_message).',
    );
  }

  onApplicationBootstrap(): void {
    if (this.options.autoStart === false) return;
    this.schedule(this.options.firstRunDelayMs ?? 60_000);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Delete what is past its retention now. */
  async runOnce(): Promise<RetentionResult> {
    const now = this.clock.now();
    let outboxRows = 0;
    for (;;) {
      const n = await this.outbox.pruneDelivered(now - this.settings.outboxDeliveredHours * HOUR_MS, OUTBOX_BATCH);
      outboxRows += n;
      if (n < OUTBOX_BATCH || this.stopped) break;
    }
    const dedupeKeys = await this.dedupe.pruneSeenBefore(now - this.settings.dedupeHours * HOUR_MS);
    if (outboxRows > 0) this.deleted.inc({ table: 'outbox_entry' }, outboxRows);
    if (dedupeKeys > 0) this.deleted.inc({ table: 'inbound_message' }, dedupeKeys);
    if (outboxRows + dedupeKeys > 0) {
      this.logger.log(`retention: deleted ${outboxRows} delivered outbox row(s) and ${dedupeKeys} dedupe key(s)`);
    }
    return { outboxRows, dedupeKeys };
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce()
        .catch((e: unknown) => this.logger.warn(`retention run failed (tried again later): ${errorMessage(e)}`))
        .finally(() => this.schedule(this.settings.intervalMinutes * 60_000));
    }, delayMs);
    this.timer.unref();
  }
}
