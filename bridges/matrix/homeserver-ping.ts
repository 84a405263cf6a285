import { Logger } from '@nestjs/common';
import { errorMessage } from '../../src/common/errors';
import type { PlatformHealth } from '../../src/ports';

/**
 * The start-up ping (client-server API v1.7, `POST /_matrix/client/v1/appservice/{id}/ping`,
 * RELIABILITY T10): the homeserver calls our appservice `/ping` and answers 200 when both
 * directions work. Besides proving that, a successful ping makes Synapse retry the transactions it
 * queued while we were down at once (`force_retry`) instead of after its backoff (up to ~8.5 min).
 *
 * Sent in the background until it succeeds, with backoff (1 s doubling, capped): a homeserver
 * that is restarting, or cannot reach us yet (`502 M_CONNECTION_FAILED`), is asked again, and
 * `health()` says which state we are in for `/health`. A homeserver without the endpoint (404/405
 * `M_UNRECOGNIZED`) redelivers on its own schedule: that counts as ok.
 */
export interface HomeserverPingOptions {
  readonly homeserverUrl: string;
  readonly appserviceId: string;
  readonly asToken: string;
  /** First retry delay; doubles per failure up to maxBackoffMs. Default 1 s. */
  readonly initialBackoffMs?: number;
  /** Default 60 s. */
  readonly maxBackoffMs?: number;
  /** Per request. Default 15 s. */
  readonly requestTimeoutMs?: number;
}

export class HomeserverPing {
  private readonly logger = new Logger(HomeserverPing.name);
  private state: PlatformHealth = { state: 'pending', detail: 'first ping to the homeserver in progress' };
  private timer?: NodeJS.Timeout;
  private controller?: AbortController;
  private stopped = false;
  private failures = 0;

  constructor(private readonly opts: HomeserverPingOptions) {}

  health(): PlatformHealth {
    return this.state;
  }

  /** Send the first ping now; later ones follow by themselves until one succeeds or stop(). */
  start(): void {
    this.stopped = false;
    void this.attempt();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.controller?.abort();
  }

  private async attempt(): Promise<void> {
    const outcome = await this.ping();
    if (this.stopped) return;
    if (outcome === undefined) {
      this.state = { state: 'ok', detail: 'ok' };
      this.failures = 0;
      this.logger.log('homeserver ping ok: queued transactions are redelivered now');
      return;
    }
    this.failures += 1;
    const initial = this.opts.initialBackoffMs ?? 1_000;
    const delay = Math.min(this.opts.maxBackoffMs ?? 60_000, initial * 2 ** Math.min(this.failures - 1, 30));
    this.state = {
      state: 'failing',
      detail: `homeserver ping: ${outcome} (attempt ${this.failures}, next in ${Math.ceil(delay / 1000)} s)`,
    };
    this.logger.warn(this.state.detail);
    this.timer = setTimeout(() => void this.attempt(), delay);
    this.timer.unref();
  }

  /** undefined when the ping succeeded (or is not supported), else why it failed. */
  private async ping(): Promise<string | undefined> {
    const id = encodeURIComponent(this.opts.appserviceId);
    this.controller = new AbortController();
    const signal = AbortSignal.any([this.controller.signal, AbortSignal.timeout(this.opts.requestTimeoutMs ?? 15_000)]);
    try {
      const res = await fetch(`${this.opts.homeserverUrl}/_matrix/client/v1/appservice/${id}/ping`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.opts.asToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ transaction_id: `mimi-start-${Date.now()}` }),
        signal,
      });
      const text = (await res.text()).slice(0, 200);
      if (res.ok) return undefined;
      if ((res.status === 404 || res.status === 405) && text.includes('M_UNRECOGNIZED')) {
        this.logger.log('the homeserver has no appservice ping (before v1.7): it redelivers on its own schedule');
        return undefined;
      }
      return `${res.status} ${text}`;
    } catch (e) {
      return errorMessage(e);
    }
  }
}
