/**
 * The group state of `src/mls/core/group`: plain data, shaped for a gateway that speaks for many
 * local members ("puppets") of one group.
 *
 * - `GroupState` is immutable and shared by every local member: GroupContext, ratchet tree,
 *   interim transcript hash, the epoch's secrets (`EpochSecrets`, identical for every member of
 *   the epoch), the union of the private tree keys local members know (`PrivateTreeKeys`), the
 *   proposal cache of the epoch and what is kept of past epochs.
 * - Per local member only: its leaf index and signature private key, passed in as a `LocalSigner`
 *   to each call that signs.
 * - The secret-tree ratchets (sending and receiving positions) change per message; they live
 *   outside `GroupState` in the caller's `EpochKeyStore` (see `messages.ts`).
 */
import type { EpochSecrets as ScheduleSecrets } from '../key-schedule';
import type { KeyPair } from '../crypto';
import type { RatchetTree } from '../ratchet-tree';
import type { PrivateTreeKeys } from '../treekem';
import type { Extension, GroupContext, Proposal, ProposalRef, ReInit, Sender } from '../structs';

/**
 * Secrets derived from `epoch_secret` (RFC 9420 §8), without joiner/welcome/epoch secrets (not
 * needed once the epoch is set up): one copy per group per epoch.
 */
export type EpochSecrets = Omit<ScheduleSecrets, 'joinerSecret' | 'welcomeSecret' | 'epochSecret'>;

/**
 * Node index → HPKE key pair, for every node whose private key some local member knows (leaves
 * of local members and the nodes above them): treekem's `PrivateTreeKeys`. Shared by all local
 * members: a commit costs one path decryption for the whole gateway.
 */

/** A local member as far as signing goes. */
export interface LocalSigner {
  readonly leafIndex: number;
  readonly signaturePrivateKey: Uint8Array;
}

/** A proposal received (or sent) in the current epoch, addressable by its ProposalRef. */
export interface CachedProposal {
  readonly ref: ProposalRef;
  readonly proposal: Proposal;
  readonly sender: Sender;
}

/** What a past epoch keeps for late application messages (`messages.ts`). */
export interface PastEpoch {
  readonly context: GroupContext;
  readonly senderDataSecret: Uint8Array;
  readonly encryptionSecret: Uint8Array;
  /** Signature public key per leaf index (undefined for a blank leaf). */
  readonly signatureKeys: readonly (Uint8Array | undefined)[];
}

export interface GroupState {
  readonly context: GroupContext;
  /** Never mutated once in a state: changes work on a `clone()`. */
  readonly tree: RatchetTree;
  readonly interimTranscriptHash: Uint8Array;
  /** The confirmation tag of the commit that started this epoch (GroupInfo needs it). */
  readonly confirmationTag: Uint8Array;
  readonly secrets: EpochSecrets;
  readonly privateKeys: PrivateTreeKeys;
  /** Leaf indices of the local members, increasing. */
  readonly localLeaves: readonly number[];
  /**
   * Leaf key pairs of Update proposals local members sent this epoch: they become the leaf's
   * private key if a commit applies the Update. Emptied on every epoch change.
   */
  readonly pendingLeafKeys: readonly KeyPair[];
  /** Proposals of the current epoch; emptied on every epoch change. */
  readonly proposals: readonly CachedProposal[];
  /** Most recent first; at most `options.pastEpochs` entries. */
  readonly pastEpochs: readonly PastEpoch[];
  /** `resumption_psk` of recent epochs (current one included), for resumption PSK proposals. */
  readonly resumptionPsks: readonly { readonly epoch: bigint; readonly psk: Uint8Array }[];
  readonly options: GroupOptions;
}

export interface GroupOptions {
  /** How many past epochs keep their secrets for late application messages (default 2). */
  readonly pastEpochs: number;
  /** How many epochs of resumption PSKs are kept (default 8). */
  readonly resumptionPsks: number;
}

export const DEFAULT_GROUP_OPTIONS: GroupOptions = { pastEpochs: 2, resumptionPsks: 8 };

/** External PSKs the caller knows: psk_id → psk. */
export type ExternalPskLookup = (pskId: Uint8Array) => Uint8Array | undefined;

/** A proposal of a commit with the sender it is attributed to (the committer for by-value ones). */
export interface CommittedProposal {
  readonly proposal: Proposal;
  readonly sender: Sender;
  /** Undefined when the proposal was carried by value. */
  readonly ref?: ProposalRef;
}

/**
 * A caller-supplied rule run on a commit's proposals before anything is applied. Throw (or return
 * a reason string) to refuse; the MIMI hub uses it to keep followers to allowed AppDataUpdate
 * components and to refuse GroupContextExtensions rewriting external_senders.
 */
export type CommitPolicy = (commit: {
  readonly committer: Sender;
  readonly proposals: readonly CommittedProposal[];
  readonly context: GroupContext;
  readonly tree: RatchetTree;
}) => string | undefined | void;

/** What a commit changed, for the caller. */
export interface CommitEffects {
  readonly addedLeaves: readonly number[];
  readonly removedLeaves: readonly number[];
  /** Local members removed by the commit (their keys are gone from the new state). */
  readonly removedLocalLeaves: readonly number[];
  readonly updatedLeaves: readonly number[];
  /** Component ids of app_data_dictionary changed (updated or removed). */
  readonly appDataChanged: readonly number[];
  readonly groupContextExtensionsChanged: boolean;
  /** Leaf of the committer in the new epoch (the joiner's leaf for an external commit). */
  readonly committerLeaf: number;
  readonly newExtensions: readonly Extension[];
  /**
   * Set when the commit carried a ReInit (§11.2): the group must not be used to send any more;
   * a new group is to be created with these parameters (not done by this layer).
   */
  readonly reinit?: ReInit;
}
