/** Gateway-scale MLS on `src/mls/core`: one shared state per group for all local members. See README.md. */
export * from './types';
export { GroupStore } from './group-store';
export { GatewayGroup } from './gateway-group';
export type { CommitPreview } from './commit-preview';
export { gatewayKeys } from './keys';
export { userOfCredential } from './identities';
export { participantsOf } from './room-extensions';
