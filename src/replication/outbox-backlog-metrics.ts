import { Inject, Injectable, Optional } from '@nestjs/common';
import { CLOCK, Clock } from '../common/clock';
import type { ProviderDomain } from '../common/ids';
import { MetricsRegistry } from '../common/metrics';
import { GatewayConfig } from '../config/gateway-config';
import { OutboxRepository } from '../persistence/repositories/outbox.repository';

/** The backlog of one destination, as the alarm sees it. */
export interface DestinationBacklog {
  readonly pending: number;
  /** How long the oldest pending row has waited (ms). */
  readonly oldestAgeMs: number;
  /** True once `oldestAgeMs` reached `outbox.backlogAlarmAgeMs` or `pending` reached `outbox.backlogAlarmRows`. */
  readonly alarm: boolean;
}

/** The alarm rule (pure): a backlog too old or too long. */
export function backlogAlarm(
  pending: number,
  oldestAgeMs: number,
  limits: { readonly backlogAlarmAgeMs: number; readonly backlogAlarmRows: number },
): boolean {
  return pending > 0 && (oldestAgeMs >= limits.backlogAlarmAgeMs || pending >= limits.backlogAlarmRows);
}

/**
 * The outbox backlog per destination as an alarm (RELIABILITY T15): how old the oldest pending
 * row is (`mimi_outbox_oldest_pending_age_seconds{destination}`) and
 * `mimi_outbox_backlog_alarm{destination}`, 1 while that age is at least `outbox.backlogAlarmAgeMs`
 * or at least `outbox.backlogAlarmRows` rows are pending, else 0 (the series to alert on: a
 * follower down, refusing us, or not keeping up). Read from the database at scrape time, so every
 * process of a cluster reports the same.
 */
@Injectable()
export class OutboxBacklogMetrics {
  private readonly limits: { readonly backlogAlarmAgeMs: number; readonly backlogAlarmRows: number };
  private readonly known = new Set<ProviderDomain>();

  constructor(
    config: GatewayConfig,
    private readonly outbox: OutboxRepository,
    @Inject(CLOCK) private readonly clock: Clock,
    @Optional() registry: MetricsRegistry = new MetricsRegistry(),
  ) {
    this.limits = config.outbox;
    registry.gauge(
      'mimi_outbox_oldest_pending_age_seconds',
      'Seconds the oldest outbox row pending for the destination has waited (0 when none is pending).',
      async () =>
        [...(await this.backlog())].map(([destination, b]) => ({
          labels: { destination },
          value: Math.floor(b.oldestAgeMs / 1000),
        })),
    );
    registry.gauge(
      'mimi_outbox_backlog_alarm',
      '1 while the oldest outbox row pending for the destination is older than outbox.backlogAlarmAgeMs, ' +
        'or outbox.backlogAlarmRows rows are pending for it; else 0.',
      async () =>
        [...(await this.backlog())].map(([destination, b]) => ({ labels: { destination }, value: b.alarm ? 1 : 0 })),
    );
  }

  /**
   * Every destination that had a backlog since this process started (0 and no alarm once it is
   * drained, so the series returns to 0 rather than vanishing).
   */
  async backlog(): Promise<Map<ProviderDomain, DestinationBacklog>> {
    const now = this.clock.now();
    const found = await this.outbox.pendingBacklogByDestination();
    for (const destination of found.keys()) this.known.add(destination);
    return new Map(
      [...this.known].sort().map((destination) => {
        const b = found.get(destination);
        const pending = b?.pending ?? 0;
        const oldestAgeMs = b === undefined ? 0 : Math.max(0, now - b.oldestCreatedAt);
        return [destination, { pending, oldestAgeMs, alarm: backlogAlarm(pending, oldestAgeMs, this.limits) }];
      }),
    );
  }
}
