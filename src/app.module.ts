import { DynamicModule, Module } from '@nestjs/common';
import { matrixBridgeModule } from '../bridges/matrix/matrix.module';
import { xmppBridgeModule } from '../bridges/xmpp/xmpp.module';
import { MetricsModule } from './api/admin/metrics.module';
import { ConfigModule } from './config/config.module';
import { GatewayConfig } from './config/gateway-config';
import { sectionOf } from './config/load-config';
import { MimiEndpointsModule } from './api/mimi';
import { MimiPeerClient, MimiTransportModule } from './mimi/transport';
import { PersistenceModule } from './persistence';
import type { BridgeContext, BridgeModule, PlatformBridge } from './ports';
import { ReplicationModule } from './replication';
import { legacyUserUri, parseLegacyUserUri, RoomsModule, type RoomsOptions } from './rooms';
import type { ProviderDomain } from './common/ids';

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
      // DELIVERY_TARGET (src/ports/delivery-target.port.ts): the outbox sends through the peer client.
      deliveryTarget: MimiPeerClient,
    });
    const rooms = RoomsModule.forRoot({
      imports: [replication, MimiTransportModule],
      // MIMI_REQUESTER (src/rooms/rooms.tokens.ts): /update, /submitMessage, /keyMaterial to a hub.
      requester: MimiPeerClient,
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

/**
 * The bridge modules: each validates its own section of the config file and builds its bridge
 * from it (bridges/<platform>/<platform>.module.ts). A new platform is one more line here and
 * its section in app.config.ts.
 */
const BRIDGE_MODULES: readonly BridgeModule[] = [matrixBridgeModule as BridgeModule, xmppBridgeModule as BridgeModule];

/**
 * The bridges the configuration asks for: one per bridge module whose section the file has.
 * Throws ConfigError when a bridge's files are missing (e.g. the appservice tokens before
 * `mimi-gateway generate-registration` ran).
 */
export function bridgesFromConfig(config: GatewayConfig): PlatformBridge[] {
  const gateway: BridgeContext = {
    providerDomain: config.provider.domain as ProviderDomain,
    baseDir: config.baseDir,
    identity: {
      userUriOf: (platform, userId) => legacyUserUri(config.provider.domain, platform, userId),
      legacyUserOf: (uri) => parseLegacyUserUri(uri),
    },
  };
  const bridges: PlatformBridge[] = [];
  for (const module of BRIDGE_MODULES) {
    const section = sectionOf(config, module.config);
    if (section !== undefined) bridges.push(module.create(section, gateway));
  }
  return bridges;
}
