/**
 * protocol-06 §5.2 `/keyMaterial` as the target provider: a KeyPackage of one of our legacy
 * users' puppets, for a request signed by the calling provider; at most
 * `limits.keyPackagesPerRequester` outstanding per (provider, user) (key-package-pool.ts).
 */
import { Injectable, Logger } from '@nestjs/common';
import { ValidationError } from '../common/errors';
import { type ProviderDomain, type UserUri, domainOf } from '../common/ids';
import { GatewayConfig } from '../config/gateway-config';
import { type KeyMaterialRequest, type KeyMaterialResponse, asKeyPackage } from '../mimi/wire';
import { RoomTransactions } from '../persistence/room-transactions';
import { parseLegacyUserUri } from './identity';
import { KeyPackagePool } from './key-package-pool';
import { MlsGroups } from './mls-groups';
import { RoomLocks } from './room-locks';
import { RoomSupport } from './room-support';
import { MIMI_CIPHERSUITE_ID } from './wire-support';
import { KeyMaterialProxy } from './hub/key-material-proxy';
import { checkKeyMaterial, requestCameFrom, requestedCapabilities } from './key-material-check';

@Injectable()
export class KeyMaterials {
  private readonly logger = new Logger(KeyMaterials.name);
  private readonly pool: KeyPackagePool;
  /** One request at a time per (provider, user): the pool reads, then writes, its record. */
  private readonly locks = new RoomLocks();

  constructor(
    private readonly support: RoomSupport,
    private readonly groups: MlsGroups,
    private readonly transactions: RoomTransactions,
    private readonly proxy: KeyMaterialProxy,
    config: GatewayConfig,
  ) {
    const identities = groups.store.identities;
    this.pool = new KeyPackagePool(
      groups.store.storage,
      {
        create: (user) => groups.store.createKeyPackage(user),
        unusedRefs: (user) => identities.keyPackageRefs(user),
        discard: (user, ref) => identities.consumeKeyPackage(user, ref),
      },
      config.limits.keyPackagesPerRequester,
    );
  }

  /**
   * protocol-06 §5.2 for one of our legacy users: a KeyPackage of the user's puppet client,
   * for a request signed by the calling provider, or by a follower of a room the calling provider
   * hubs (passed on by it). A user of another provider: the request is passed on when we hub its
   * room (KeyMaterialProxy). Consent is implicit (any authenticated provider may ask).
   */
  async keyMaterial(
    peer: ProviderDomain,
    targetUser: UserUri,
    request: KeyMaterialRequest,
  ): Promise<KeyMaterialResponse> {
    if (request.targetUser !== targetUser) {
      throw new ValidationError(`the path names ${targetUser}, the body ${request.targetUser}`);
    }
    const reply = (
      userStatus: KeyMaterialResponse['userStatus'],
      clients: KeyMaterialResponse['clients'] = [],
    ): KeyMaterialResponse => ({
      protocol: 'mls10',
      userStatus,
      userUri: targetUser,
      clients,
    });
    if (domainOf(targetUser) !== this.support.domain) {
      // A user of another provider: we pass the request on for rooms we hub (hub/key-material-proxy.ts).
      return this.proxy.keyMaterial(peer, targetUser, request);
    }
    const legacy = parseLegacyUserUri(targetUser);
    if (legacy === undefined || !this.support.hasBridge(legacy.platform)) return reply('userUnknown');
    if (!requestCameFrom(peer, request)) {
      this.logger.warn(`keyMaterial for ${targetUser} from ${peer}: bad signature or requester; noConsent`);
      return reply('noConsent');
    }
    if (!request.acceptableCiphersuites.includes(MIMI_CIPHERSUITE_ID)) return reply('noCompatibleMaterial');
    const required = requestedCapabilities(request);
    const keyPackage = await this.locks.run(`${peer} ${targetUser}`, () =>
      this.transactions.run(() => this.pool.issue(peer, targetUser, request.roomId, this.support.clock.now())),
    );
    // requiredCapabilities (protocol-06 §5.2): a KeyPackage that lacks them is not handed out.
    const checked = checkKeyMaterial(
      reply('success', [{ clientStatus: 'success', clientUri: targetUser, keyPackage: asKeyPackage(keyPackage) }]),
      targetUser,
      required,
      this.support.clock.now(),
    );
    this.logger.debug(
      `keyMaterial: ${checked.response.userStatus} for ${targetUser}, asked by ${peer} (room ${request.roomId || '-'})`,
    );
    return checked.response;
  }
}
