/**
 * The hub's `/groupInfo` (protocol-06 §5.6), moved out of HubService: a fresh GroupInfo and
 * ratchet tree from the bot for a participant of the calling provider, sealed to the requester.
 */
import { Injectable } from '@nestjs/common';
import { type ProviderDomain, type RoomUri } from '../common/ids';
import {
  type GroupInfoRequest,
  type GroupInfoResponse,
  asCredential,
  asGroupInfo,
  encodeValue,
  groupInfoRatchetTreeTbeCodec,
  groupInfoRequestTbs,
  groupInfoRequestTbsCodec,
  groupInfoResponseTbsCodec,
} from '../mimi/wire';
import { BANNED_ROLE_INDEX, encryptWithLabel, verifyWithLabel } from '../mls';
import { RoomRepository } from '../persistence/repositories/room.repository';
import { HubCommits } from './hub-commits';
import { MlsGroups } from './mls-groups';
import { RoomLocks } from './room-locks';
import { RoomSupport } from './room-support';
import { participantOf } from './room-policy';
import { GROUP_INFO_LABEL, basicCredentialBytes, basicCredentialIdentity, credentialDomain } from './wire-support';

@Injectable()
export class HubGroupInfo {
  constructor(
    private readonly support: RoomSupport,
    private readonly rooms: RoomRepository,
    private readonly groups: MlsGroups,
    private readonly commits: HubCommits,
    private readonly locks: RoomLocks,
  ) {}

  /**
   * protocol-06 §5.6 for a participant of the calling provider (a new device, or a client that
   * lost its state): a fresh GroupInfo and the ratchet tree from the bot, HPKE-encrypted to the
   * requester's key, signed with the hub's external-sender key. Pending proposals: none (the hub
   * commits at once).
   */
  async groupInfo(peer: ProviderDomain, roomUri: RoomUri, request: GroupInfoRequest): Promise<GroupInfoResponse> {
    return this.locks.run(roomUri, async () => {
      const room = await this.rooms.findByUri(undefined, roomUri);
      if (room?.role !== 'hub') return { protocol: 'mls10', roomId: roomUri, status: 'noSuchRoom' };
      const denied: GroupInfoResponse = { protocol: 'mls10', roomId: roomUri, status: 'notAuthorized' };
      const signed = verifyWithLabel(
        request.requestingSignatureKey,
        'GroupInfoRequestTBS',
        encodeValue(groupInfoRequestTbs(request), groupInfoRequestTbsCodec),
        request.signature,
      );
      const identity = basicCredentialIdentity(request.requestingCredential);
      if (!signed || identity === undefined || credentialDomain(identity) !== peer) return denied;
      const view = await this.commits.botView(roomUri);
      const p = participantOf(view.participants, identity);
      if (p?.roleIndex === BANNED_ROLE_INDEX) return denied;
      if (p === undefined && (await this.support.joinRuleOf(room)) !== 'public') return denied;
      const bundle = await (await this.groups.requireGroup(roomUri)).groupInfo(this.groups.botUser);
      const tbe = encodeValue(
        {
          groupInfo: asGroupInfo(bundle.groupInfo),
          ratchetTreeOption: { representation: 'full', ratchetTree: bundle.ratchetTree },
          pendingProposals: [],
        },
        groupInfoRatchetTreeTbeCodec,
      );
      const sealed = encryptWithLabel(
        request.groupInfoPublicKey,
        GROUP_INFO_LABEL,
        new TextEncoder().encode(roomUri),
        tbe,
      );
      const hub = await this.groups.hub();
      const body = {
        cipherSuite: request.cipherSuite,
        hubSender: {
          signatureKey: hub.signaturePublicKey,
          credential: asCredential(basicCredentialBytes(`mimi://${hub.domain}`)),
        },
        encryptedGroupInfoAndTree: sealed,
      };
      const tbs = encodeValue(
        { protocol: 'mls10', roomId: roomUri, status: 'success', ...body },
        groupInfoResponseTbsCodec,
      );
      return {
        protocol: 'mls10',
        roomId: roomUri,
        status: 'success',
        ...body,
        signature: hub.signWithLabel('GroupInfoResponseTBS', tbs),
      };
    });
  }
}
