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
  type Participant,
  appDataFromExtensions,
  decodeAppDataDictionary,
  decodeParticipantList,
  encodeAppDataDictionary,
  encodeParticipantList,
  participantListFromExtensions,
  withParticipantList,
} from './app-data';
export {
  HubExternalSender,
  MIMI_CIPHERSUITE,
  decryptWithLabel,
  encryptWithLabel,
  hpkeKeyPair,
  mimiSuite,
  signWithLabel,
  verifyWithLabel,
} from './hub-sender';
export {
  type EpochCheck,
  EpochVerdict,
  HubGroupView,
  type MlsContentType,
  type MlsMessageHeader,
  type MlsSender,
  type MlsWireFormat,
  checkEpoch,
  decodeMlsMessageBytes,
  epochCheckError,
  externalSenderKeys,
  frameMlsMessage,
  groupIdForRoom,
  groupInfoFromBytes,
  inspectMlsMessage,
  keyPackageFromBytes,
  keyPackageRef,
  keyPackageUser,
  roomUriForGroupId,
  unframeMlsMessage,
  welcomeFromBytes,
} from './mls-message';
export { InMemoryMlsStorage, type MlsStorage } from './mls-storage';
export { MlsErrorReason, MlsGroupError, toMlsGroupError } from './mls.errors';
export {
  GroupStore,
  GatewayGroup,
  GATEWAY_CIPHER_SUITE,
  type CommitPreview,
  type CreateRoomGroupInput,
  type ExternalJoinResult,
  type GatewayChanges,
  type GatewayGroupSummary,
  type GatewayMember,
  type GatewayOptions,
  type GatewayProcessed,
  type GatewayStagedCommit,
  type GroupInfoBundle,
  type PublishedKeyPackage,
  gatewayKeys,
  ownerOfKey,
  participantsOf,
  userOfCredential,
} from './gateway';
export type { CommitPolicy, CommittedProposal, CommitEffects } from './core/group';
export { MlsProtocolError } from './core/errors';
export {
  ContentType,
  ProposalType,
  SenderType,
  ExtensionType,
  WireFormat,
  type Proposal,
  type Sender,
  type MLSMessage,
} from './core/structs';
export { decodeMlsMessage } from './core/framing';
