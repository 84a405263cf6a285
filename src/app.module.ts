import { DynamicModule, Module } from '@nestjs/common';
import { MatrixBridge } from '../bridges/matrix/matrix.bridge';
import { createXmppBridge } from '../bridges/xmpp/xmpp.module';
import { generateAppserviceRegistration } from '../registration/generate-appservice-registration';
import { readMatrixTokens, tokensPath } from '../registration/matrix-tokens';
import { MetricsModule } from './api/admin/metrics.module';
import { ConfigModule } from './config/config.module';
import { GatewayConfig } from './config/gateway-config';
import { MimiEndpointsModule } from './api/mimi';
import { MimiPeerClient, MimiTransportModule } from './mimi/transport';
import { PersistenceModule } from './persistence';
import type { PlatformBridge } from './ports';
import { ReplicationModule } from './replication';
import { legacyUserUri, parseLegacyUserUri, RoomsModule, type RoomsOptions } from './rooms';
import { Platform } from './common/ids';

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
 * The bridges the configuration asks for: `matrix` → the appservice bridge, `xmpp` → the
 * component or relay bridge. Throws ConfigError when a bridge's files are missing (e.g. the
 * appservice tokens before `mimi-gateway generate-registration` ran).
 */
export function bridgesFromConfig(config: GatewayConfig): PlatformBridge[] {
  const bridges: PlatformBridge[] = [];
  const domain = config.provider.domain;
  if (config.matrix) {
    const matrix = config.matrix;
    const tokens = readMatrixTokens(tokensPath(matrix.tokensFile, config.baseDir));
    bridges.push(
      new MatrixBridge({
        matrix,
        registration: generateAppserviceRegistration(matrix, tokens),
        // Native Matrix users are MIMI users of this provider (identity mapping, ARCHITECTURE §4).
        mentions: {
          userUriOf: (mxid) => legacyUserUri(domain, Platform.Matrix, mxid),
          mxidOf: (uri) => {
            const parsed = parseLegacyUserUri(uri);
            return parsed?.platform === Platform.Matrix && parsed.domain === domain ? parsed.userId : undefined;
          },
        },
      }),
    );
  }
  if (config.xmpp) bridges.push(createXmppBridge(config));
  return bridges;
}
