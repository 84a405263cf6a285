/**
 * Stream order for pipelined `/notify` requests (src/replication/README.md, "pipelining"): a hub
 * may send the next requests of a room's stream before the earlier ones are answered; each names
 * the stream seq of its last row and, while the one before it is unanswered, that one's (`after`,
 * STREAM_ORDER_HEADERS). A request is applied only once the request it follows has been applied
 * here, so arrival order on several connections does not matter. When that request failed here, or
 * does not come within `waitMs`, the later one is answered 503 GW_OUT_OF_ORDER, applying nothing:
 * the hub sends it again after the earlier one.
 *
 * Only what was applied is remembered, in memory, per (hub, room): after a restart, or at another
 * process, a request with `after` waits and then fails, which is safe (the hub resends in order).
 */
import { Injectable } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../../common/errors';
import type { StreamOrder } from '../../ports';

/** How long a request waits for the one it follows (the hub's request timeout is longer). */
const NOTIFY_ORDER_WAIT_MS = 5_000;

interface Waiter {
  readonly after: number;
  readonly resolve: () => void;
  readonly reject: (e: GatewayError) => void;
}

interface StreamState {
  readonly roomUri: string;
  /** The highest stream seq applied here (its request and all before it). */
  applied: number;
  /** The `last` of the most recent request that failed here and has not been applied since. */
  failed?: number;
  readonly waiters: Set<Waiter>;
}

@Injectable()
export class NotifyOrder {
  private readonly streams = new Map<string, StreamState>();

  /** How long a request waits for the one it follows. */
  waitMs = NOTIFY_ORDER_WAIT_MS;

  /**
   * Run `apply` (one `/notify` request from `hub` for `roomUri`) in stream order: at once without
   * `order` or `order.after`, else once the request ending at `order.after` has been applied.
   * @throws GatewayError OutOfOrder (retryable) when that request failed or did not come in time;
   *   whatever `apply` throws
   */
  async run<T>(hub: string, roomUri: string, order: StreamOrder | undefined, apply: () => Promise<T>): Promise<T> {
    if (order === undefined) return apply();
    const state = this.stateOf(hub, roomUri);
    // The request that failed here is being tried again: the ones after it may wait for it again.
    if (state.failed === order.last) state.failed = undefined;
    try {
      if (order.after !== undefined) await this.turn(state, order.after);
      const result = await apply();
      this.applied(state, order.last);
      return result;
    } catch (e) {
      this.failedAt(state, order.last);
      throw e;
    }
  }

  private stateOf(hub: string, roomUri: string): StreamState {
    const key = `${hub} ${roomUri}`;
    let state = this.streams.get(key);
    if (state === undefined) {
      state = { roomUri, applied: 0, waiters: new Set() };
      this.streams.set(key, state);
    }
    return state;
  }

  private turn(state: StreamState, after: number): Promise<void> {
    if (state.applied >= after) return Promise.resolve();
    if (state.failed === after) return Promise.reject(outOfOrder(state.roomUri, after, 'failed here'));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        state.waiters.delete(waiter);
        reject(outOfOrder(state.roomUri, after, `did not come within ${this.waitMs} ms`));
      }, this.waitMs);
      timer.unref();
      const waiter: Waiter = {
        after,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      state.waiters.add(waiter);
    });
  }

  private applied(state: StreamState, last: number): void {
    state.applied = Math.max(state.applied, last);
    if (state.failed !== undefined && state.failed <= state.applied) state.failed = undefined;
    for (const w of state.waiters) {
      if (w.after > state.applied) continue;
      state.waiters.delete(w);
      w.resolve();
    }
  }

  private failedAt(state: StreamState, last: number): void {
    if (state.applied >= last) return;
    state.failed = last;
    for (const w of state.waiters) {
      if (w.after !== last) continue;
      state.waiters.delete(w);
      w.reject(outOfOrder(state.roomUri, last, 'failed here'));
    }
  }
}

function outOfOrder(roomUri: string, after: number, what: string): GatewayError {
  return new GatewayError(
    ErrorCode.OutOfOrder,
    `the /notify request of ${roomUri} ending at stream seq ${after}, which this one follows, ${what}; send it again after that one`,
    { retryable: true },
  );
}
