import type { Clock } from '../../src/common/clock';
import type { DeliveryOutcome, DeliveryTarget, OutboundDelivery } from '../../src/ports/delivery-target.port';

/** What the peer does with one attempt: answer with an outcome, or take the bytes and never answer. */
export type ScriptStep = DeliveryOutcome | { readonly kind: 'hang' };

export const DELIVERED: DeliveryOutcome = { kind: 'delivered', status: 201 };
const CONNECTION_REFUSED: DeliveryOutcome = { kind: 'retry', reason: 'connect ECONNREFUSED' };
export const HANG: ScriptStep = { kind: 'hang' };

/** One attempt as the fake peer saw it. */
export interface AttemptRecord {
  readonly id: string;
  readonly destination: string;
  readonly roomUri: string;
  readonly endpoint: string;
  readonly attempt: number;
  /** A copy of the bytes sent. */
  readonly body: Buffer;
  /** Clock time of the attempt. */
  readonly at: number;
}

export interface ScriptedDeliveryTargetOptions {
  /** Called with every delivery the peer takes in (before it answers): the receiver's side. */
  readonly onReceived?: (delivery: OutboundDelivery) => Promise<void>;
  /** Simulated network time before the answer (e.g. a few event-loop turns). */
  readonly latency?: () => Promise<void>;
  /** Outcome when no step is scripted and the destination is up (default DELIVERED). */
  readonly fallback?: (delivery: OutboundDelivery) => DeliveryOutcome;
}

/**
 * A DeliveryTarget that fails in scripted ways: per destination, a queue of outcomes for the
 * next attempts; a destination marked down refuses connections until it is back up. Records
 * every attempt, and notes when two attempts for one (destination, room) stream overlap.
 */
export class ScriptedDeliveryTarget implements DeliveryTarget {
  readonly attempts: AttemptRecord[] = [];
  /** Streams that had two deliveries in flight at once (must stay empty). */
  readonly overlaps: string[] = [];
  private readonly scripts = new Map<string, ScriptStep[]>();
  private readonly downDestinations = new Set<string>();
  private readonly inFlight = new Set<string>();
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly clock: Clock,
    private readonly options: ScriptedDeliveryTargetOptions = {},
  ) {}

  /** Queue outcomes for the next attempts to `destination`. */
  script(destination: string, ...steps: ScriptStep[]): void {
    this.scripts.set(destination, [...(this.scripts.get(destination) ?? []), ...steps]);
  }

  setDown(destination: string, down: boolean): void {
    if (down) this.downDestinations.add(destination);
    else this.downDestinations.delete(destination);
  }

  attemptsTo(destination: string): AttemptRecord[] {
    return this.attempts.filter((a) => a.destination === destination);
  }

  async deliver(delivery: OutboundDelivery): Promise<DeliveryOutcome> {
    const stream = `${delivery.destination} ${delivery.roomUri}`;
    if (this.inFlight.has(stream)) this.overlaps.push(stream);
    this.inFlight.add(stream);
    try {
      this.attempts.push({
        id: delivery.id,
        destination: delivery.destination,
        roomUri: delivery.roomUri,
        endpoint: delivery.endpoint,
        attempt: delivery.attempt,
        body: Buffer.from(delivery.body),
        at: this.clock.now(),
      });
      this.changed();
      await this.options.latency?.();
      if (this.downDestinations.has(delivery.destination)) return CONNECTION_REFUSED;
      const step = this.scripts.get(delivery.destination)?.shift();
      if (step?.kind === 'hang') {
        await this.options.onReceived?.(delivery);
        return await new Promise<never>(() => undefined);
      }
      const outcome = step ?? this.options.fallback?.(delivery) ?? DELIVERED;
      if (outcome.kind === 'delivered') await this.options.onReceived?.(delivery);
      return outcome;
    } finally {
      this.inFlight.delete(stream);
      this.changed();
    }
  }

  /** Resolve once `condition` holds (checked after every attempt starts and ends), or fail after `timeoutMs`. */
  waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!condition()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  private changed(): void {
    for (const check of [...this.waiters]) check();
  }
}
