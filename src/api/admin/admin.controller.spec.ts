import { HttpException } from '@nestjs/common';
import { MetricsRegistry } from '../../common/metrics';
import { AdminController, type IngressStatus } from './admin.controller';

describe('AdminController /health/ingress', () => {
  function answer(status: ReturnType<IngressStatus>): { status: number; body: unknown } {
    const controller = new AdminController(new MetricsRegistry(), [], () => status);
    try {
      return { status: 200, body: controller.healthIngress() };
    } catch (e) {
      if (e instanceof HttpException) return { status: e.getStatus(), body: e.getResponse() };
      throw e;
    }
  }

  it('answers 200 on the ingress lease holder and on every process without an ingress lease', () => {
    expect(answer('held')).toEqual({ status: 200, body: { ingress: 'held' } });
    expect(answer('every')).toEqual({ status: 200, body: { ingress: 'every' } });
  });

  it('answers 503 on a standby process, so that a load balancer sends the traffic elsewhere', () => {
    expect(answer('standby')).toEqual({ status: 503, body: { ingress: 'standby' } });
  });
});
