import { DynamicModule, Module } from '@nestjs/common';
import { MetricsModule } from './admin/metrics.module';
import { ConfigModule } from './config/config.module';
import { GatewayConfig } from './config/gateway-config';
import { MimiPeerClient, MimiTransportModule } from './mimi/transport';
import { PersistenceModule } from './persistence';
import { ReplicationModule } from './replication';

/**
 * The composition root: the only file of src/ that may wire bridges in (STYLE §3). Modules:
 * config (global), metrics (global), persistence (global; runs migrations before anything else
 * touches the database), the MIMI transport (mutual TLS, directory, peer client), replication
 * (outbox delivering through the peer client).
 */
@Module({})
export class AppModule {
  static forRoot(config: GatewayConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        MetricsModule,
        PersistenceModule.forRoot(),
        MimiTransportModule,
        ReplicationModule.forRoot({
          imports: [MimiTransportModule],
          deliveryTarget: { useExisting: MimiPeerClient },
        }),
      ],
    };
  }
}
