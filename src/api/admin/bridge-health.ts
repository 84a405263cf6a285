import type { PlatformBridge } from '../../ports';
import { reportsHealth } from '../../ports';
import type { HealthCheck } from './admin.controller';

/**
 * One `/health` check per bridge that reports its platform's state (the Matrix homeserver ping,
 * RELIABILITY T10), named after the platform: failing fails the check (503 with the detail);
 * pending passes, shown as `pending: …`.
 */
export function bridgeHealthChecks(bridges: readonly PlatformBridge[]): HealthCheck[] {
  return bridges.filter(reportsHealth).map((bridge) => ({
    name: bridge.platform,
    check: async () => {
      const health = bridge.health();
      if (health.state === 'failing') throw new Error(health.detail);
      return health.state === 'pending' ? `pending: ${health.detail}` : undefined;
    },
  }));
}
