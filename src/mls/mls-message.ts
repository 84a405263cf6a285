/**
 * MLS wire objects as bytes, and the hub's view of them WITHOUT group secrets.
 *
 * Framing conventions (protocol-06 §5): fields typed `MLSMessage` (commits, proposals, application
 * messages) carry the RFC 9420 §6 `MLSMessage` framing; fields typed `KeyPackage`, `Welcome`,
 * `GroupInfo` or `Node ratchet_tree<V>` carry the bare struct. The functions here follow that:
 * `decodeMlsMessageBytes` for the former, `*FromBytes`/`*ToBytes` for the latter. Every decoder
 * insists on consuming the whole input.
 */
import {
  type CiphersuiteImpl,
  type ContentTypeName,
  type GroupInfo,
  type KeyPackage,
  type MLSMessage,
  type RatchetTree,
  type Welcome,
  decodeExternalSender,
  decodeMlsMessage,
  encodeMlsMessage,
} from 'ts-mls';
import type { UserUri } from '../common/ids';
import { credentialUser } from './credentials';
import { MlsErrorReason, MlsGroupError } from './mls.errors';
import {
  decodeGroupInfo,
  decodeKeyPackage,
  decodeRatchetTree,
  decodeWelcome,
  encodeGroupInfo,
  encodeKeyPackage,
  encodeRatchetTree,
  encodeWelcome,
  makeKeyPackageRef,
} from './ts-mls-internals';

type Decoder<T> = (b: Uint8Array, offset: number) => [T, number] | undefined;

function decodeWhole<T>(what: string, decoder: Decoder<T>, bytes: Uint8Array): T {
  let decoded: [T, number] | undefined;
  try {
    decoded = decoder(bytes, 0);
  } catch (e) {
    throw new MlsGroupError(MlsErrorReason.Malformed, `${what}: cannot decode (${(e as Error).message})`, {
      cause: e,
    });
  }
  if (decoded === undefined) throw new MlsGroupError(MlsErrorReason.Malformed, `${what}: cannot decode`);
  if (decoded[1] !== bytes.length) {
    throw new MlsGroupError(MlsErrorReason.Malformed, `${what}: ${bytes.length - decoded[1]} trailing bytes`);
  }
  return decoded[0];
}

/** Decode RFC 9420 §6 `MLSMessage` bytes. @throws MlsGroupError(Malformed) */
export function decodeMlsMessageBytes(bytes: Uint8Array): MLSMessage {
  return decodeWhole('MLSMessage', decodeMlsMessage, bytes);
}

export const keyPackageToBytes = (kp: KeyPackage): Uint8Array => encodeKeyPackage(kp);
/** @throws MlsGroupError(Malformed) */
export const keyPackageFromBytes = (b: Uint8Array): KeyPackage => decodeWhole('KeyPackage', decodeKeyPackage, b);
export const welcomeToBytes = (w: Welcome): Uint8Array => encodeWelcome(w);
/** @throws MlsGroupError(Malformed) */
export const welcomeFromBytes = (b: Uint8Array): Welcome => decodeWhole('Welcome', decodeWelcome, b);
export const groupInfoToBytes = (gi: GroupInfo): Uint8Array => encodeGroupInfo(gi);
/** @throws MlsGroupError(Malformed) */
export const groupInfoFromBytes = (b: Uint8Array): GroupInfo => decodeWhole('GroupInfo', decodeGroupInfo, b);
/**
 * The signature keys of the `external_senders` of the group a GroupInfo (raw bytes) describes:
 * whom the group accepts as its hub (protocol-06 §7.4). Extensions that do not decode are skipped.
 * @throws MlsGroupError(Malformed) when the GroupInfo does not decode
 */
export function externalSenderKeys(groupInfo: Uint8Array): Uint8Array[] {
  return groupInfoFromBytes(groupInfo).groupContext.extensions.flatMap((e) => {
    if (e.extensionType !== 'external_senders') return [];
    const sender = decodeExternalSender(e.extensionData, 0);
    return sender === undefined ? [] : [sender[0].signaturePublicKey];
  });
}
/** `optional<Node> ratchet_tree<V>` (RFC 9420 §12.4.3.3), the `full` RatchetTreeOption payload. */
export const ratchetTreeToBytes = (t: RatchetTree): Uint8Array => encodeRatchetTree(t);
/** @throws MlsGroupError(Malformed) */
export const ratchetTreeFromBytes = (b: Uint8Array): RatchetTree => decodeWhole('ratchet_tree', decodeRatchetTree, b);

/**
 * Wrap a bare Welcome, GroupInfo or KeyPackage in RFC 9420 §6 `MLSMessage` framing, for protocol
 * fields typed `MLSMessage` (e.g. a Welcome in protocol-06 §5.5 `FanoutMessage.message`).
 * @throws MlsGroupError(Malformed) when `bare` is not that struct.
 */
export function frameMlsMessage(
  wireFormat: 'mls_welcome' | 'mls_group_info' | 'mls_key_package',
  bare: Uint8Array,
): Uint8Array {
  switch (wireFormat) {
    case 'mls_welcome':
      return encodeMlsMessage({ version: 'mls10', wireformat: wireFormat, welcome: welcomeFromBytes(bare) });
    case 'mls_group_info':
      return encodeMlsMessage({ version: 'mls10', wireformat: wireFormat, groupInfo: groupInfoFromBytes(bare) });
    case 'mls_key_package':
      return encodeMlsMessage({ version: 'mls10', wireformat: wireFormat, keyPackage: keyPackageFromBytes(bare) });
  }
}

/**
 * RFC 9420 §5.2 KeyPackageRef = RefHash("MLS 1.0 KeyPackage Reference", KeyPackage). The hub maps
 * it to the target provider to route Welcomes (protocol-06 §5.2 "State to keep").
 */
export async function keyPackageRef(keyPackage: Uint8Array | KeyPackage, cs: CiphersuiteImpl): Promise<Uint8Array> {
  const kp = keyPackage instanceof Uint8Array ? keyPackageFromBytes(keyPackage) : keyPackage;
  return makeKeyPackageRef(kp, cs.hash);
}

export type MlsWireFormat = MLSMessage['wireformat'];

/** Who sent a handshake message, as far as a PublicMessage says in the clear (RFC 9420 §6.1). */
export type MlsSender =
  | { readonly type: 'member'; readonly leafIndex: number }
  | { readonly type: 'external'; readonly senderIndex: number }
  | { readonly type: 'new_member_proposal' }
  | { readonly type: 'new_member_commit' };

/**
 * What a server can read from an MLSMessage without any group secret.
 * - PrivateMessage: group ID, epoch, content type (RFC 9420 §6.3); the sender is encrypted.
 * - PublicMessage: the same plus the sender (and, for commits and proposals, their content).
 * - Welcome: the KeyPackageRefs of the joiners, used to route it (protocol-06 §5.5).
 * - GroupInfo: group ID and epoch from its GroupContext. KeyPackage: neither.
 */
export interface MlsMessageHeader {
  readonly wireFormat: MlsWireFormat;
  readonly groupId?: Uint8Array;
  readonly epoch?: bigint;
  readonly contentType?: ContentTypeName;
  readonly sender?: MlsSender;
  readonly keyPackageRefs?: readonly Uint8Array[];
  /** The decoded message, for callers that need more than the header. */
  readonly message: MLSMessage;
}

/** Read the public header of MLSMessage bytes. @throws MlsGroupError(Malformed) */
export function inspectMlsMessage(bytes: Uint8Array): MlsMessageHeader {
  const message = decodeMlsMessageBytes(bytes);
  switch (message.wireformat) {
    case 'mls_private_message': {
      const pm = message.privateMessage;
      return {
        wireFormat: message.wireformat,
        groupId: pm.groupId,
        epoch: pm.epoch,
        contentType: pm.contentType,
        message,
      };
    }
    case 'mls_public_message': {
      const c = message.publicMessage.content;
      const s = c.sender;
      const sender: MlsSender =
        s.senderType === 'member'
          ? { type: 'member', leafIndex: s.leafIndex }
          : s.senderType === 'external'
            ? { type: 'external', senderIndex: s.senderIndex }
            : { type: s.senderType };
      return {
        wireFormat: message.wireformat,
        groupId: c.groupId,
        epoch: c.epoch,
        contentType: c.contentType,
        sender,
        message,
      };
    }
    case 'mls_welcome':
      return {
        wireFormat: message.wireformat,
        keyPackageRefs: message.welcome.secrets.map((s) => s.newMember),
        message,
      };
    case 'mls_group_info': {
      const gc = message.groupInfo.groupContext;
      return { wireFormat: message.wireformat, groupId: gc.groupId, epoch: gc.epoch, message };
    }
    case 'mls_key_package':
      return { wireFormat: message.wireformat, message };
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

/** A leaf of the ratchet tree as anyone holding the (public) tree sees it. */
export interface TreeMember {
  readonly leafIndex: number;
  /** The MIMI user URI in the leaf's credential, if it carries one. */
  readonly user: UserUri | undefined;
  readonly signaturePublicKey: Uint8Array;
}

/**
 * The members of a group from its ratchet tree (RFC 9420 §7.8: leaf L is node 2L). Needs no
 * secret: the hub gets the tree with every commit (`RatchetTreeOption`) or GroupInfo.
 */
export function membersOfRatchetTree(tree: RatchetTree | Uint8Array): TreeMember[] {
  const nodes = tree instanceof Uint8Array ? ratchetTreeFromBytes(tree) : tree;
  const members: TreeMember[] = [];
  for (let nodeIndex = 0; nodeIndex < nodes.length; nodeIndex += 2) {
    const node = nodes[nodeIndex];
    if (node?.nodeType !== 'leaf') continue;
    members.push({
      leafIndex: nodeIndex / 2,
      user: credentialUser(node.leaf.credential),
      signaturePublicKey: node.leaf.signaturePublicKey,
    });
  }
  return members;
}
