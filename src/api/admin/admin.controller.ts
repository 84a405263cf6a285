import { Controller, Get, Header, HttpException, HttpStatus, Inject } from '@nestjs/common';
import { errorMessage } from '../../common/errors';
import { MetricsRegistry } from '../../common/metrics';

/** What /health reports about one dependency. */
export interface HealthCheck {
  readonly name: string;
  /** Rejects when failing; may resolve with a detail to show instead of `ok` (e.g. `pending: …`). */
  check(): Promise<void | string>;
}

export const HEALTH_CHECKS = Symbol('HEALTH_CHECKS');

/**
 * The admin listener (plain HTTP, loopback by default): liveness/readiness and Prometheus
 * metrics. The provisioning API (link/unlink rooms) joins it with the bridges.
 */
@Controller()
export class AdminController {
  constructor(
    private readonly metrics: MetricsRegistry,
    @Inject(HEALTH_CHECKS) private readonly checks: readonly HealthCheck[],
  ) {}

  /** 200 with every check `ok`, or 503 naming the failing ones. */
  @Get('health')
  async health(): Promise<{ status: 'ok'; checks: Record<string, string> }> {
    const results: Record<string, string> = {};
    let ok = true;
    for (const c of this.checks) {
      try {
        results[c.name] = (await c.check()) || 'ok';
      } catch (e) {
        ok = false;
        results[c.name] = `failing: ${errorMessage(e)}`;
      }
    }
    if (!ok) {
      throw new HttpException({ status: 'failing', checks: results }, HttpStatus.SERVICE_UNAVAILABLE);
    }
    return { status: 'ok', checks: results };
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  async metricsText(): Promise<string> {
    return this.metrics.render();
  }
}
