/**
 * Application messages (and handshake messages in PrivateMessages) of a group: `protect` by a
 * local member, `unprotect` of the current or a kept past epoch.
 *
 * The secret tree of an epoch (`SecretTree`, mutable: ratchet positions per leaf) is the caller's
 * `EpochKeys`: one per group per epoch, shared by every local member, created with `epochKeys`
 * and persisted incrementally (`SecretTree.takeChanges` / `exportLeaf`). It stays outside the
 * immutable `GroupState`.
 */
import { mlsFail } from '../errors';
import { decryptPrivateMessage, encodeMlsMessage, encryptPrivateMessage, type PaddingPolicy } from '../framing';
import { SecretTree, type SecretTreeOptions } from '../secret-tree';
import {
  ContentType,
  SenderType,
  WireFormat,
  type AuthenticatedContent,
  type MLSMessage,
  type PrivateMessage,
} from '../structs';
import { contextBytes, signatureKeys, signInGroup, suiteOf } from './common';
import { bytesEqual } from './proposal-list';
import type { GroupState, LocalSigner } from './types';

/** A new epoch's secret tree (call once per epoch; keep it with the epoch number). */
export function epochKeys(state: GroupState, options: SecretTreeOptions = {}): SecretTree {
  return SecretTree.create(suiteOf(state), state.secrets.encryptionSecret, state.tree.leafCount, options);
}

export interface ProtectOptions {
  readonly authenticatedData?: Uint8Array;
  readonly padding?: PaddingPolicy;
}

/**
 * Application data from local member `signer` as an MLSMessage (PrivateMessage); advances `keys`.
 * §12.4's "commit pending proposals before sending application data" is the caller's rule (in
 * MIMI only the hub commits).
 */
export function protect(
  state: GroupState,
  keys: SecretTree,
  signer: LocalSigner,
  applicationData: Uint8Array,
  options: ProtectOptions = {},
): Uint8Array {
  const suite = suiteOf(state);
  if (!state.tree.leafNode(signer.leafIndex)) mlsFail('notFound', `leaf ${signer.leafIndex} is blank`);
  const ac = signInGroup(
    state,
    WireFormat.mls_private_message,
    { senderType: SenderType.member, leafIndex: signer.leafIndex },
    { contentType: ContentType.application, applicationData },
    signer.signaturePrivateKey,
    options.authenticatedData,
  );
  const { message } = encryptPrivateMessage(
    suite,
    ac,
    { senderDataSecret: state.secrets.senderDataSecret, secretTree: keys },
    options.padding ? { padding: options.padding } : {},
  );
  return encodeMlsMessage({ wireFormat: WireFormat.mls_private_message, privateMessage: message });
}

export interface Unprotected {
  readonly epoch: bigint;
  readonly senderLeaf: number;
  readonly generation: number;
  /** The verified content: application data, or a proposal / commit for the caller to process. */
  readonly content: AuthenticatedContent;
  readonly applicationData?: Uint8Array;
}

/**
 * Decrypt and verify a PrivateMessage of the current epoch or of a past epoch the state keeps.
 * `keysFor(epoch)` returns that epoch's secret tree (undefined: 'outOfWindow').
 */
export function unprotect(
  state: GroupState,
  message: MLSMessage | PrivateMessage,
  keysFor: (epoch: bigint) => SecretTree | undefined,
): Unprotected {
  const priv =
    'wireFormat' in message
      ? message.wireFormat === WireFormat.mls_private_message
        ? message.privateMessage
        : mlsFail('invalid', `wire format ${message.wireFormat} is not a PrivateMessage`)
      : message;
  if (!bytesEqual(priv.groupId, state.context.groupId)) mlsFail('invalid', 'message for another group');
  const suite = suiteOf(state);
  const keys = keysFor(priv.epoch) ?? mlsFail('outOfWindow', `no secret tree for epoch ${priv.epoch}`);
  let unprotectKeys;
  if (priv.epoch === state.context.epoch) {
    unprotectKeys = {
      senderDataSecret: state.secrets.senderDataSecret,
      secretTree: keys,
      groupContext: contextBytes(state.context),
      signatureKeys: signatureKeys(state.tree, state.context),
    };
  } else {
    const past = state.pastEpochs.find((p) => p.context.epoch === priv.epoch);
    if (!past) return mlsFail('outOfWindow', `epoch ${priv.epoch} is not kept (at ${state.context.epoch})`);
    if (priv.contentType !== ContentType.application) mlsFail('outOfWindow', 'handshake message of a past epoch');
    unprotectKeys = {
      senderDataSecret: past.senderDataSecret,
      secretTree: keys,
      groupContext: contextBytes(past.context),
      signatureKeys: { member: (leaf: number) => past.signatureKeys[leaf] },
    };
  }
  const { authenticatedContent, leafIndex, generation } = decryptPrivateMessage(suite, priv, unprotectKeys);
  const content = authenticatedContent.content;
  return {
    epoch: priv.epoch,
    senderLeaf: leafIndex,
    generation,
    content: authenticatedContent,
    ...(content.contentType === ContentType.application ? { applicationData: content.applicationData } : {}),
  };
}
