/**
 * A follower's requests to a room's hub (protocol-06 §5.3, §5.6): `/update` with a commit of
 * ours, and `/groupInfo` (signed request, checked and decrypted answer) for external joins.
 */
import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import type { ProviderDomain, RoomUri, UserUri } from '../common/ids';
import {
  type UpdateRoomResponse,
  asCredential,
  asGroupInfo,
  asMlsMessage,
  asWelcome,
  decodeAll,
  encodeValue,
  groupInfoRatchetTreeTbeCodec,
  groupInfoRequestCodec,
  groupInfoRequestTbsCodec,
  groupInfoResponseCodec,
  groupInfoResponseTbs,
  groupInfoResponseTbsCodec,
  updateRequestCodec,
  updateRoomResponseCodec,
} from '../mimi/wire';
import { decryptWithLabel, externalSenderKeys, hpkeKeyPair, signWithLabel, verifyWithLabel } from '../mls';
import type { RoomRecord } from '../persistence/repositories/room.repository';
import { RoomTransactions } from '../persistence/room-transactions';
import { MlsGroups } from './mls-groups';
import { MIMI_REQUESTER, type MimiRequester } from './rooms.tokens';
import { GROUP_INFO_LABEL, MIMI_CIPHERSUITE_ID, basicCredentialBytes, basicCredentialIdentity } from './wire-support';

@Injectable()
export class HubRequests {
  constructor(
    private readonly groups: MlsGroups,
    private readonly transactions: RoomTransactions,
    @Inject(MIMI_REQUESTER) private readonly requester: MimiRequester,
  ) {}

  /**
   * protocol-06 §5.6 for our `user`: a GroupInfoRequest signed with its key and a fresh HPKE key;
   * the response must be signed by the hub's provider, and its GroupInfo and tree open with our key.
   * @throws GatewayError PeerUnavailable (no usable answer), Malformed (a bad response)
   */
  async fetchGroupInfo(
    hub: ProviderDomain,
    roomUri: RoomUri,
    user: UserUri,
  ): Promise<
    { status: 'success'; groupInfo: Uint8Array; ratchetTree: Uint8Array } | { status: 'notAuthorized' | 'noSuchRoom' }
  > {
    const id = await this.transactions.run(() => this.groups.identity(user));
    const hpke = hpkeKeyPair();
    const body = signedGroupInfoRequest(user, id, hpke.publicKey);
    const answer = await this.requester.request(hub, 'groupInfo', roomUri, body);
    if (answer.status < 200 || answer.status >= 300) {
      throw new GatewayError(ErrorCode.PeerUnavailable, `groupInfo for ${roomUri} from ${hub}: HTTP ${answer.status}`, {
        retryable: answer.status >= 500 || answer.status === 429,
      });
    }
    const response = decodeAll(answer.body, groupInfoResponseCodec);
    if (response.status !== 'success') return { status: response.status };
    const signer = basicCredentialIdentity(response.hubSender.credential);
    const signed = verifyWithLabel(
      response.hubSender.signatureKey,
      'GroupInfoResponseTBS',
      encodeValue(groupInfoResponseTbs(response), groupInfoResponseTbsCodec),
      response.signature,
    );
    if (signer !== `mimi://${hub}` || !signed) {
      throw new GatewayError(ErrorCode.Malformed, `the groupInfo response for ${roomUri} is not signed by ${hub}`);
    }
    const tbe = decodeAll(
      decryptWithLabel(
        hpke.privateKey,
        GROUP_INFO_LABEL,
        new TextEncoder().encode(roomUri),
        response.encryptedGroupInfoAndTree,
      ),
      groupInfoRatchetTreeTbeCodec,
    );
    if (tbe.ratchetTreeOption.representation !== 'full') {
      throw new GatewayError(ErrorCode.Malformed, `the hub of ${roomUri} sent no ratchet tree`);
    }
    // The key that signed the response must be the group's own hub (protocol-06 §7.4).
    const hubKey = Buffer.from(response.hubSender.signatureKey);
    if (!externalSenderKeys(tbe.groupInfo).some((k) => hubKey.equals(k))) {
      throw new GatewayError(
        ErrorCode.Malformed,
        `the groupInfo response for ${roomUri} is signed by a key the group does not name as its hub`,
      );
    }
    return { status: 'success', groupInfo: tbe.groupInfo, ratchetTree: tbe.ratchetTreeOption.ratchetTree };
  }

  /**
   * protocol-06 §5.3 `/update` with a commit of ours (full GroupInfo and ratchet tree of the new
   * epoch, the Welcome when it adds clients). A non-2xx answer counts as `notAllowed`.
   * @throws when the hub cannot be reached (the caller drops the commit)
   */
  async sendUpdate(
    room: RoomRecord,
    c: { commit: Uint8Array; welcome?: Uint8Array; groupInfo: Uint8Array; ratchetTree: Uint8Array },
  ): Promise<UpdateRoomResponse> {
    const body = encodeValue(
      {
        bundle: {
          proposalOrCommit: asMlsMessage(c.commit),
          contentType: 'commit',
          ...(c.welcome === undefined ? {} : { welcome: asWelcome(c.welcome) }),
          groupInfoOption: { representation: 'full', groupInfo: asGroupInfo(c.groupInfo) },
          ratchetTreeOption: { representation: 'full', ratchetTree: c.ratchetTree },
        },
      },
      updateRequestCodec,
    );
    const answer = await this.requester.request(room.hubDomain, 'update', room.roomUri, body);
    return answer.status >= 200 && answer.status < 300
      ? decodeAll(answer.body, updateRoomResponseCodec)
      : { responseCode: 'notAllowed', errorDescription: `HTTP ${answer.status}` };
  }
}

/** A protocol-06 §5.6 GroupInfoRequest of `user`, signed with its key, asking for the GroupInfo under `hpkePublicKey`. */
export function signedGroupInfoRequest(
  user: UserUri,
  id: { signatureKey: Uint8Array; signaturePrivateKey: Uint8Array },
  hpkePublicKey: Uint8Array,
): Uint8Array {
  const head = {
    protocol: 'mls10' as const,
    cipherSuite: MIMI_CIPHERSUITE_ID,
    requestingSignatureKey: id.signatureKey,
    requestingCredential: asCredential(basicCredentialBytes(user)),
    groupInfoPublicKey: hpkePublicKey,
  };
  const signature = signWithLabel(
    id.signaturePrivateKey,
    'GroupInfoRequestTBS',
    encodeValue(head, groupInfoRequestTbsCodec),
  );
  return encodeValue({ ...head, joiningCode: new Uint8Array(0), signature }, groupInfoRequestCodec);
}
