/** Public API of the MIMI content codec (draft-ietf-mimi-content-08). See README.md. */
export { Cardinality, decodeMimiContent, Disposition, encodeMimiContentWithId, PartSemantics } from './mimi-content';
export type { ExternalPart, MimiContent, NestedPart } from './mimi-content';
export {
  ExtensionKeys,
  getExternalMessageId,
  getRoomUri,
  getSenderUri,
  senderTimestampFromMillis,
} from './content-extensions';
export {
  buildAttachments,
  buildDelete,
  buildMessageStatus,
  buildEdit,
  buildReaction,
  buildReply,
  buildTextMessage,
  buildUnlike,
  MEDIA_TYPE_MARKDOWN_GFM_MIMI,
  MEDIA_TYPE_TEXT_PLAIN,
} from './content-builders';
export type { AttachmentInit, MessageEnvelope } from './content-builders';
export { receiveMimiContent, validateAcceptedTimestamp } from './validate';
export { getSenderProfile, senderProfileExtensions } from './sender-profile';
export type { SenderProfile } from './sender-profile';
export { cborJson } from './inspect';
export { fromHex, toHex } from './hex';
export { isMessageStatus, MESSAGE_STATUS_READ, messageStatusOf } from './message-status';
