/**
 * The MIMI room state components of the `app_data_dictionary` beside the participant list
 * (src/mls/app-data.ts): room_metadata (protocol-06 §7.6) and the room-policy-03 components
 * roles_list, base_room_policy, asset_policy, logging_policy and bot_policy. Codecs only; building them from a
 * platform's model and enforcing them is src/rooms/room-state's.
 */
export { Capability, RoomStateComponentId } from './component-ids';
export {
  BANNED_ROLE_NAME,
  type Role,
  type RoleChangeTargets,
  decodeRolesList,
  encodeRolesList,
  roleAt,
  roleHas,
  roleMayChange,
} from './roles-list';
export { type BaseRoomPolicy, decodeBaseRoomPolicy, encodeBaseRoomPolicy } from './base-room-policy';
export { type RoomMetadata, decodeRoomMetadata, encodeRoomMetadata, plainDescription } from './room-metadata';
export { type AssetPolicy, type MediaType, decodeAssetPolicy, encodeAssetPolicy } from './asset-policy';
export {
  type Bot,
  type LoggingPolicy,
  decodeBotPolicy,
  decodeLoggingPolicy,
  encodeBotPolicy,
  encodeLoggingPolicy,
} from './disclosure-policies';
