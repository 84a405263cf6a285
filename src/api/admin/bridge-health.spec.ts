import { HttpException } from '@nestjs/common';
import { Platform } from '../../common/ids';
import { MetricsRegistry } from '../../common/metrics';
import type { PlatformBridge, PlatformHealth } from '../../ports';
import { AdminController } from './admin.controller';
import { bridgeHealthChecks } from './bridge-health';

function bridge(platform: Platform, health?: () => PlatformHealth): PlatformBridge {
  return { platform, ...(health ? { health } : {}) } as unknown as PlatformBridge;
}

describe(bridgeHealthChecks.name, () => {
  let state: PlatformHealth;
  let controller: AdminController;

  beforeEach(() => {
    state = { state: 'pending', detail: 'first ping to the homeserver in progress' };
    const checks = bridgeHealthChecks([bridge(Platform.Matrix, () => state), bridge(Platform.Xmpp)]);
    controller = new AdminController(new MetricsRegistry(), checks, () => 'every');
  });

  const failure = async (): Promise<unknown> => {
    try {
      await controller.health();
    } catch (e) {
      if (e instanceof HttpException) return { status: e.getStatus(), body: e.getResponse() };
      throw e;
    }
    throw new Error('/health did not fail');
  };

  it('reports the homeserver as pending (200) until the first ping answers, then failing (503), then ok (T10)', async () => {
    expect(await controller.health()).toEqual({
      status: 'ok',
      checks: { matrix: 'pending: first ping to the homeserver in progress' },
    });

    state = { state: 'failing', detail: 'homeserver ping: 502 M_CONNECTION_FAILED (attempt 1, next in 1 s)' };
    expect(await failure()).toEqual({
      status: 503,
      body: {
        status: 'failing',
        checks: { matrix: 'failing: homeserver ping: 502 M_CONNECTION_FAILED (attempt 1, next in 1 s)' },
      },
    });

    state = { state: 'ok', detail: 'ok' };
    expect(await controller.health()).toEqual({ status: 'ok', checks: { matrix: 'ok' } });
  });
});
