/**
 * Component IDs of the MIMI room state in the MLS `app_data_dictionary` (suggested values, the
 * drafts say TBD): `room_metadata` (protocol-06 §10.4) and the room-policy-03 §10.1 components this
 * gateway writes. The participant list (0x0022) is src/mls/app-data.ts's.
 */
export const RoomStateComponentId = {
  /** protocol-06 §7.6 / §10.4. */
  roomMetadata: 0x0023,
  /** room-policy-03 §3 / §10.1.2. */
  rolesList: 0x0025,
  /** room-policy-03 §4 / §10.1.3 (not written by this gateway). */
  preauthList: 0x0026,
  /** room-policy-03 §5 / §10.1.4. */
  baseRoomPolicy: 0x0027,
  /** room-policy-03 §6.4 / §10.1.9. */
  assetPolicy: 0x002c,
  /** room-policy-03 §6.5 / §10.1.10. */
  loggingPolicy: 0x002d,
  /** room-policy-03 §6.7 / §10.1.12. */
  botPolicy: 0x002f,
} as const;

/**
 * room-policy-03 §10.2 "MIMI Role Capabilities" (the values this gateway generates, enforces or
 * may read; the registry has more, which decode as plain numbers).
 */
export const Capability = {
  canAddParticipant: 0x0000,
  canRemoveParticipant: 0x0001,
  canAddOwnClient: 0x0002,
  canRemoveOwnClient: 0x0003,
  canOpenJoin: 0x0004,
  canJoinIfPreauthorized: 0x0005,
  canRemoveSelf: 0x0006,
  canUseJoinCode: 0x0009,
  canBan: 0x000a,
  canUnBan: 0x000b,
  canKick: 0x000c,
  canChangeUserRole: 0x000f,
  canChangeOwnRole: 0x0010,
  canSendMessage: 0x0100,
  canReceiveMessage: 0x0101,
  canCopyMessage: 0x0102,
  canReportAbuse: 0x0103,
  canReplyToMessage: 0x0104,
  canReactToMessage: 0x0105,
  canEditReaction: 0x0106,
  canDeleteOwnReaction: 0x0107,
  canDeleteOtherReaction: 0x0108,
  canEditOwnMessage: 0x0109,
  canDeleteOwnMessage: 0x010a,
  canDeleteOtherMessage: 0x010b,
  canUploadImage: 0x0200,
  canUploadAudio: 0x0201,
  canUploadVideo: 0x0202,
  canUploadAttachment: 0x0203,
  canDownloadImage: 0x0204,
  canDownloadAudio: 0x0205,
  canDownloadVideo: 0x0206,
  canDownloadAttachment: 0x0207,
  canSendLink: 0x0208,
  canFollowLink: 0x020a,
  canChangeRoomName: 0x0300,
  canChangeRoomDescription: 0x0301,
  canChangeRoomAvatar: 0x0302,
  canChangeRoomSubject: 0x0303,
  canChangeRoomMood: 0x0304,
  canDestroyRoom: 0x0501,
  canChangeRoomMembershipStyle: 0x0502,
  canChangeRoleDefinitions: 0x0503,
} as const;
export type Capability = (typeof Capability)[keyof typeof Capability];
