/** Small helpers shared by the group files: suite lookup, encoded GroupContext, signature keys. */
import { encodeValue } from '../../../codec/tls-codec';
import { cipherSuiteById, type CipherSuite } from '../crypto';
import {
  encodeMlsMessage,
  encryptPrivateMessage,
  sealContextBytes,
  signContent,
  toPublicMessage,
  type SignatureKeyLookup,
} from '../framing';
import type { SecretTree } from '../secret-tree';
import {
  externalSendersExtension,
  findExtension,
  groupContextCodec,
  type AuthenticatedContent,
  type ContentBody,
  type GroupContext,
  type Sender,
  SenderType,
  WireFormat,
} from '../structs';
import type { RatchetTree } from '../ratchet-tree';
import { leafAt } from './proposal-list';
import type { GroupState } from './types';

export function suiteOf(state: Pick<GroupState, 'context'>): CipherSuite {
  return cipherSuiteById(state.context.cipherSuite);
}

const contextBytesCache = new WeakMap<GroupContext, Uint8Array>();
/** The encoded GroupContext (cached per context object: contexts are never mutated). */
export function contextBytes(context: GroupContext): Uint8Array {
  let b = contextBytesCache.get(context);
  if (!b) {
    b = sealContextBytes(encodeValue(context, groupContextCodec));
    contextBytesCache.set(context, b);
  }
  return b;
}

/** Signature keys of a tree's members and of the context's external_senders. */
export function signatureKeys(tree: RatchetTree, context: GroupContext): SignatureKeyLookup {
  return {
    member: (leaf) => leafAt(tree, leaf)?.signatureKey,
    external: (i) => findExtension(context.extensions, externalSendersExtension)?.[i]?.signatureKey,
  };
}

/** Sign content of `state`'s epoch (FramedContentTBS with the epoch's GroupContext for members and joiners). */
export function signInGroup(
  state: Pick<GroupState, 'context'>,
  wireFormat: WireFormat,
  sender: Sender,
  body: ContentBody,
  signaturePrivateKey: Uint8Array,
  authenticatedData: Uint8Array = new Uint8Array(0),
): AuthenticatedContent {
  return signContent(suiteOf(state), {
    wireFormat,
    content: { groupId: state.context.groupId, epoch: state.context.epoch, sender, authenticatedData, ...body },
    signaturePrivateKey,
    groupContext: contextBytes(state.context),
  });
}

/** The wire format of a handshake message: PrivateMessage when the epoch's keys are given. */
export function handshakeWireFormat(privateWith: SecretTree | undefined): WireFormat {
  return privateWith ? WireFormat.mls_private_message : WireFormat.mls_public_message;
}

/**
 * A signed handshake AuthenticatedContent of `state`'s epoch as MLSMessage bytes: PublicMessage
 * (membership tag for members) or, with `privateWith`, PrivateMessage (advances the sender's
 * handshake ratchet in that secret tree).
 */
export function frameHandshake(
  state: Pick<GroupState, 'context' | 'secrets'>,
  ac: AuthenticatedContent,
  privateWith?: SecretTree,
): Uint8Array {
  const suite = suiteOf(state);
  if (privateWith) {
    const { message } = encryptPrivateMessage(suite, ac, {
      senderDataSecret: state.secrets.senderDataSecret,
      secretTree: privateWith,
    });
    return encodeMlsMessage({ wireFormat: WireFormat.mls_private_message, privateMessage: message });
  }
  const groupContext = contextBytes(state.context);
  const member = ac.content.sender.senderType === SenderType.member;
  const publicMessage = toPublicMessage(
    suite,
    ac,
    member ? { groupContext, membershipKey: state.secrets.membershipKey } : { groupContext },
  );
  return encodeMlsMessage({ wireFormat: WireFormat.mls_public_message, publicMessage });
}
