/**
 * protocol-06 §5.2 / §3.3 at the hub: a follower's `/keyMaterial` for a user of a third provider
 * ("KeyPackages requested using this primitive MUST be sent via the hub provider of whatever room
 * they will be used in"). The hub passes the request on unchanged to the target user's provider
 * (ServerB → ServerA → ServerC in Figure 4), and before answering:
 *
 * - checks the request: signed by the calling provider for one of its users (`noConsent`
 *   otherwise), for a room we hub (`userUnknown` for any other room: we answer only for our own
 *   users otherwise), asked by a participant whose role has canAddParticipant (`noConsent`);
 * - checks the KeyPackages of the answer (key-material-check.ts): valid, of the target user, and
 *   with the room's `required_capabilities` (clients without them → `nothingCompatible`, none at
 *   all → `noCompatibleMaterial`);
 * - records the KeyPackageRef of each one passed on with the provider it came from
 *   (KeyPackageRoutes), so that the Welcome of the follower's Add goes there (§4.3.1).
 */
import { Injectable, Logger } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../../common/errors';
import { type ProviderDomain, type RoomUri, type UserUri, domainOf } from '../../common/ids';
import type { KeyMaterialRequest, KeyMaterialResponse } from '../../mimi/wire';
import { RoomRepository } from '../../persistence/repositories/room.repository';
import { KeyMaterialClient, roomRequiredCapabilities } from '../key-material-client';
import { requestOrigin } from '../key-material-check';
import { MlsGroups } from '../mls-groups';
import { RoomLocks } from '../room-locks';
import { mayAddParticipants } from '../room-policy';
import { rolesOf } from '../room-state/room-components';
import { RoomSupport } from '../room-support';
import { KeyPackageRoutes } from './key-package-routes';

/** How a target provider's HTTP refusal is passed to the follower. */
function httpRefusal(target: UserUri, provider: ProviderDomain, status: number, body: string): GatewayError {
  const code = status === 404 ? ErrorCode.NotFound : status === 403 ? ErrorCode.Forbidden : ErrorCode.PeerUnavailable;
  return new GatewayError(code, `keyMaterial for ${target}: ${provider} answered HTTP ${status} ${body.slice(0, 200)}`);
}

@Injectable()
export class KeyMaterialProxy {
  private readonly logger = new Logger(KeyMaterialProxy.name);

  constructor(
    private readonly support: RoomSupport,
    private readonly rooms: RoomRepository,
    private readonly groups: MlsGroups,
    private readonly locks: RoomLocks,
    private readonly client: KeyMaterialClient,
    private readonly routes: KeyPackageRoutes,
  ) {}

  /**
   * `/keyMaterial/{targetUser}` from `peer` for a user of another provider (see the file comment).
   * @throws GatewayError PeerUnavailable (retryable) when the target provider cannot be reached or
   *   answers 5xx; NotFound / Forbidden when it answers 404 / 403
   */
  async keyMaterial(
    peer: ProviderDomain,
    targetUser: UserUri,
    request: KeyMaterialRequest,
  ): Promise<KeyMaterialResponse> {
    const reply = (userStatus: KeyMaterialResponse['userStatus']): KeyMaterialResponse => ({
      protocol: 'mls10',
      userStatus,
      userUri: targetUser,
      clients: [],
    });
    const provider = domainOf(targetUser);
    const roomUri = request.roomId as RoomUri;
    const room = roomUri === '' ? undefined : await this.rooms.findByUri(undefined, roomUri);
    if (provider === undefined || provider === this.support.domain || room?.role !== 'hub') {
      return reply('userUnknown');
    }
    const origin = requestOrigin(request);
    if (origin !== peer) {
      this.logger.warn(`keyMaterial for ${targetUser} from ${peer}: not signed by ${peer} for one of its users`);
      return reply('noConsent');
    }
    const { decision, required } = await this.locks.run(roomUri, async () => {
      const extensions = (await this.groups.requireGroup(roomUri)).coreState.context.extensions;
      const participants = (await this.groups.view(roomUri))?.participants ?? [];
      return {
        decision: mayAddParticipants(rolesOf(extensions), participants, request.requestingUser as UserUri),
        required: roomRequiredCapabilities(extensions),
      };
    });
    if (!decision.allowed) {
      this.logger.warn(
        `room=${roomUri}: keyMaterial for ${targetUser} asked by ${peer}: ${decision.reason}; noConsent`,
      );
      return reply('noConsent');
    }
    const now = this.support.now();
    const fetched = await this.client.fetch(provider, request, required, now);
    if (fetched.response === undefined) throw httpRefusal(targetUser, provider, fetched.httpStatus, fetched.body);
    if (fetched.problems.length > 0) {
      this.logger.warn(
        `room=${roomUri}: key material of ${targetUser} from ${provider}: ${fetched.problems.join('; ')}`,
      );
    }
    await this.routes.record(
      fetched.usable.map((k) => ({
        ref: k.ref,
        route: { room: roomUri, provider, requester: peer, user: k.user, notAfter: k.notAfter },
      })),
    );
    this.logger.log(
      `room=${roomUri}: keyMaterial for ${targetUser} passed from ${provider} to ${peer}: ${fetched.response.userStatus}, ${fetched.usable.length} KeyPackage(s) recorded`,
    );
    return fetched.response;
  }
}
