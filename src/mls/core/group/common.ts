/** Small helpers shared by the group files: suite lookup, encoded GroupContext, signature keys. */
import { encodeValue } from '../../../codec/tls-codec';
import { cipherSuiteById, type CipherSuite } from '../crypto';
import { signContent, type SignatureKeyLookup } from '../framing';
import {
  externalSendersExtension,
  findExtension,
  groupContextCodec,
  type AuthenticatedContent,
  type ContentBody,
  type GroupContext,
  type Sender,
  type WireFormat,
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
    b = encodeValue(context, groupContextCodec);
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
