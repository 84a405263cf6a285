/**
 * Delimiting RFC 9420 structures that MIMI embeds without a length prefix.
 *
 * The MIMI structs (protocol-06 §5) place MLSMessage, KeyPackage, Welcome, GroupInfo,
 * Credential, Capabilities and friends inline, so the only way to find where one ends is to
 * walk its structure. We keep each one as the exact bytes it occupied (a branded Uint8Array);
 * the MLS layer interprets them.
 *
 * The walkers below follow RFC 9420 §6 and draft-ietf-mls-extensions-09 (AppDataUpdate,
 * SelfRemove, ...), and skip every length-prefixed part without looking inside it (a Commit's
 * proposal list is one `<V>` vector, so unknown proposal types inside Commits are harmless).
 * They were written when the MLS layer was ts-mls, which mis-delimited the extensions
 * proposals; src/mls/core decodes the same bytes now, and the tests check the two agree on
 * bytes produced by src/mls/core.
 */
import { CodecError } from '../../common/errors';
import { TlsReader, codec, type Codec, type TlsWriter } from '../../codec/tls-codec';

declare const mlsBytesBrand: unique symbol;
/** The exact encoding of one RFC 9420 value of kind K, as it appeared on the wire. */
export type MlsBytes<K extends string> = Uint8Array & { readonly [mlsBytesBrand]: K };

export type MlsMessageBytes = MlsBytes<'MLSMessage'>;
export type KeyPackageBytes = MlsBytes<'KeyPackage'>;
export type WelcomeBytes = MlsBytes<'Welcome'>;
export type GroupInfoBytes = MlsBytes<'GroupInfo'>;
export type CredentialBytes = MlsBytes<'Credential'>;
export type CapabilitiesBytes = MlsBytes<'Capabilities'>;
export type RequiredCapabilitiesBytes = MlsBytes<'RequiredCapabilities'>;

/** RFC 9420 §6: WireFormat values (IANA "MLS Wire Formats"). */
const WireFormat = {
  mls_public_message: 1,
  mls_private_message: 2,
  mls_welcome: 3,
  mls_group_info: 4,
  mls_key_package: 5,
} as const;
type WireFormat = keyof typeof WireFormat;

/** RFC 9420 §6: ContentType. */
const ContentType = { application: 1, proposal: 2, commit: 3 } as const;
type ContentType = keyof typeof ContentType;

/** RFC 9420 §6: SenderType. */
const SenderType = { member: 1, external: 2, new_member_proposal: 3, new_member_commit: 4 } as const;
type SenderType = keyof typeof SenderType;

/** What a caller may need to know about an MLSMessage without decrypting or verifying it. */
export interface MlsMessageInfo {
  wireFormat: WireFormat;
  /** For PublicMessage and PrivateMessage only. */
  contentType?: ContentType;
  /** For PublicMessage and PrivateMessage only. */
  groupId?: Uint8Array;
  /** For PublicMessage and PrivateMessage only. */
  epoch?: bigint;
  /** For PublicMessage only (a PrivateMessage's sender is encrypted). */
  senderType?: SenderType;
}

const MLS10 = 1;

/** RFC 9420 §5.3 / §17.4 credential types, plus multi (0x0003) and weak-multi (0x0004) of mls-extensions-09 §7. */
const CREDENTIAL_BASIC = 1;
const CREDENTIAL_X509 = 2;
const CREDENTIAL_MULTI = 3;
const CREDENTIAL_WEAK_MULTI = 4;

/** RFC 9420 §12.1 proposal types; 0x0008-0x000b are the values mls-extensions-09 §9 suggests. */
const PROPOSAL_ADD = 1;
const PROPOSAL_UPDATE = 2;
const PROPOSAL_REMOVE = 3;
const PROPOSAL_PSK = 4;
const PROPOSAL_REINIT = 5;
const PROPOSAL_EXTERNAL_INIT = 6;
const PROPOSAL_GROUP_CONTEXT_EXTENSIONS = 7;
const PROPOSAL_APP_DATA_UPDATE = 8;
const PROPOSAL_APP_EPHEMERAL = 9;
const PROPOSAL_SELF_REMOVE = 0x0a;
const PROPOSAL_APP_ACK = 0x0b;

function hex16(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}

function skipOpaque(r: TlsReader, name: string): void {
  r.field(name, (rr) => rr.skip(rr.vectorLength()));
}

/** A vector of 16-bit values (capability lists): its length must be even. */
function skipUint16List(r: TlsReader, name: string): void {
  r.field(name, (rr) => {
    const at = rr.offset;
    const len = rr.vectorLength();
    if (len % 2 !== 0) rr.fail(`list of uint16 has odd length ${len}`, at);
    rr.skip(len);
  });
}

function protocolVersion(r: TlsReader): void {
  r.field('version', (rr) => {
    const at = rr.offset;
    const v = rr.uint16();
    if (v !== MLS10) rr.fail(`unsupported MLS ProtocolVersion ${v}`, at);
  });
}

/** RFC 9420 §7.2: `Extension extensions<V>`, each `uint16 extension_type; opaque extension_data<V>`. */
function skipExtensions(r: TlsReader, name: string): void {
  r.field(name, (rr) =>
    rr.vector((ri) => {
      ri.field('extension_type', (x) => x.uint16());
      skipOpaque(ri, 'extension_data');
    }),
  );
}

/** RFC 9420 §5.3 Credential. Unknown credential types cannot be delimited and are rejected. */
function skipCredential(r: TlsReader): void {
  const at = r.offset;
  const type = r.field('credential_type', (rr) => rr.uint16());
  switch (type) {
    case CREDENTIAL_BASIC:
      skipOpaque(r, 'identity');
      return;
    case CREDENTIAL_X509:
      r.field('certificates', (rr) => rr.vector((ri) => skipOpaque(ri, 'cert_data')));
      return;
    case CREDENTIAL_MULTI:
    case CREDENTIAL_WEAK_MULTI:
      // mls-extensions-09 §7: `CredentialBinding bindings<V>`; one vector, so it delimits itself.
      skipOpaque(r, 'bindings');
      return;
    default:
      r.fail(`cannot delimit Credential of unknown credential_type ${hex16(type)}`, at);
  }
}

/** RFC 9420 §7.2 Capabilities: five vectors of uint16. */
function skipCapabilities(r: TlsReader): void {
  for (const name of ['versions', 'cipher_suites', 'extensions', 'proposals', 'credentials']) skipUint16List(r, name);
}

/** RFC 9420 §11.1 RequiredCapabilities: three vectors of uint16. */
function skipRequiredCapabilities(r: TlsReader): void {
  for (const name of ['extension_types', 'proposal_types', 'credential_types']) skipUint16List(r, name);
}

/** RFC 9420 §7.2 LeafNode. */
function skipLeafNode(r: TlsReader): void {
  skipOpaque(r, 'encryption_key');
  skipOpaque(r, 'signature_key');
  r.field('credential', skipCredential);
  r.field('capabilities', skipCapabilities);
  const at = r.offset;
  const source = r.field('leaf_node_source', (rr) => rr.uint8());
  switch (source) {
    case 1: // key_package: Lifetime lifetime
      r.field('lifetime', (rr) => rr.skip(16));
      break;
    case 2: // update
      break;
    case 3: // commit
      skipOpaque(r, 'parent_hash');
      break;
    default:
      r.fail(`unknown LeafNodeSource ${source}`, at);
  }
  skipExtensions(r, 'extensions');
  skipOpaque(r, 'signature');
}

/** RFC 9420 §10 KeyPackage. */
function skipKeyPackage(r: TlsReader): void {
  protocolVersion(r);
  r.field('cipher_suite', (rr) => rr.uint16());
  skipOpaque(r, 'init_key');
  r.field('leaf_node', skipLeafNode);
  skipExtensions(r, 'extensions');
  skipOpaque(r, 'signature');
}

/** RFC 9420 §12.4.3 GroupInfo (with its GroupContext, §8.1). */
function skipGroupInfo(r: TlsReader): void {
  r.field('group_context', (rr) => {
    protocolVersion(rr);
    rr.field('cipher_suite', (x) => x.uint16());
    skipOpaque(rr, 'group_id');
    rr.field('epoch', (x) => x.uint64());
    skipOpaque(rr, 'tree_hash');
    skipOpaque(rr, 'confirmed_transcript_hash');
    skipExtensions(rr, 'extensions');
  });
  skipExtensions(r, 'extensions');
  skipOpaque(r, 'confirmation_tag');
  r.field('signer', (rr) => rr.uint32());
  skipOpaque(r, 'signature');
}

/** RFC 9420 §12.4.3.1 Welcome. */
function skipWelcome(r: TlsReader): void {
  r.field('cipher_suite', (rr) => rr.uint16());
  r.field('secrets', (rr) =>
    rr.vector((ri) => {
      skipOpaque(ri, 'new_member');
      skipOpaque(ri, 'kem_output');
      skipOpaque(ri, 'ciphertext');
    }),
  );
  skipOpaque(r, 'encrypted_group_info');
}

/** RFC 9420 §8.4 PreSharedKeyID. */
function skipPreSharedKeyId(r: TlsReader): void {
  const at = r.offset;
  const type = r.field('psktype', (rr) => rr.uint8());
  if (type === 1) {
    skipOpaque(r, 'psk_id');
  } else if (type === 2) {
    r.field('usage', (rr) => rr.uint8());
    skipOpaque(r, 'psk_group_id');
    r.field('psk_epoch', (rr) => rr.uint64());
  } else {
    r.fail(`unknown PSKType ${type}`, at);
  }
  skipOpaque(r, 'psk_nonce');
}

/** RFC 9420 §12.1 Proposal, plus the mls-extensions-09 proposal types. */
function skipProposal(r: TlsReader): void {
  const at = r.offset;
  const type = r.field('proposal_type', (rr) => rr.uint16());
  switch (type) {
    case PROPOSAL_ADD:
      r.field('key_package', skipKeyPackage);
      return;
    case PROPOSAL_UPDATE:
      r.field('leaf_node', skipLeafNode);
      return;
    case PROPOSAL_REMOVE:
      r.field('removed', (rr) => rr.uint32());
      return;
    case PROPOSAL_PSK:
      r.field('psk', skipPreSharedKeyId);
      return;
    case PROPOSAL_REINIT:
      skipOpaque(r, 'group_id');
      protocolVersion(r);
      r.field('cipher_suite', (rr) => rr.uint16());
      skipExtensions(r, 'extensions');
      return;
    case PROPOSAL_EXTERNAL_INIT:
      skipOpaque(r, 'kem_output');
      return;
    case PROPOSAL_GROUP_CONTEXT_EXTENSIONS:
      skipExtensions(r, 'extensions');
      return;
    case PROPOSAL_APP_DATA_UPDATE: {
      // mls-extensions-09 §4.7: ComponentID component_id; AppDataUpdateOperation op; select (op)
      r.field('component_id', (rr) => rr.uint16());
      const opAt = r.offset;
      const op = r.field('op', (rr) => rr.uint8());
      if (op === 1) skipOpaque(r, 'update');
      else if (op !== 2) r.fail(`invalid AppDataUpdateOperation ${op}`, opAt);
      return;
    }
    case PROPOSAL_APP_EPHEMERAL:
      r.field('component_id', (rr) => rr.uint16());
      skipOpaque(r, 'data');
      return;
    case PROPOSAL_SELF_REMOVE:
      return; // struct {} SelfRemove;
    case PROPOSAL_APP_ACK:
      skipOpaque(r, 'received_ranges');
      return;
    default:
      r.fail(`cannot delimit Proposal of unknown proposal_type ${hex16(type)}`, at);
  }
}

/** RFC 9420 §12.4 Commit. The proposal list is one vector, so its entries need no walking. */
function skipCommit(r: TlsReader): void {
  skipOpaque(r, 'proposals');
  r.field('path', (rr) =>
    rr.optional((ri) => {
      ri.field('leaf_node', skipLeafNode);
      skipOpaque(ri, 'nodes');
    }),
  );
}

function contentTypeName(r: TlsReader, at: number, n: number): ContentType {
  switch (n) {
    case ContentType.application:
      return 'application';
    case ContentType.proposal:
      return 'proposal';
    case ContentType.commit:
      return 'commit';
    default:
      return r.fail(`unknown ContentType ${n}`, at);
  }
}

function readSenderType(r: TlsReader): SenderType {
  const at = r.offset;
  const t = r.field('sender_type', (x) => x.uint8());
  switch (t) {
    case SenderType.member:
      r.field('leaf_index', (x) => x.uint32());
      return 'member';
    case SenderType.external:
      r.field('sender_index', (x) => x.uint32());
      return 'external';
    case SenderType.new_member_proposal:
      return 'new_member_proposal';
    case SenderType.new_member_commit:
      return 'new_member_commit';
    default:
      return r.fail(`unknown SenderType ${t}`, at);
  }
}

/** RFC 9420 §6.1 FramedContent; fills in group, epoch, sender type and content type. */
function skipFramedContent(r: TlsReader, info: MlsMessageInfo): ContentType {
  info.groupId = r.field('group_id', (x) => x.opaque());
  info.epoch = r.field('epoch', (x) => x.uint64());
  info.senderType = r.field('sender', readSenderType);
  skipOpaque(r, 'authenticated_data');
  const at = r.offset;
  const contentType = contentTypeName(
    r,
    at,
    r.field('content_type', (x) => x.uint8()),
  );
  switch (contentType) {
    case 'application':
      skipOpaque(r, 'application_data');
      break;
    case 'proposal':
      r.field('proposal', skipProposal);
      break;
    case 'commit':
      r.field('commit', skipCommit);
      break;
  }
  info.contentType = contentType;
  return contentType;
}

/** RFC 9420 §6.2 PublicMessage. */
function skipPublicMessage(r: TlsReader, info: MlsMessageInfo): void {
  const contentType = r.field('content', (rr) => skipFramedContent(rr, info));
  r.field('auth', (rr) => {
    skipOpaque(rr, 'signature');
    if (contentType === 'commit') skipOpaque(rr, 'confirmation_tag');
  });
  if (info.senderType === 'member') skipOpaque(r, 'membership_tag');
}

/** RFC 9420 §6.3 PrivateMessage. */
function skipPrivateMessage(r: TlsReader, info: MlsMessageInfo): void {
  info.groupId = r.field('group_id', (x) => x.opaque());
  info.epoch = r.field('epoch', (x) => x.uint64());
  const at = r.offset;
  info.contentType = contentTypeName(
    r,
    at,
    r.field('content_type', (x) => x.uint8()),
  );
  skipOpaque(r, 'authenticated_data');
  skipOpaque(r, 'encrypted_sender_data');
  skipOpaque(r, 'ciphertext');
}

/**
 * RFC 9420 §6 MLSMessage. SemiPrivateMessage (draft-mahy-mls-semiprivatemessage, which MIMI
 * allows for handshakes) has no assigned wire format yet and is rejected like any unknown one.
 */
function skipMlsMessage(r: TlsReader): MlsMessageInfo {
  protocolVersion(r);
  const at = r.offset;
  const wf = r.field('wire_format', (x) => x.uint16());
  switch (wf) {
    case WireFormat.mls_public_message: {
      const info: MlsMessageInfo = { wireFormat: 'mls_public_message' };
      r.field('public_message', (rr) => skipPublicMessage(rr, info));
      return info;
    }
    case WireFormat.mls_private_message: {
      const info: MlsMessageInfo = { wireFormat: 'mls_private_message' };
      r.field('private_message', (rr) => skipPrivateMessage(rr, info));
      return info;
    }
    case WireFormat.mls_welcome:
      r.field('welcome', skipWelcome);
      return { wireFormat: 'mls_welcome' };
    case WireFormat.mls_group_info:
      r.field('group_info', skipGroupInfo);
      return { wireFormat: 'mls_group_info' };
    case WireFormat.mls_key_package:
      r.field('key_package', skipKeyPackage);
      return { wireFormat: 'mls_key_package' };
    default:
      return r.fail(`unsupported MLS wire_format ${hex16(wf)}`, at);
  }
}

/**
 * A codec for one inline MLS structure kept as its exact bytes. Decoding walks the structure
 * to find its end; encoding writes the bytes unchanged after checking that they are exactly
 * one such structure (so we never send what we could not read back).
 */
function mlsBytesCodec<K extends string>(name: K, skip: (r: TlsReader) => unknown): Codec<MlsBytes<K>> {
  return codec<MlsBytes<K>>(
    name,
    (w, v) => {
      if (!(v instanceof Uint8Array)) w.fail(`${name} must be a Uint8Array`);
      try {
        measure(v, name, skip);
      } catch (e) {
        w.fail(`bytes are not exactly one ${name}: ${e instanceof Error ? e.message : String(e)}`);
      }
      w.raw(v);
    },
    (r) => r.span(() => skip(r)) as MlsBytes<K>,
  );
}

function measure(bytes: Uint8Array, name: string, skip: (r: TlsReader) => unknown): unknown {
  const r = new TlsReader(bytes, name);
  const result = skip(r);
  if (r.remaining !== 0) r.fail(`${r.remaining} trailing bytes after ${name}`);
  return result;
}

export const mlsMessageCodec = mlsBytesCodec('MLSMessage', skipMlsMessage);

/** Read one inline MLSMessage: its exact bytes plus what its cleartext header says. */
export function readMlsMessage(r: TlsReader): { bytes: MlsMessageBytes; info: MlsMessageInfo } {
  let info: MlsMessageInfo | undefined;
  const bytes = r.span(() => {
    info = skipMlsMessage(r);
  }) as MlsMessageBytes;
  return { bytes, info: info! };
}
export const keyPackageCodec = mlsBytesCodec('KeyPackage', skipKeyPackage);
export const welcomeCodec = mlsBytesCodec('Welcome', skipWelcome);
export const groupInfoCodec = mlsBytesCodec('GroupInfo', skipGroupInfo);
export const credentialCodec = mlsBytesCodec('Credential', skipCredential);
export const capabilitiesCodec = mlsBytesCodec('Capabilities', skipCapabilities);
export const requiredCapabilitiesCodec = mlsBytesCodec('RequiredCapabilities', skipRequiredCapabilities);

/** e.g. "PublicMessage(commit)", for error messages. */
export function describeMlsMessage(info: MlsMessageInfo): string {
  const wf = info.wireFormat.replace(/^mls_/, '');
  return info.contentType === undefined ? wf : `${wf}(${info.contentType})`;
}

/** A handshake (proposal or commit) in a PublicMessage or PrivateMessage. */
export function isHandshake(info: MlsMessageInfo, contentType?: 'proposal' | 'commit'): boolean {
  const framed = info.wireFormat === 'mls_public_message' || info.wireFormat === 'mls_private_message';
  if (!framed || info.contentType === undefined || info.contentType === 'application') return false;
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

/** inspectMlsMessage for encoders: failures become the writer's CodecError (with its path). */
export function inspectForEncode(w: TlsWriter, v: Uint8Array): MlsMessageInfo {
  if (!(v instanceof Uint8Array)) return w.fail('MLSMessage must be a Uint8Array');
  try {
    return inspectMlsMessage(v);
  } catch (e) {
    return w.fail(`bytes are not exactly one MLSMessage: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Wire format, content type, group and epoch of one MLSMessage (exactly the given bytes). */
export function inspectMlsMessage(bytes: Uint8Array): MlsMessageInfo {
  return measure(bytes, 'MLSMessage', skipMlsMessage) as MlsMessageInfo;
}

function brand<K extends string>(bytes: Uint8Array, name: K, skip: (r: TlsReader) => unknown): MlsBytes<K> {
  if (!(bytes instanceof Uint8Array)) throw new CodecError(`${name}: input is not a Uint8Array`);
  measure(bytes, name, skip);
  return bytes as MlsBytes<K>;
}

/**
 * Check that bytes (e.g. an MLS core `encodeMlsMessage` output) are exactly one MLSMessage and type
 * them as such. @throws CodecError
 */
export function asMlsMessage(bytes: Uint8Array): MlsMessageBytes {
  return brand(bytes, 'MLSMessage', skipMlsMessage);
}
/** @throws CodecError */
export function asKeyPackage(bytes: Uint8Array): KeyPackageBytes {
  return brand(bytes, 'KeyPackage', skipKeyPackage);
}
/** @throws CodecError */
export function asWelcome(bytes: Uint8Array): WelcomeBytes {
  return brand(bytes, 'Welcome', skipWelcome);
}
/** @throws CodecError */
export function asGroupInfo(bytes: Uint8Array): GroupInfoBytes {
  return brand(bytes, 'GroupInfo', skipGroupInfo);
}
/** @throws CodecError */
export function asCredential(bytes: Uint8Array): CredentialBytes {
  return brand(bytes, 'Credential', skipCredential);
}
/** @throws CodecError */
export function asCapabilities(bytes: Uint8Array): CapabilitiesBytes {
  return brand(bytes, 'Capabilities', skipCapabilities);
}
/** @throws CodecError */
export function asRequiredCapabilities(bytes: Uint8Array): RequiredCapabilitiesBytes {
  return brand(bytes, 'RequiredCapabilities', skipRequiredCapabilities);
}
