/**
 * The RFC 9420 values MIMI structs embed inline (protocol-06 §5): MLSMessage, KeyPackage, Welcome,
 * GroupInfo, Credential, Capabilities and RequiredCapabilities. They have no length prefix, so the
 * MLS core's own codecs (src/mls/core/structs) find where one ends by decoding it; we keep each as
 * the exact bytes it occupied (a branded Uint8Array), and the MLS layer interprets them.
 */
import { codec, decodeAll, type Codec, type TlsReader, type TlsWriter } from '../../codec/tls-codec';
import {
  capabilitiesCodec as coreCapabilitiesCodec,
  ContentType,
  credentialCodec as coreCredentialCodec,
  groupInfoCodec as coreGroupInfoCodec,
  keyPackageCodec as coreKeyPackageCodec,
  mlsMessageCodec as coreMlsMessageCodec,
  requiredCapabilitiesCodec as coreRequiredCapabilitiesCodec,
  SenderType,
  welcomeCodec as coreWelcomeCodec,
  WireFormat,
  type MLSMessage,
} from '../../mls/core/structs';

declare const mlsBytesBrand: unique symbol;
/** The exact encoding of one RFC 9420 value of kind K, as it appeared on the wire. */
type MlsBytes<K extends string> = Uint8Array & { readonly [mlsBytesBrand]: K };

export type MlsMessageBytes = MlsBytes<'MLSMessage'>;
export type KeyPackageBytes = MlsBytes<'KeyPackage'>;
export type WelcomeBytes = MlsBytes<'Welcome'>;
export type GroupInfoBytes = MlsBytes<'GroupInfo'>;
export type CredentialBytes = MlsBytes<'Credential'>;
export type CapabilitiesBytes = MlsBytes<'Capabilities'>;
export type RequiredCapabilitiesBytes = MlsBytes<'RequiredCapabilities'>;

/** The decoding half of a core codec: all we need of it. */
type CoreDecoder<T = unknown> = Pick<Codec<T>, 'name' | 'decode'>;

type NameOf<T extends Readonly<Record<string, number>>> = keyof T & string;

function namesOf<T extends Readonly<Record<string, number>>>(table: T): ReadonlyMap<number, NameOf<T>> {
  return new Map(Object.entries(table).map(([name, n]) => [n, name as NameOf<T>]));
}
const WIRE_FORMAT_NAME = namesOf(WireFormat);
const CONTENT_TYPE_NAME = namesOf(ContentType);
const SENDER_TYPE_NAME = namesOf(SenderType);

/** What a caller may need to know about an MLSMessage without decrypting or verifying it. */
export interface MlsMessageInfo {
  wireFormat: NameOf<typeof WireFormat>;
  /** For PublicMessage and PrivateMessage only. */
  contentType?: NameOf<typeof ContentType>;
  /** For PublicMessage and PrivateMessage only. */
  groupId?: Uint8Array;
  /** For PublicMessage and PrivateMessage only. */
  epoch?: bigint;
  /** For PublicMessage only (a PrivateMessage's sender is encrypted). */
  senderType?: NameOf<typeof SenderType>;
}

function infoOf(m: MLSMessage): MlsMessageInfo {
  const wireFormat = WIRE_FORMAT_NAME.get(m.wireFormat)!;
  switch (m.wireFormat) {
    case WireFormat.mls_public_message: {
      const c = m.publicMessage.content;
      return {
        wireFormat,
        contentType: CONTENT_TYPE_NAME.get(c.contentType)!,
        groupId: c.groupId,
        epoch: c.epoch,
        senderType: SENDER_TYPE_NAME.get(c.sender.senderType)!,
      };
    }
    case WireFormat.mls_private_message: {
      const p = m.privateMessage;
      return { wireFormat, contentType: CONTENT_TYPE_NAME.get(p.contentType)!, groupId: p.groupId, epoch: p.epoch };
    }
    case WireFormat.mls_welcome:
    case WireFormat.mls_group_info:
    case WireFormat.mls_key_package:
      return { wireFormat };
  }
}

/** `bytes` decoded as exactly one value of `core`; an encoder's failure names its path. */
function exactlyOne<T>(w: TlsWriter, bytes: Uint8Array, core: CoreDecoder<T>): T {
  if (!(bytes instanceof Uint8Array)) return w.fail(`${core.name} must be a Uint8Array`);
  try {
    return decodeAll(bytes, core);
  } catch (e) {
    return w.fail(`bytes are not exactly one ${core.name}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * A codec for one inline MLS value kept as its exact bytes. Decoding reads it with the core's
 * codec; encoding writes the bytes unchanged after checking that they are exactly one such value
 * (so we never send what we could not read back).
 */
function embedded<K extends string>(name: K, core: CoreDecoder): Codec<MlsBytes<K>> {
  return codec<MlsBytes<K>>(
    name,
    (w, v) => {
      exactlyOne(w, v, core);
      w.raw(v);
    },
    (r) => r.span(() => core.decode(r)) as MlsBytes<K>,
  );
}

export const keyPackageCodec = embedded('KeyPackage', coreKeyPackageCodec);
export const welcomeCodec = embedded('Welcome', coreWelcomeCodec);
export const groupInfoCodec = embedded('GroupInfo', coreGroupInfoCodec);
export const credentialCodec = embedded('Credential', coreCredentialCodec);
export const capabilitiesCodec = embedded('Capabilities', coreCapabilitiesCodec);
export const requiredCapabilitiesCodec = embedded('RequiredCapabilities', coreRequiredCapabilitiesCodec);

/** Read one inline MLSMessage: its exact bytes plus what its cleartext header says. */
export function readMlsMessage(r: TlsReader): { bytes: MlsMessageBytes; info: MlsMessageInfo } {
  let message: MLSMessage | undefined;
  const bytes = r.span(() => {
    message = coreMlsMessageCodec.decode(r);
  }) as MlsMessageBytes;
  return { bytes, info: infoOf(message!) };
}

/** inspectMlsMessage for encoders: failures become the writer's CodecError (with its path). */
export function inspectForEncode(w: TlsWriter, bytes: Uint8Array): MlsMessageInfo {
  return infoOf(exactlyOne(w, bytes, coreMlsMessageCodec));
}

/** Wire format, content type, group, epoch and sender type of one MLSMessage (exactly the given bytes). @throws CodecError */
export function inspectMlsMessage(bytes: Uint8Array): MlsMessageInfo {
  return infoOf(decodeAll(bytes, coreMlsMessageCodec));
}

/** e.g. "public_message(commit)", for error messages. */
export function describeMlsMessage(info: MlsMessageInfo): string {
  const wf = info.wireFormat.replace(/^mls_/, '');
  return info.contentType === undefined ? wf : `${wf}(${info.contentType})`;
}

/** A handshake (proposal or commit) in a PublicMessage or PrivateMessage. */
export function isHandshake(info: MlsMessageInfo, contentType?: 'proposal' | 'commit'): boolean {
  if (info.contentType === undefined || info.contentType === 'application') return false;
  return contentType === undefined || info.contentType === contentType;
}

/**
 * An MLSMessage field that the draft restricts to some kinds of message (e.g. "a PrivateMessage
 * containing an application message"). Other kinds are rejected in both directions.
 */
export function mlsMessageWhere(expected: string, accept: (info: MlsMessageInfo) => boolean): Codec<MlsMessageBytes> {
  return codec<MlsMessageBytes>(
    'MLSMessage',
    (w, v) => {
      const info = inspectForEncode(w, v);
      if (!accept(info)) w.fail(`expected ${expected}, got ${describeMlsMessage(info)}`);
      w.raw(v);
    },
    (r) => {
      const at = r.offset;
      const { bytes, info } = readMlsMessage(r);
      if (!accept(info)) r.fail(`expected ${expected}, got ${describeMlsMessage(info)}`, at);
      return bytes;
    },
  );
}

/** A function typing bytes as one value of `core` once it checked they are exactly that (else CodecError). */
function brander<K extends string>(core: CoreDecoder): (bytes: Uint8Array) => MlsBytes<K> {
  return (bytes) => {
    decodeAll(bytes, core);
    return bytes as MlsBytes<K>;
  };
}

/** Bytes (e.g. the MLS layer's `frameMlsMessage` output) checked to be exactly one MLSMessage. @throws CodecError */
export const asMlsMessage = brander<'MLSMessage'>(coreMlsMessageCodec);
/** @throws CodecError */
export const asKeyPackage = brander<'KeyPackage'>(coreKeyPackageCodec);
/** @throws CodecError */
export const asWelcome = brander<'Welcome'>(coreWelcomeCodec);
/** @throws CodecError */
export const asGroupInfo = brander<'GroupInfo'>(coreGroupInfoCodec);
/** @throws CodecError */
export const asCredential = brander<'Credential'>(coreCredentialCodec);
/** @throws CodecError */
export const asCapabilities = brander<'Capabilities'>(coreCapabilitiesCodec);
/** @throws CodecError */
export const asRequiredCapabilities = brander<'RequiredCapabilities'>(coreRequiredCapabilitiesCodec);
