import { MiddlewareConsumer, Module, NestModule, RequestMethod } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { GatewayConfig } from '../../config/gateway-config';
import { GatewayExceptionFilter } from './gateway-exception.filter';
import { MimiDirectoryController } from './mimi-directory.controller';
import { MimiAssetClient } from './mimi-asset.client';
import { MimiPeerClient } from './mimi-peer.client';
import { MimiPeerGuard } from './mimi-peer.guard';
import { MimiRateLimitGuard } from './peer-rate-limit';
import { MIMI_ROUTES, SERVED_ENDPOINTS } from './mimi-paths';
import { PeerRegistry } from './peer-registry';
import { MimiRawBodyMiddleware } from './raw-body.middleware';
import { TransportTls } from './transport-tls';

/**
 * The provider-to-provider HTTPS transport: directory endpoint, peer authentication (guard),
 * raw-body reading for the MIMI POST routes, the error filter, and the mutual-TLS client.
 * Needs GatewayConfig from the global ConfigModule. Controllers of MIMI endpoints (in other
 * modules that import this one) use `@UseGuards(MimiPeerGuard)`, `@Post(MIMI_ROUTES.x)`,
 * `@MimiPeer()` and `@Body() body: Buffer`; `@UseGuards(MimiPeerGuard, MimiRateLimitGuard)` with
 * `@RateLimited(endpoint)` adds the per-provider rate limit.
 */
@Module({
  controllers: [MimiDirectoryController],
  providers: [
    {
      provide: TransportTls,
      useFactory: (config: GatewayConfig) => TransportTls.fromConfig(config),
      inject: [GatewayConfig],
    },
    PeerRegistry,
    MimiPeerClient,
    MimiAssetClient,
    MimiPeerGuard,
    MimiRateLimitGuard,
    MimiRawBodyMiddleware,
    { provide: APP_FILTER, useClass: GatewayExceptionFilter },
  ],
  exports: [TransportTls, PeerRegistry, MimiPeerClient, MimiAssetClient, MimiPeerGuard, MimiRateLimitGuard],
})
export class MimiTransportModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply(MimiRawBodyMiddleware)
      .forRoutes(...SERVED_ENDPOINTS.map((e) => ({ path: MIMI_ROUTES[e], method: RequestMethod.POST })));
  }
}
