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
 * Whether this process takes the platforms' traffic (scale-out, src/rooms/ownership): `held`, `standby`,
 * or `every` (no ingress lease: scale-out off, or `cluster.ingress: every`).
 */
export const INGRESS_STATUS = Symbol('INGRESS_STATUS');
export type IngressStatus = () => 'held' | 'standby' | 'every';

/**
 * The admin listener (plain HTTP, loopback by default): liveness/readiness and Prometheus
 * metrics. The provisioning API (link/unlink rooms) joins it with the bridges.
 */
@Controller()
export class AdminController {
  constructor(
    private readonly metrics: MetricsRegistry,
    @Inject(HEALTH_CHECKS) private readonly checks: readonly HealthCheck[],
    @Inject(INGRESS_STATUS) private readonly ingress: IngressStatus,
  ) {}

  /**
   * 200 on the process that takes the platforms' traffic (the ingress lease holder, or every process
   * without one), 503 on a standby: a load balancer's check for the MIMI and appservice backends.
   */
  @Get('health/ingress')
  healthIngress(): { ingress: string } {
    const ingress = this.ingress();
    if (ingress === 'standby') throw new HttpException({ ingress }, HttpStatus.SERVICE_UNAVAILABLE);
    return { ingress };
  }

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
