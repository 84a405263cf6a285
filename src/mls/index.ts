/**
 * The MLS group layer (RFC 9420 on ts-mls 1.6.4) for MIMI rooms. See README.md.
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
  credentialIdentity,
  credentialUser,
  mimiAuthenticationService,
  providerUri,
  signContent,
  userCredential,
} from './credentials';
export { MIMI_CIPHERSUITE, MlsCryptoBackend, mlsCiphersuite, nodeCryptoProvider } from './crypto';
export {
  type GroupChanges,
  type GroupInfoBundle,
  type GroupSummary,
  MemberClient,
  type MemberClientOptions,
  type ProcessedMessage,
  type PublishedKeyPackage,
  type StagedCommit,
  mlsStorageKeys,
} from './member-client';
export {
  type EpochCheck,
  EpochVerdict,
  HubGroupView,
  type MlsMessageHeader,
  type MlsSender,
  type MlsWireFormat,
  type TreeMember,
  checkEpoch,
  decodeMlsMessageBytes,
  epochCheckError,
  externalSenderKeys,
  frameMlsMessage,
  groupInfoFromBytes,
  groupInfoToBytes,
  inspectMlsMessage,
  keyPackageFromBytes,
  keyPackageRef,
  keyPackageToBytes,
  membersOfRatchetTree,
  ratchetTreeFromBytes,
  ratchetTreeToBytes,
  welcomeFromBytes,
  welcomeToBytes,
} from './mls-message';
export { InMemoryMlsStorage, type MlsStorage } from './mls-storage';
export { MlsErrorReason, MlsGroupError } from './mls.errors';
export {
  type CreateRoomGroupOptions,
  RoomGroup,
  groupIdForRoom,
  roomGroupExtensions,
  roomUriForGroupId,
} from './room-group';
