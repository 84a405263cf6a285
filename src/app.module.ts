import { DynamicModule, Module } from '@nestjs/common';
import { MetricsModule } from './admin/metrics.module';
import { ConfigModule } from './config/config.module';
import { GatewayConfig } from './config/gateway-config';
import { MimiEndpointsModule } from './mimi/endpoints';
import { MimiPeerClient, MimiTransportModule } from './mimi/transport';
import { PersistenceModule } from './persistence';
import type { PlatformBridge } from './ports';
import { ReplicationModule } from './replication';
import { RoomsModule, type RoomsOptions } from './rooms';

/** What the composition root plugs in besides the configuration. */
export interface AppModuleOptions {
  /** The legacy platforms (provided as PLATFORM_BRIDGES). None: the gateway still serves the MIMI endpoints. */
  readonly bridges?: readonly PlatformBridge[];
  /** Tunables of the rooms core. */
  readonly rooms?: RoomsOptions;
}

/**
 * The composition root: the only file of src/ that may wire bridges in (STYLE §3). Modules:
 * config (global), metrics (global), persistence (global; runs migrations before anything else
 * touches the database), the MIMI transport (mutual TLS, directory, peer client), replication
 * (outbox delivering through the peer client), the rooms core (hub and follower logic, with the
 * bridges) and the MIMI endpoint controllers.
 */
@Module({})
export class AppModule {
  static forRoot(config: GatewayConfig, options: AppModuleOptions = {}): DynamicModule {
    const replication = ReplicationModule.forRoot({
      imports: [MimiTransportModule],
      deliveryTarget: { useExisting: MimiPeerClient },
    });
    const rooms = RoomsModule.forRoot({
      imports: [replication, MimiTransportModule],
      requester: { useExisting: MimiPeerClient },
      bridges: options.bridges,
      options: options.rooms,
    });
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        MetricsModule,
        PersistenceModule.forRoot(),
        MimiTransportModule,
        replication,
        rooms,
        MimiEndpointsModule.forRoot({ imports: [rooms] }),
      ],
    };
  }
}
