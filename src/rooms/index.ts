/** What other folders may use from src/rooms (see README.md). */
export { RoomsModule, type RoomsModuleOptions } from './rooms.module';
export { RoomsService, type RoomInfo, type RoomEventInfo } from './rooms.service';
export { BridgeSinkService, type SinkOutcome } from './bridge-sink.service';
export { HubService } from './hub.service';
export { FollowerService } from './follower.service';
export { MlsGroups } from './mls-groups';
export { RenderWorker } from './render.worker';
export { MIMI_REQUESTER, type MimiRequester, ROOMS_OPTIONS, type RoomsOptions } from './rooms.tokens';
export { GATEWAY_BOT_LOCALPART, gatewayBotUri, legacyUserUri, parseLegacyUserUri } from './identity';
export {
  type ParticipantDiff,
  type PolicyDecision,
  type ProposedChange,
  authoriseChange,
  diffParticipants,
  maySendMessage,
  roleIndexOf,
  roleOfIndex,
} from './room-policy';
export { type ContentKind, actionForContent, contentForAction, contentKind, contentToJson } from './content-mapping';
