import { DynamicModule, Module } from '@nestjs/common';
import { MetricsRegistry } from '../common/metrics';
import { AdminController, HEALTH_CHECKS, HealthCheck } from './admin.controller';

/**
 * The admin HTTP application. It runs as its own Nest application on its own listener, so that
 * nothing of it is reachable on the MIMI port; it receives the main application's registry and
 * health checks as values.
 */
@Module({})
export class AdminModule {
  static forRoot(deps: { metrics: MetricsRegistry; checks: readonly HealthCheck[] }): DynamicModule {
    return {
      module: AdminModule,
      controllers: [AdminController],
      providers: [
        { provide: MetricsRegistry, useValue: deps.metrics },
        { provide: HEALTH_CHECKS, useValue: deps.checks },
      ],
    };
  }
}
