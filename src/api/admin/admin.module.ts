import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { MetricsRegistry } from '../../common/metrics';
import { AdminExceptionFilter } from './admin-exception.filter';
import { AdminController, HEALTH_CHECKS, HealthCheck, INGRESS_STATUS, type IngressStatus } from './admin.controller';
import { ProvisioningController } from './provisioning.controller';
import { PROVISIONING, type ProvisioningDeps, ProvisioningGuard } from './provisioning.guard';

/**
 * The admin HTTP application. It runs as its own Nest application on its own listener, so that
 * nothing of it is reachable on the MIMI port; it receives the main application's registry,
 * health checks and (when given) the rooms service for the provisioning API as values.
 */
@Module({})
export class AdminModule {
  static forRoot(deps: {
    metrics: MetricsRegistry;
    checks: readonly HealthCheck[];
    provisioning?: ProvisioningDeps;
    /** Scale-out: whether this process holds the ingress lease (default: `every`, no lease). */
    ingress?: IngressStatus;
  }): DynamicModule {
    return {
      module: AdminModule,
      controllers: deps.provisioning ? [AdminController, ProvisioningController] : [AdminController],
      providers: [
        // Every error answer of the listener, a body the JSON parser refused included, is `{ errcode, error }`.
        { provide: APP_FILTER, useClass: AdminExceptionFilter },
        { provide: MetricsRegistry, useValue: deps.metrics },
        { provide: HEALTH_CHECKS, useValue: deps.checks },
        { provide: INGRESS_STATUS, useValue: deps.ingress ?? (() => 'every') },
        ...(deps.provisioning ? [{ provide: PROVISIONING, useValue: deps.provisioning }, ProvisioningGuard] : []),
      ],
    };
  }
}
