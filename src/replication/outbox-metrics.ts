import { Injectable, Optional } from '@nestjs/common';
import type { ProviderDomain } from '../common/ids';
import { Counter, MetricsRegistry, Summary } from '../common/metrics';
import { OutboxRepository } from '../persistence/repositories/outbox.repository';

/** Counts of this process's delivery outcomes, for tests and the admin API. */
export interface OutboxCounts {
  readonly delivered: number;
  readonly retried: number;
  readonly parked: number;
}

/**
 * Outbox series for `GET /metrics`: outcomes per destination (this process), the backlog and
 * parked rows per destination (from the database, so every process reports the same), and
 * delivery latency from the row's creation to the peer's acknowledgement (RELIABILITY §6 I6),
 * and peers refusing to authenticate us (401/403, RELIABILITY T21): a counter of such answers and
 * a gauge that is 1 per destination whose last answer was one, 0 once it accepts us again: the
 * series to alert on.
 */
@Injectable()
export class OutboxMetrics {
  private readonly deliveredTotal: Counter;
  private readonly retriedTotal: Counter;
  private readonly parkedTotal: Counter;
  private readonly peerAuthFailuresTotal: Counter;
  /** Destinations whose last attempt got a 401/403 → true; → false once one was delivered. */
  private readonly peerAuthFailing = new Map<ProviderDomain, boolean>();
  private readonly latency: Summary;
  private readonly totals = { delivered: 0, retried: 0, parked: 0 };

  constructor(outbox: OutboxRepository, @Optional() registry: MetricsRegistry = new MetricsRegistry()) {
    this.deliveredTotal = registry.counter('mimi_outbox_delivered_total', 'Outbox rows the destination acknowledged.');
    this.retriedTotal = registry.counter('mimi_outbox_retried_total', 'Failed delivery attempts scheduled for retry.');
    this.parkedTotal = registry.counter('mimi_outbox_parked_total', 'Outbox rows parked after a permanent rejection.');
    this.peerAuthFailuresTotal = registry.counter(
      'mimi_outbox_peer_auth_failures_total',
      'Delivery attempts the destination refused with 401 or 403 (our certificate or its directory); retried with backoff.',
    );
    registry.gauge(
      'mimi_outbox_peer_auth_failing',
      '1 while the last delivery attempt to the destination was refused with 401 or 403, else 0.',
      () =>
        [...this.peerAuthFailing].map(([destination, failing]) => ({
          labels: { destination },
          value: failing ? 1 : 0,
        })),
    );
    this.latency = registry.summary(
      'mimi_outbox_delivery_latency_ms',
      'Milliseconds from storing an outbox row to its acknowledgement.',
    );
    registry.gauge('mimi_outbox_pending', 'Outbox rows waiting for delivery, per destination.', async () =>
      perDestination(await outbox.pendingDepthByDestination()),
    );
    registry.gauge('mimi_outbox_parked', 'Parked outbox rows, per destination.', async () =>
      perDestination(await outbox.parkedCountByDestination()),
    );
  }

  recordDelivered(destination: ProviderDomain, latencyMs: number | null): void {
    this.totals.delivered += 1;
    this.deliveredTotal.inc({ destination });
    if (this.peerAuthFailing.get(destination)) this.peerAuthFailing.set(destination, false);
    if (latencyMs !== null) this.latency.observe(latencyMs);
  }

  recordRetried(destination: ProviderDomain): void {
    this.totals.retried += 1;
    this.retriedTotal.inc({ destination });
  }

  /** A retry caused by the destination refusing us with 401/403 (counted in recordRetried too). */
  recordPeerAuthFailure(destination: ProviderDomain): void {
    this.peerAuthFailuresTotal.inc({ destination });
    this.peerAuthFailing.set(destination, true);
  }

  recordParked(destination: ProviderDomain): void {
    this.totals.parked += 1;
    this.parkedTotal.inc({ destination });
  }

  counts(): OutboxCounts {
    return { ...this.totals };
  }

  /** Latency quantile over the recent window (NaN before the first delivery). */
  latencyQuantile(q: number): number {
    return this.latency.quantile(q);
  }
}

function perDestination(values: Map<ProviderDomain, number>): { labels: { destination: string }; value: number }[] {
  return [...values].map(([destination, value]) => ({ labels: { destination }, value }));
}
