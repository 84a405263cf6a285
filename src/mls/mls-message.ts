/**
 * MLS wire objects as bytes, and the hub's view of them WITHOUT group secrets, on `./core`.
 *
 * Framing conventions (protocol-06 §5): fields typed `MLSMessage` (commits, proposals, application
 * messages) carry the RFC 9420 §6 `MLSMessage` framing; fields typed `KeyPackage`, `Welcome`,
 * `GroupInfo` or `Node ratchet_tree<V>` carry the bare struct. Every decoder insists on consuming
 * the whole input.
 */
import { ValidationError } from '../common/errors';
import { type RoomUri, type UserUri, parseMimiUri } from '../common/ids';
import { decodeAll, encodeValue } from '../codec/tls-codec';
import { decodeMlsMessage, encodeMlsMessage } from './core/framing';
import { decodeKeyPackage } from './core/key-package';
import {
  ContentType,
  SenderType,
  WireFormat,
  externalSendersExtension,
  findExtension,
  groupInfoCodec,
  keyPackageCodec,
  welcomeCodec,
  type GroupInfo,
  type KeyPackage,
  type MLSMessage,
  type Welcome,
} from './core/structs';
import { userOfCredential } from './gateway/identities';
import { MlsErrorReason, MlsGroupError } from './mls.errors';

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** The MLS group ID of a MIMI room: the UTF-8 of its group URI (`mimi://d/r/x` → `mimi://d/g/x`, protocol-06 §3). */
export function groupIdForRoom(room: RoomUri): Uint8Array {
  const parsed = parseMimiUri(room);
  if (parsed?.kind !== 'r') throw new ValidationError(`not a MIMI room URI: ${room}`);
  return utf8.encode(`mimi://${parsed.domain}/g/${parsed.local}`);
}

/** The room URI a group ID was derived from, or `undefined` for any other group ID. */
export function roomUriForGroupId(groupId: Uint8Array): RoomUri | undefined {
  let text: string;
  try {
    text = utf8Strict.decode(groupId);
  } catch {
    return undefined;
  }
  const parsed = parseMimiUri(text);
  return parsed?.kind === 'g' ? (`mimi://${parsed.domain}/r/${parsed.local}` as RoomUri) : undefined;
}

function malformed<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw new MlsGroupError(MlsErrorReason.Malformed, `${what}: cannot decode (${(e as Error).message})`, { cause: e });
  }
}

/** Decode RFC 9420 §6 `MLSMessage` bytes. @throws MlsGroupError(Malformed) */
function decodeMlsMessageBytes(bytes: Uint8Array): MLSMessage {
  return malformed('MLSMessage', () => decodeMlsMessage(bytes));
}

/** @throws MlsGroupError(Malformed) */
const keyPackageFromBytes = (b: Uint8Array): KeyPackage => malformed('KeyPackage', () => decodeKeyPackage(b));
/** @throws MlsGroupError(Malformed) */
export const welcomeFromBytes = (b: Uint8Array): Welcome => malformed('Welcome', () => decodeAll(b, welcomeCodec));
/** @throws MlsGroupError(Malformed) */
export const groupInfoFromBytes = (b: Uint8Array): GroupInfo =>
  malformed('GroupInfo', () => decodeAll(b, groupInfoCodec));

/** The MIMI user a KeyPackage's credential names (bare or MLSMessage KeyPackage). */
export function keyPackageUser(bytes: Uint8Array): UserUri | undefined {
  return userOfCredential(keyPackageFromBytes(bytes).leafNode.credential);
}

/**
 * The signature keys of the `external_senders` of the group a GroupInfo (bare or MLSMessage)
 * describes: whom the group accepts as its hub (protocol-06 §7.4).
 * @throws MlsGroupError(Malformed) when the GroupInfo does not decode
 */
export function externalSenderKeys(groupInfo: Uint8Array): Uint8Array[] {
  const info = groupInfoOf(groupInfo);
  return (findExtension(info.groupContext.extensions, externalSendersExtension) ?? []).map((s) => s.signatureKey);
}

function groupInfoOf(bytes: Uint8Array): GroupInfo {
  try {
    const m = decodeMlsMessage(bytes);
    if (m.wireFormat === WireFormat.mls_group_info) return m.groupInfo;
  } catch {
    // a bare GroupInfo
  }
  return groupInfoFromBytes(bytes);
}

/**
 * Wrap a bare Welcome, GroupInfo or KeyPackage in RFC 9420 §6 `MLSMessage` framing, for protocol
 * fields typed `MLSMessage` (e.g. a Welcome in protocol-06 §5.5 `FanoutMessage.message`). Bytes
 * that already are such an MLSMessage are returned as they are.
 * @throws MlsGroupError(Malformed) when `bytes` is not that struct.
 */
export function frameMlsMessage(
  wireFormat: 'mls_welcome' | 'mls_group_info' | 'mls_key_package',
  bytes: Uint8Array,
): Uint8Array {
  const wanted = WireFormat[wireFormat];
  try {
    if (decodeMlsMessage(bytes).wireFormat === wanted) return bytes;
  } catch {
    // bare
  }
  switch (wireFormat) {
    case 'mls_welcome':
      return encodeMlsMessage({ wireFormat: WireFormat.mls_welcome, welcome: welcomeFromBytes(bytes) });
    case 'mls_group_info':
      return encodeMlsMessage({ wireFormat: WireFormat.mls_group_info, groupInfo: groupInfoFromBytes(bytes) });
    case 'mls_key_package':
      return encodeMlsMessage({ wireFormat: WireFormat.mls_key_package, keyPackage: keyPackageFromBytes(bytes) });
  }
}

/** The bare struct inside an MLSMessage Welcome / GroupInfo / KeyPackage (bare bytes are returned as they are). */
export function unframeMlsMessage(bytes: Uint8Array): Uint8Array {
  let m: MLSMessage;
  try {
    m = decodeMlsMessage(bytes);
  } catch {
    return bytes;
  }
  switch (m.wireFormat) {
    case WireFormat.mls_welcome:
      return encodeValue(m.welcome, welcomeCodec);
    case WireFormat.mls_group_info:
      return encodeValue(m.groupInfo, groupInfoCodec);
    case WireFormat.mls_key_package:
      return encodeValue(m.keyPackage, keyPackageCodec);
    case WireFormat.mls_public_message:
    case WireFormat.mls_private_message:
      return bytes;
  }
}

type MlsWireFormat = keyof typeof WireFormat;
type MlsContentType = keyof typeof ContentType;

/** Who sent a handshake message, as far as a PublicMessage says in the clear (RFC 9420 §6.1). */
type MlsSender =
  | { readonly type: 'member'; readonly leafIndex: number }
  | { readonly type: 'external'; readonly senderIndex: number }
  | { readonly type: 'new_member_proposal' }
  | { readonly type: 'new_member_commit' };

/**
 * What a server can read from an MLSMessage without any group secret.
 * - PrivateMessage: group ID, epoch, content type (RFC 9420 §6.3); the sender is encrypted.
 * - PublicMessage: the same plus the sender.
 * - Welcome: the KeyPackageRefs of the joiners, used to route it (protocol-06 §5.5).
 * - GroupInfo: group ID and epoch from its GroupContext. KeyPackage: neither.
 */
export interface MlsMessageHeader {
  readonly wireFormat: MlsWireFormat;
  readonly groupId?: Uint8Array;
  readonly epoch?: bigint;
  readonly contentType?: MlsContentType;
  readonly sender?: MlsSender;
  readonly keyPackageRefs?: readonly Uint8Array[];
  /** The decoded message, for callers that need more than the header. */
  readonly message: MLSMessage;
}

const CONTENT_TYPE_NAME: Record<number, MlsContentType> = { 1: 'application', 2: 'proposal', 3: 'commit' };

/** Read the public header of MLSMessage bytes. @throws MlsGroupError(Malformed) */
export function inspectMlsMessage(bytes: Uint8Array): MlsMessageHeader {
  const message = decodeMlsMessageBytes(bytes);
  switch (message.wireFormat) {
    case WireFormat.mls_private_message: {
      const pm = message.privateMessage;
      return {
        wireFormat: 'mls_private_message',
        groupId: pm.groupId,
        epoch: pm.epoch,
        contentType: CONTENT_TYPE_NAME[pm.contentType]!,
        message,
      };
    }
    case WireFormat.mls_public_message: {
      const c = message.publicMessage.content;
      const s = c.sender;
      const sender: MlsSender =
        s.senderType === SenderType.member
          ? { type: 'member', leafIndex: s.leafIndex }
          : s.senderType === SenderType.external
            ? { type: 'external', senderIndex: s.senderIndex }
            : { type: s.senderType === SenderType.new_member_commit ? 'new_member_commit' : 'new_member_proposal' };
      return {
        wireFormat: 'mls_public_message',
        groupId: c.groupId,
        epoch: c.epoch,
        contentType: CONTENT_TYPE_NAME[c.contentType]!,
        sender,
        message,
      };
    }
    case WireFormat.mls_welcome:
      return { wireFormat: 'mls_welcome', keyPackageRefs: message.welcome.secrets.map((s) => s.newMember), message };
    case WireFormat.mls_group_info: {
      const gc = message.groupInfo.groupContext;
      return { wireFormat: 'mls_group_info', groupId: gc.groupId, epoch: gc.epoch, message };
    }
    case WireFormat.mls_key_package:
      return { wireFormat: 'mls_key_package', message };
  }
}

/** The hub's verdict on a message's group and epoch (protocol-06 §5.3, §5.4). */
export enum EpochVerdict {
  Ok = 'ok',
  /** A commit or proposal not for the current epoch: `/update` answers `wrongEpoch` + `currentEpoch`. */
  WrongEpoch = 'wrongEpoch',
  /** An application message from an earlier epoch: `/submitMessage` answers `epochTooOld` + `currentEpoch`. */
  EpochTooOld = 'epochTooOld',
  /** Nonsense for this room: another group, an epoch ahead of the hub, or no epoch at all. `notAllowed`. */
  NotAllowed = 'notAllowed',
}

export interface EpochCheck {
  readonly verdict: EpochVerdict;
  readonly currentEpoch: bigint;
  /** Human-readable reason for logs and `errorDescription`. */
  readonly reason: string;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Check a message against the hub's view of the room's group (ID and current epoch). Pure: the
 * hub calls it before any policy check, and advances its epoch only when it accepts a commit.
 */
export function checkEpoch(header: MlsMessageHeader, group: { groupId: Uint8Array; epoch: bigint }): EpochCheck {
  const current = group.epoch;
  const verdict = (v: EpochVerdict, reason: string): EpochCheck => ({ verdict: v, currentEpoch: current, reason });
  if (header.groupId === undefined || header.epoch === undefined || header.contentType === undefined) {
    return verdict(EpochVerdict.NotAllowed, `a ${header.wireFormat} is not a group message`);
  }
  if (!sameBytes(header.groupId, group.groupId)) {
    return verdict(EpochVerdict.NotAllowed, `message is for group ${hex(header.groupId)}, not this room's group`);
  }
  const epoch = header.epoch;
  if (header.contentType === 'application') {
    // protocol-06 §5.4: application messages are PrivateMessages; RFC 9420 §6.2 forbids them in a PublicMessage.
    if (header.wireFormat !== 'mls_private_message') {
      return verdict(EpochVerdict.NotAllowed, 'application data must be a PrivateMessage');
    }
    if (epoch < current) {
      return verdict(EpochVerdict.EpochTooOld, `application message from epoch ${epoch}, the room is at ${current}`);
    }
    if (epoch > current) {
      return verdict(
        EpochVerdict.NotAllowed,
        `application message from epoch ${epoch}, ahead of the room's ${current}`,
      );
    }
    return verdict(EpochVerdict.Ok, 'current epoch');
  }
  if (epoch !== current) {
    return verdict(EpochVerdict.WrongEpoch, `${header.contentType} for epoch ${epoch}, the room is at ${current}`);
  }
  return verdict(EpochVerdict.Ok, 'current epoch');
}

/** `MlsGroupError` for a failed `EpochCheck` (for callers that prefer exceptions). */
export function epochCheckError(check: EpochCheck, messageEpoch?: bigint): MlsGroupError | undefined {
  const opts = { currentEpoch: check.currentEpoch, messageEpoch };
  switch (check.verdict) {
    case EpochVerdict.Ok:
      return undefined;
    case EpochVerdict.WrongEpoch:
      return new MlsGroupError(MlsErrorReason.WrongEpoch, check.reason, opts);
    case EpochVerdict.EpochTooOld:
      return new MlsGroupError(MlsErrorReason.EpochTooOld, check.reason, opts);
    case EpochVerdict.NotAllowed:
      return new MlsGroupError(MlsErrorReason.NotAllowed, check.reason, opts);
  }
}

/**
 * A hub's secret-free record of one room's group: its ID and current epoch. `check` classifies an
 * incoming message; `accept` records a message the hub accepted (a commit moves the epoch on).
 */
export class HubGroupView {
  constructor(
    readonly groupId: Uint8Array,
    private currentEpoch: bigint,
  ) {}

  get epoch(): bigint {
    return this.currentEpoch;
  }

  /** @throws MlsGroupError(Malformed) when the bytes are not an MLSMessage. */
  check(message: Uint8Array | MlsMessageHeader): { header: MlsMessageHeader; check: EpochCheck } {
    const header = message instanceof Uint8Array ? inspectMlsMessage(message) : message;
    return { header, check: checkEpoch(header, { groupId: this.groupId, epoch: this.currentEpoch }) };
  }

  /**
   * Record that the hub accepted `header`. Only a commit changes the view.
   * @throws MlsGroupError when the message would not pass `check` (accepting it would be a bug).
   */
  accept(header: MlsMessageHeader): void {
    const result = checkEpoch(header, { groupId: this.groupId, epoch: this.currentEpoch });
    const error = epochCheckError(result, header.epoch);
    if (error !== undefined) throw error;
    if (header.contentType === 'commit') this.currentEpoch += 1n;
  }
}
