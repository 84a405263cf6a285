/**
 * RFC 9420 §6 message framing: WireFormat, ContentType, Sender, FramedContent, FramedContentTBS,
 * FramedContentAuthData, AuthenticatedContent (+ AuthenticatedContentTBM), PublicMessage, and the
 * §8.2 transcript hash inputs. PrivateMessage and its parts are in `private-message.ts`.
 *
 * A struct whose `select` reads a field of an enclosing struct (FramedContentAuthData on the
 * content type) has a codec factory taking that value.
 */
import { codec, opaque, uint32, uint64, type TlsReader, type TlsWriter } from '../../../codec/tls-codec';
import { macCodec, numericEnum, protocolVersionCodec, type ProtocolVersion } from './basics';
import { groupContextCodec, type GroupContext } from './group-context';
import { commitCodec, proposalCodec, type Commit, type Proposal } from './proposals';

/** §17.2 IANA "MLS Wire Formats" (RFC 9420 values; others are rejected). */
export const WireFormat = {
  mls_public_message: 1,
  mls_private_message: 2,
  mls_welcome: 3,
  mls_group_info: 4,
  mls_key_package: 5,
} as const;
export type WireFormat = (typeof WireFormat)[keyof typeof WireFormat];
export const wireFormatCodec = numericEnum('WireFormat', WireFormat, 2);

/** §6 ContentType. */
export const ContentType = { application: 1, proposal: 2, commit: 3 } as const;
export type ContentType = (typeof ContentType)[keyof typeof ContentType];
export const contentTypeCodec = numericEnum('ContentType', ContentType);

/** §6 SenderType. */
export const SenderType = { member: 1, external: 2, new_member_proposal: 3, new_member_commit: 4 } as const;
export type SenderType = (typeof SenderType)[keyof typeof SenderType];
const senderTypeCodec = numericEnum('SenderType', SenderType);

/** §6 Sender. */
export type Sender =
  | { senderType: typeof SenderType.member; leafIndex: number }
  | { senderType: typeof SenderType.external; senderIndex: number }
  | { senderType: typeof SenderType.new_member_proposal }
  | { senderType: typeof SenderType.new_member_commit };
export const senderCodec = codec<Sender>(
  'Sender',
  (w, v) => {
    w.field('sender_type', senderTypeCodec, v.senderType);
    if (v.senderType === SenderType.member) w.field('leaf_index', uint32, v.leafIndex);
    else if (v.senderType === SenderType.external) w.field('sender_index', uint32, v.senderIndex);
  },
  (r): Sender => {
    const senderType = r.field('sender_type', senderTypeCodec);
    switch (senderType) {
      case SenderType.member:
        return { senderType, leafIndex: r.field('leaf_index', uint32) };
      case SenderType.external:
        return { senderType, senderIndex: r.field('sender_index', uint32) };
      case SenderType.new_member_proposal:
      case SenderType.new_member_commit:
        return { senderType };
    }
  },
);

// ---- content ---------------------------------------------------------------------------------------

/** The `select (content_type)` part shared by FramedContent and PrivateMessageContent. */
export type ContentBody =
  | { contentType: typeof ContentType.application; applicationData: Uint8Array }
  | { contentType: typeof ContentType.proposal; proposal: Proposal }
  | { contentType: typeof ContentType.commit; commit: Commit };

export function encodeContentBody(w: TlsWriter, v: ContentBody): void {
  switch (v.contentType) {
    case ContentType.application:
      return w.field('application_data', opaque, v.applicationData);
    case ContentType.proposal:
      return w.field('proposal', proposalCodec, v.proposal);
    case ContentType.commit:
      return w.field('commit', commitCodec, v.commit);
  }
}

export function decodeContentBody(r: TlsReader, contentType: ContentType): ContentBody {
  switch (contentType) {
    case ContentType.application:
      return { contentType, applicationData: r.field('application_data', opaque) };
    case ContentType.proposal:
      return { contentType, proposal: r.field('proposal', proposalCodec) };
    case ContentType.commit:
      return { contentType, commit: r.field('commit', commitCodec) };
  }
}

/** §6 FramedContent. */
export type FramedContent = {
  groupId: Uint8Array;
  epoch: bigint;
  sender: Sender;
  authenticatedData: Uint8Array;
} & ContentBody;

export const framedContentCodec = codec<FramedContent>(
  'FramedContent',
  (w, v) => {
    w.field('group_id', opaque, v.groupId);
    w.field('epoch', uint64, v.epoch);
    w.field('sender', senderCodec, v.sender);
    w.field('authenticated_data', opaque, v.authenticatedData);
    w.field('content_type', contentTypeCodec, v.contentType);
    encodeContentBody(w, v);
  },
  (r) => {
    const groupId = r.field('group_id', opaque);
    const epoch = r.field('epoch', uint64);
    const sender = r.field('sender', senderCodec);
    const authenticatedData = r.field('authenticated_data', opaque);
    const contentType = r.field('content_type', contentTypeCodec);
    return { groupId, epoch, sender, authenticatedData, ...decodeContentBody(r, contentType) };
  },
);

/** Whether FramedContentTBS carries the GroupContext, and PublicMessage a membership tag, for this sender. */
function senderIsMember(sender: Sender): boolean {
  return sender.senderType === SenderType.member;
}
function tbsHasContext(sender: Sender): boolean {
  return sender.senderType === SenderType.member || sender.senderType === SenderType.new_member_commit;
}

/**
 * §6.1 FramedContentTBS. `context` is required when the sender is `member` or
 * `new_member_commit` and forbidden otherwise.
 */
export interface FramedContentTBS {
  version: ProtocolVersion;
  wireFormat: WireFormat;
  content: FramedContent;
  context?: GroupContext;
}
export const framedContentTbsCodec = codec<FramedContentTBS>(
  'FramedContentTBS',
  (w, v) => {
    w.field('version', protocolVersionCodec, v.version);
    w.field('wire_format', wireFormatCodec, v.wireFormat);
    w.field('content', framedContentCodec, v.content);
    const needed = tbsHasContext(v.content.sender);
    if (needed !== (v.context !== undefined)) {
      w.fail(`GroupContext ${needed ? 'required' : 'not allowed'} for sender_type ${v.content.sender.senderType}`);
    }
    if (v.context) w.field('context', groupContextCodec, v.context);
  },
  (r) => {
    const version = r.field('version', protocolVersionCodec);
    const wireFormat = r.field('wire_format', wireFormatCodec);
    const content = r.field('content', framedContentCodec);
    if (!tbsHasContext(content.sender)) return { version, wireFormat, content };
    return { version, wireFormat, content, context: r.field('context', groupContextCodec) };
  },
);

/** §6.1 FramedContentAuthData: `confirmationTag` present exactly when the content is a commit. */
export interface FramedContentAuthData {
  signature: Uint8Array;
  confirmationTag?: Uint8Array;
}

export function encodeAuthData(w: TlsWriter, v: FramedContentAuthData, contentType: ContentType): void {
  w.field('signature', opaque, v.signature);
  const isCommit = contentType === ContentType.commit;
  if (isCommit !== (v.confirmationTag !== undefined)) {
    w.fail(`confirmation_tag ${isCommit ? 'required' : 'not allowed'} for content_type ${contentType}`);
  }
  if (v.confirmationTag) w.field('confirmation_tag', macCodec, v.confirmationTag);
}

export function decodeAuthData(r: TlsReader, contentType: ContentType): FramedContentAuthData {
  const signature = r.field('signature', opaque);
  if (contentType !== ContentType.commit) return { signature };
  return { signature, confirmationTag: r.field('confirmation_tag', macCodec) };
}

/** §6 AuthenticatedContent. */
export interface AuthenticatedContent {
  wireFormat: WireFormat;
  content: FramedContent;
  auth: FramedContentAuthData;
}
export const authenticatedContentCodec = codec<AuthenticatedContent>(
  'AuthenticatedContent',
  (w, v) => {
    w.field('wire_format', wireFormatCodec, v.wireFormat);
    w.field('content', framedContentCodec, v.content);
    w.field('auth', (ww, a: FramedContentAuthData) => encodeAuthData(ww, a, v.content.contentType), v.auth);
  },
  (r) => {
    const wireFormat = r.field('wire_format', wireFormatCodec);
    const content = r.field('content', framedContentCodec);
    return { wireFormat, content, auth: r.field('auth', (rr) => decodeAuthData(rr, content.contentType)) };
  },
);

// ---- PublicMessage ----------------------------------------------------------------------------------

/** §6.2 PublicMessage: `membershipTag` present exactly when the sender is a member. */
export interface PublicMessage {
  content: FramedContent;
  auth: FramedContentAuthData;
  membershipTag?: Uint8Array;
}
export const publicMessageCodec = codec<PublicMessage>(
  'PublicMessage',
  (w, v) => {
    w.field('content', framedContentCodec, v.content);
    w.field('auth', (ww, a: FramedContentAuthData) => encodeAuthData(ww, a, v.content.contentType), v.auth);
    const member = senderIsMember(v.content.sender);
    if (member !== (v.membershipTag !== undefined)) {
      w.fail(`membership_tag ${member ? 'required' : 'not allowed'} for sender_type ${v.content.sender.senderType}`);
    }
    if (v.membershipTag) w.field('membership_tag', macCodec, v.membershipTag);
  },
  (r) => {
    const content = r.field('content', framedContentCodec);
    const auth = r.field('auth', (rr) => decodeAuthData(rr, content.contentType));
    if (!senderIsMember(content.sender)) return { content, auth };
    return { content, auth, membershipTag: r.field('membership_tag', macCodec) };
  },
);

// ---- transcript hash inputs (§8.2) ---------------------------------------------------------------------

/** §8.2 ConfirmedTranscriptHashInput: the content must be a commit. */
export interface ConfirmedTranscriptHashInput {
  wireFormat: WireFormat;
  content: FramedContent;
  signature: Uint8Array;
}
export const confirmedTranscriptHashInputCodec = codec<ConfirmedTranscriptHashInput>(
  'ConfirmedTranscriptHashInput',
  (w, v) => {
    w.field('wire_format', wireFormatCodec, v.wireFormat);
    if (v.content.contentType !== ContentType.commit) w.fail(`content_type ${v.content.contentType} is not commit`);
    w.field('content', framedContentCodec, v.content);
    w.field('signature', opaque, v.signature);
  },
  (r) => {
    const wireFormat = r.field('wire_format', wireFormatCodec);
    const at = r.offset;
    const content = r.field('content', framedContentCodec);
    if (content.contentType !== ContentType.commit) r.fail(`content_type ${content.contentType} is not commit`, at);
    return { wireFormat, content, signature: r.field('signature', opaque) };
  },
);

/** §8.2 InterimTranscriptHashInput. */
export interface InterimTranscriptHashInput {
  confirmationTag: Uint8Array;
}
export const interimTranscriptHashInputCodec = codec<InterimTranscriptHashInput>(
  'InterimTranscriptHashInput',
  (w, v) => w.field('confirmation_tag', macCodec, v.confirmationTag),
  (r) => ({ confirmationTag: r.field('confirmation_tag', macCodec) }),
);
