/**
 * The MLS group layer for MIMI rooms: our own RFC 9420 (`./core`) and the gateway-scale group
 * store on it (`./gateway`). See README.md.
 */
export {
  APP_DATA_DICTIONARY_EXTENSION_TYPE,
  APP_DATA_UPDATE_PROPOSAL_TYPE,
  BANNED_ROLE_INDEX,
  type ComponentData,
  MimiComponentId,
  NO_ROLE_INDEX,
  appDataFromExtensions,
  decodeAppDataDictionary,
  encodeAppDataDictionary,
  type Participant,
  decodeParticipantList,
  participantListFromExtensions,
} from './app-data';
export {
  HubExternalSender,
  decryptWithLabel,
  encryptWithLabel,
  hpkeKeyPair,
  mimiSuite,
  signWithLabel,
  verifyWithLabel,
} from './hub-sender';
export {
  EpochVerdict,
  checkEpoch,
  externalSenderKeys,
  frameMlsMessage,
  groupIdForRoom,
  groupInfoFromBytes,
  inspectMlsMessage,
  roomUriForGroupId,
  unframeMlsMessage,
} from './mls-message';
export { InMemoryMlsStorage, type MlsStorage } from './mls-storage';
export { type ProposalInfo, handshakeAuthenticatedData, inspectProposal } from './handshake-inspect';
export { MlsErrorReason, MlsGroupError } from './mls.errors';
export { MlsProtocolError } from './core/errors';
export {
  GroupStore,
  GatewayGroup,
  type CommitPreview,
  type GatewayChanges,
  type GatewayGroupSummary,
  type GatewayProcessed,
  type GatewayStagedCommit,
  gatewayKeys,
  participantsOf,
  userOfCredential,
} from './gateway';
export type { CommitPolicy, CommittedProposal } from './core/group';
export { ProposalType, SenderType } from './core/structs';
