/**
 * protocol-06 §5.2 `/keyMaterial` as the target provider: a fresh KeyPackage of one of our legacy
 * users' puppets, for a request signed by the calling provider.
 */
import { Injectable, Logger } from '@nestjs/common';
import { ValidationError } from '../common/errors';
import { type ProviderDomain, type UserUri, domainOf } from '../common/ids';
import {
  type KeyMaterialRequest,
  type KeyMaterialResponse,
  asKeyPackage,
  encodeValue,
  keyMaterialRequestTbsCodec,
} from '../mimi/wire';
import { verifyWithLabel } from '../mls';
import { RoomTransactions } from '../persistence/room-transactions';
import { parseLegacyUserUri } from './identity';
import { MlsGroups } from './mls-groups';
import { RoomSupport } from './room-support';
import { MIMI_CIPHERSUITE_ID, basicCredentialIdentity, credentialDomain } from './wire-support';

@Injectable()
export class KeyMaterials {
  private readonly logger = new Logger(KeyMaterials.name);

  constructor(
    private readonly support: RoomSupport,
    private readonly groups: MlsGroups,
    private readonly transactions: RoomTransactions,
  ) {}

  /**
   * protocol-06 §5.2 for one of our legacy users: a fresh KeyPackage of the user's puppet client,
   * for a request signed by the calling provider. We only answer for our own users (no proxying
   * for rooms we hub, README.md), and consent is implicit (any authenticated provider may ask).
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
    const legacy = parseLegacyUserUri(targetUser);
    if (
      domainOf(targetUser) !== this.support.domain ||
      legacy === undefined ||
      !this.support.hasBridge(legacy.platform)
    ) {
      return reply('userUnknown');
    }
    const signed = verifyWithLabel(
      request.requesterSignatureKey,
      'KeyMaterialRequestTBS',
      encodeValue(request, keyMaterialRequestTbsCodec),
      request.keyMaterialRequestSignature,
    );
    const requester = basicCredentialIdentity(request.requesterCredential);
    if (!signed || credentialDomain(requester) !== peer || domainOf(request.requestingUser) !== peer) {
      this.logger.warn(`keyMaterial for ${targetUser} from ${peer}: bad signature or requester; noConsent`);
      return reply('noConsent');
    }
    if (!request.acceptableCiphersuites.includes(MIMI_CIPHERSUITE_ID)) return reply('noCompatibleMaterial');
    const published = await this.transactions.run(() => this.groups.store.createKeyPackage(targetUser));
    this.logger.debug(`keyMaterial: a KeyPackage of ${targetUser} for ${peer} (room ${request.roomId || '-'})`);
    return reply('success', [
      { clientStatus: 'success', clientUri: targetUser, keyPackage: asKeyPackage(published.keyPackage) },
    ]);
  }
}
