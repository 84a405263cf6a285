/**
 * RFC 9420 §6.3 PrivateMessage and what is encrypted in or authenticated with it:
 * PrivateMessageContent (with its zero padding), SenderData, SenderDataAAD, PrivateContentAAD.
 */
import {
  codec,
  fixedOpaque,
  opaque,
  uint32,
  uint64,
  type Codec,
  type TlsReader,
  type TlsWriter,
} from '../../../codec/tls-codec';
import {
  contentTypeCodec,
  decodeAuthData,
  decodeContentBody,
  encodeAuthData,
  encodeContentBody,
  type ContentBody,
  type ContentType,
  type FramedContentAuthData,
} from './framing';

/** §6.3 PrivateMessage. */
export interface PrivateMessage {
  groupId: Uint8Array;
  epoch: bigint;
  contentType: ContentType;
  authenticatedData: Uint8Array;
  encryptedSenderData: Uint8Array;
  ciphertext: Uint8Array;
}
export const privateMessageCodec = codec<PrivateMessage>(
  'PrivateMessage',
  (w, v) => {
    w.field('group_id', opaque, v.groupId);
    w.field('epoch', uint64, v.epoch);
    w.field('content_type', contentTypeCodec, v.contentType);
    w.field('authenticated_data', opaque, v.authenticatedData);
    w.field('encrypted_sender_data', opaque, v.encryptedSenderData);
    w.field('ciphertext', opaque, v.ciphertext);
  },
  (r) => ({
    groupId: r.field('group_id', opaque),
    epoch: r.field('epoch', uint64),
    contentType: r.field('content_type', contentTypeCodec),
    authenticatedData: r.field('authenticated_data', opaque),
    encryptedSenderData: r.field('encrypted_sender_data', opaque),
    ciphertext: r.field('ciphertext', opaque),
  }),
);

/**
 * §6.3.1 PrivateMessageContent: the body (its type is PrivateMessage.content_type, not encoded),
 * the auth data and `paddingLength` zero bytes. The decoder takes every byte after `auth` as
 * padding and rejects a non-zero one.
 */
export type PrivateMessageContent = ContentBody & { auth: FramedContentAuthData; paddingLength: number };

const contentCodecs = new Map<ContentType, Codec<PrivateMessageContent>>();
/** The PrivateMessageContent codec for a PrivateMessage of `contentType`. */
export function privateMessageContentCodec(contentType: ContentType): Codec<PrivateMessageContent> {
  let c = contentCodecs.get(contentType);
  if (!c) {
    c = codec<PrivateMessageContent>(
      'PrivateMessageContent',
      (w, v) => {
        if (v.contentType !== contentType) {
          w.fail(`content_type ${v.contentType} in a PrivateMessage of type ${contentType}`);
        }
        encodeContentBody(w, v);
        w.field('auth', (ww, a: FramedContentAuthData) => encodeAuthData(ww, a, contentType), v.auth);
        if (!Number.isInteger(v.paddingLength) || v.paddingLength < 0) w.fail(`bad padding length ${v.paddingLength}`);
        w.raw(new Uint8Array(v.paddingLength));
      },
      (r) => {
        const body = decodeContentBody(r, contentType);
        const auth = r.field('auth', (rr) => decodeAuthData(rr, contentType));
        const at = r.offset;
        const padding = r.field('padding', (rr) => rr.fixed(rr.remaining));
        const bad = padding.findIndex((b) => b !== 0);
        if (bad >= 0) r.fail(`non-zero padding byte`, at + bad);
        return { ...body, auth, paddingLength: padding.length };
      },
    );
    contentCodecs.set(contentType, c);
  }
  return c;
}

/** §6.3.2 SenderData. */
export interface SenderData {
  leafIndex: number;
  generation: number;
  reuseGuard: Uint8Array;
}
const reuseGuardCodec = fixedOpaque(4);
export const senderDataCodec = codec<SenderData>(
  'SenderData',
  (w, v) => {
    w.field('leaf_index', uint32, v.leafIndex);
    w.field('generation', uint32, v.generation);
    w.field('reuse_guard', reuseGuardCodec, v.reuseGuard);
  },
  (r) => ({
    leafIndex: r.field('leaf_index', uint32),
    generation: r.field('generation', uint32),
    reuseGuard: r.field('reuse_guard', reuseGuardCodec),
  }),
);

/** §6.3.2 SenderDataAAD. */
export interface SenderDataAAD {
  groupId: Uint8Array;
  epoch: bigint;
  contentType: ContentType;
}
function encodeSenderDataAad(w: TlsWriter, v: SenderDataAAD): void {
  w.field('group_id', opaque, v.groupId);
  w.field('epoch', uint64, v.epoch);
  w.field('content_type', contentTypeCodec, v.contentType);
}
function decodeSenderDataAad(r: TlsReader): SenderDataAAD {
  return {
    groupId: r.field('group_id', opaque),
    epoch: r.field('epoch', uint64),
    contentType: r.field('content_type', contentTypeCodec),
  };
}
export const senderDataAadCodec = codec<SenderDataAAD>('SenderDataAAD', encodeSenderDataAad, decodeSenderDataAad);

/** §6.3.1 PrivateContentAAD. */
export interface PrivateContentAAD extends SenderDataAAD {
  authenticatedData: Uint8Array;
}
export const privateContentAadCodec = codec<PrivateContentAAD>(
  'PrivateContentAAD',
  (w, v) => {
    encodeSenderDataAad(w, v);
    w.field('authenticated_data', opaque, v.authenticatedData);
  },
  (r) => ({ ...decodeSenderDataAad(r), authenticatedData: r.field('authenticated_data', opaque) }),
);
