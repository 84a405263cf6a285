import {
  DynamicModule,
  ExistingProvider,
  FactoryProvider,
  Module,
  ModuleMetadata,
  Provider,
  type Type,
  ValueProvider,
} from '@nestjs/common';
import { BridgeStateRepository } from '../persistence/repositories/bridge-state.repository';
import { MediaAssetRepository } from '../persistence/repositories/media-asset.repository';
import { MlsKvRepository } from '../persistence/repositories/mls-kv.repository';
import { RoomEventRepository } from '../persistence/repositories/room-event.repository';
import { RoomSubmissionRepository } from '../persistence/repositories/room-submission.repository';
import { RoomRepository } from '../persistence/repositories/room.repository';
import { RoomLeaseRepository } from '../persistence/repositories/room-lease.repository';
import { PLATFORM_BRIDGES, type PlatformBridge } from '../ports';
import { DbMlsStorage } from '../persistence/db-mls-storage';
import { AddressResolver } from './address-resolver';
import { BridgeSinkService } from './bridge-sink.service';
import { HubIngest } from './hub-ingest';
import { HubGroupInfo } from './hub-group-info';
import { IdentifierQueries } from './identifier-query';
import { RemoteInvites } from './invites';
import { LinkMoves } from './link-moves';
import { FollowerService } from './follower.service';
import { FollowerNotify } from './follower-notify';
import { NotifyOrder } from './follower/notify-order';
import { FollowerSubmissions } from './follower-submissions';
import { HubService } from './hub.service';
import { MediaAssets } from './media-assets';
import { MlsGroups } from './mls-groups';
import { HubCommits } from './hub-commits';
import { HubUpdates } from './hub-updates';
import { HubProposals } from './hub/hub-proposals';
import { KeyMaterialProxy } from './hub/key-material-proxy';
import { KeyPackageRoutes } from './hub/key-package-routes';
import { KeyMaterialClient } from './key-material-client';
import { FollowerExternalJoins } from './follower/external-joins';
import { FollowerInvites } from './follower/follower-invites';
import { HubUnlink } from './hub/hub-unlink';
import { HubMembership } from './hub/hub-membership';
import { HubSubmissions } from './hub/hub-submissions';
import { LegacyRecords } from './hub/legacy-records';
import { FollowerUnlinked } from './follower/follower-unlinked';
import { AbuseReports } from './abuse/abuse-reports';
import { ConsentService } from './consent/consent';
import { HubRoomState } from './room-state/hub-room-state';
import { MirrorRoomState } from './room-state/mirror-room-state';
import { HubRequests } from './hub-requests';
import { IdleUnload } from './idle-unload';
import { LeafKeyRotation } from './leaf-key-rotation';
import { KeyMaterials } from './key-materials';
import { RenderWorker } from './render.worker';
import { RoomLocks } from './room-locks';
import { RoomOwnership } from './ownership/room-ownership';
import { RoomSupport } from './room-support';
import { RoomTransactions } from '../persistence/room-transactions';
import { MIMI_REQUESTER, type MimiRequester, ROOMS_OPTIONS, type RoomsOptions } from './rooms.tokens';
import { RoomsService } from './rooms.service';

export interface RoomsModuleOptions {
  /** Modules providing what the rooms core needs: the ReplicationModule (OutboxService) and the requester's module. */
  readonly imports?: ModuleMetadata['imports'];
  /** The MimiRequester: a class the imports provide (the transport's MimiPeerClient), or a provider. */
  readonly requester:
    | Type<MimiRequester>
    | Omit<ExistingProvider<MimiRequester>, 'provide'>
    | Omit<FactoryProvider<MimiRequester>, 'provide'>
    | Omit<ValueProvider<MimiRequester>, 'provide'>;
  /** The legacy platforms (PLATFORM_BRIDGES). None: the gateway still serves MIMI endpoints. */
  readonly bridges?: readonly PlatformBridge[];
  readonly options?: RoomsOptions;
}

/**
 * The rooms core (src/rooms/README.md). Needs the global PersistenceModule and ConfigModule; the
 * composition root passes the replication module, the requester and the bridges.
 */
@Module({})
export class RoomsModule {
  static forRoot(options: RoomsModuleOptions): DynamicModule {
    return {
      module: RoomsModule,
      imports: options.imports ?? [],
      providers: [
        { provide: PLATFORM_BRIDGES, useValue: options.bridges ?? [] },
        typeof options.requester === 'function'
          ? { provide: MIMI_REQUESTER, useExisting: options.requester }
          : ({ provide: MIMI_REQUESTER, ...options.requester } as Provider),
        { provide: ROOMS_OPTIONS, useValue: options.options ?? {} },
        MlsKvRepository,
        BridgeStateRepository,
        RoomRepository,
        RoomEventRepository,
        RoomSubmissionRepository,
        MediaAssetRepository,
        RoomTransactions,
        DbMlsStorage,
        MlsGroups,
        RoomLeaseRepository,
        RoomOwnership,
        RoomLocks,
        RoomSupport,
        MediaAssets,
        RenderWorker,
        HubCommits,
        HubUpdates,
        HubProposals,
        KeyPackageRoutes,
        KeyMaterialProxy,
        KeyMaterialClient,
        FollowerInvites,
        HubUnlink,
        FollowerUnlinked,
        AbuseReports,
        ConsentService,
        HubRoomState,
        MirrorRoomState,
        HubGroupInfo,
        LegacyRecords,
        HubMembership,
        HubSubmissions,
        HubService,
        HubRequests,
        LeafKeyRotation,
        IdleUnload,
        KeyMaterials,
        FollowerSubmissions,
        FollowerNotify,
        NotifyOrder,
        FollowerExternalJoins,
        FollowerService,
        HubIngest,
        BridgeSinkService,
        AddressResolver,
        IdentifierQueries,
        RemoteInvites,
        LinkMoves,
        RoomsService,
      ],
      exports: [
        PLATFORM_BRIDGES,
        RoomsService,
        HubService,
        FollowerService,
        IdentifierQueries,
        MlsGroups,
        RenderWorker,
        RoomOwnership,
        MediaAssets,
        AbuseReports,
        ConsentService,
      ],
    };
  }
}
