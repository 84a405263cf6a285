/** Gateway-scale MLS on `src/mls/core`: one shared state per group for all local members. See README.md. */
export * from './types';
export { GroupStore, GATEWAY_CIPHER_SUITE, type CreateRoomGroupInput, type ExternalJoinResult } from './group-store';
export { GatewayGroup } from './gateway-group';
export type { CommitPreview } from './commit-preview';
export { gatewayKeys, ownerOfKey } from './keys';
export { userCredential, userOfCredential, type MemberIdentity, type PublishedKeyPackage } from './identities';
export { hubExternalSender, participantsOf, roomExtensions, externalSendersOf } from './room-extensions';
export type { LocalMemberRecord } from './state-codec';
