/**
 * An InboundSink for tests: records every event it accepts, can refuse on demand, and waits for
 * events (with a deadline, never a sleep).
 */
import type { InboundEvent } from '../../../src/ports';

export class RecordingSink {
  readonly events: InboundEvent[] = [];
  /** Calls refused so far (the event and the error thrown). */
  readonly refused: InboundEvent[] = [];
  /** When set, the next calls for which it returns true are refused. */
  refuseWhen?: (event: InboundEvent) => boolean;
  private readonly waiters = new Set<() => void>();

  readonly sink = async (event: InboundEvent): Promise<void> => {
    if (this.refuseWhen?.(event)) {
      this.refused.push(event);
      throw new Error('sink refused (test)');
    }
    this.events.push(event);
    for (const w of this.waiters) w();
  };

  /** Events accepted so far that match. */
  matching<T extends InboundEvent = InboundEvent>(match: (e: InboundEvent) => boolean): T[] {
    return this.events.filter(match) as T[];
  }

  /** The first accepted event that matches, waiting up to `timeoutMs`. */
  async waitFor<T extends InboundEvent = InboundEvent>(
    match: (e: InboundEvent) => boolean,
    what: string,
    timeoutMs = 15_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found as T;
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.events.map((e) => `${e.kind}:${e.kind === 'message' ? e.action.type : ''}`).join(', ');
        throw new Error(`no ${what} within ${timeoutMs} ms; sink has [${seen}]`);
      }
      await new Promise<void>((res) => {
        const done = (): void => {
          clearTimeout(t);
          this.waiters.delete(done);
          res();
        };
        const t = setTimeout(done, left);
        this.waiters.add(done);
      });
    }
  }

  /** Wait until `count` accepted events match. */
  async waitForCount(
    match: (e: InboundEvent) => boolean,
    count: number,
    what: string,
    timeoutMs = 15_000,
  ): Promise<InboundEvent[]> {
    await this.waitFor(() => this.events.filter(match).length >= count, `${count} × ${what}`, timeoutMs);
    return this.events.filter(match);
  }
}
