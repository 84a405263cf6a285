/** Public types of the gateway-scale MLS layer (see README.md). */
import type { UserUri } from '../../common/ids';
import type { ComponentData, Participant } from '../app-data';
import type { CommitEffects, CommitPolicy } from '../core/group';
import type { Proposal, Sender } from '../core/structs';

export interface GatewayOptions {
  /** Rotate a local member's leaf key (UpdatePath commit) once it is this old (ms). Default 7 days. */
  readonly leafKeyMaxAgeMs?: number;
  /** ... or once it protected this many application messages. Default 10,000. */
  readonly leafKeyMaxMessages?: number;
  /** Past epochs whose secrets are kept for late application messages. Default 2. */
  readonly pastEpochs?: number;
  /** Groups held in memory at most (least recently used ones are unloaded). Default 256. */
  readonly maxLoadedGroups?: number;
  /** Put the ratchet tree into Welcome GroupInfos (default true; the tree is also returned apart). */
  readonly ratchetTreeInWelcome?: boolean;
  /** Rule run on every commit (own and received) before it is applied. */
  readonly policy?: CommitPolicy;
  /** Wall clock in ms (KeyPackage lifetimes, leaf key age). Default `Date.now`. */
  readonly now?: () => number;
  /** The clock of idle times (`GroupStore.unloadIdle`), in ms. Default `now`. */
  readonly idleClock?: () => number;
  /**
   * The `MlsStorage` keys written by transactions not committed yet: the groups and identities
   * they belong to are not unloaded (storage does not hold their state for others to read yet).
   */
  readonly uncommittedKeys?: () => Iterable<string>;
  /**
   * Called after local member `user` protected an application message in the group (its ratchet
   * is stored), inside the group's lock: schedule work (a leaf-key rotation check), do not await it.
   */
  readonly onMessageSent?: (groupId: Uint8Array, user: UserUri) => void;
}

/** A member of the group's tree. */
export interface GatewayMember {
  readonly leafIndex: number;
  /** The MIMI user its basic credential names, if any. */
  readonly user?: UserUri;
  readonly signatureKey: Uint8Array;
  readonly local: boolean;
}

export interface GatewayGroupSummary {
  readonly groupId: Uint8Array;
  readonly epoch: bigint;
  readonly members: readonly GatewayMember[];
  readonly participants: readonly Participant[];
  /** Local members (user → leaf), increasing leaf order. */
  readonly localMembers: readonly { readonly user: UserUri; readonly leafIndex: number }[];
  readonly pendingProposals: number;
  readonly commitStaged: boolean;
}

/** Changes for one commit. */
export interface GatewayChanges {
  /** KeyPackages (bare or MLSMessage) of clients to add; ours (published by `createKeyPackage`) become local members. */
  readonly add?: readonly Uint8Array[];
  /** Local users to add as puppets: a KeyPackage is made in memory, no Welcome is needed. */
  readonly addLocal?: readonly UserUri[];
  /** Leaf indices to remove. */
  readonly remove?: readonly number[];
  /** Users whose every leaf is removed. */
  readonly removeUsers?: readonly UserUri[];
  /** The complete new participant list, as an AppDataUpdate in the same commit. */
  readonly participants?: readonly Participant[];
  /** Other app_data_dictionary components to replace (one AppDataUpdate `update` each). */
  readonly appData?: readonly ComponentData[];
  /** More proposals by value. */
  readonly proposals?: readonly Proposal[];
  /** Commit the cached proposals too (default true). */
  readonly includePending?: boolean;
  /** Add an UpdatePath even when not required (leaf key rotation of the committer). */
  readonly forcePath?: boolean;
  /** The commit's `authenticated_data` (RFC 9420 §6.1), e.g. why the hub removes everybody (unlink). */
  readonly authenticatedData?: Uint8Array;
}

/** A commit made but not applied yet: send it, then merge (accepted) or discard (rejected). */
export interface GatewayStagedCommit {
  readonly groupId: Uint8Array;
  /** The epoch the group enters with this commit. */
  readonly epoch: bigint;
  readonly committer: UserUri;
  /** MLSMessage (PublicMessage). */
  readonly commit: Uint8Array;
  /** MLSMessage (Welcome) for the added clients. */
  readonly welcome?: Uint8Array;
  /** KeyPackageRefs of the added clients. */
  readonly joiners: readonly Uint8Array[];
  /** Bare GroupInfo of the new epoch (external_pub, no tree). */
  readonly groupInfo: Uint8Array;
  /** Ratchet tree of the new epoch (`optional<Node> ratchet_tree<V>`). */
  readonly ratchetTree: Uint8Array;
  readonly effects: CommitEffects;
}

export interface GroupInfoBundle {
  readonly groupId: Uint8Array;
  readonly epoch: bigint;
  /** Bare GroupInfo with external_pub, without the tree. */
  readonly groupInfo: Uint8Array;
  /** The same as an MLSMessage. */
  readonly groupInfoMessage: Uint8Array;
  readonly ratchetTree: Uint8Array;
}

export type GatewayProcessed =
  | {
      readonly kind: 'application';
      readonly epoch: bigint;
      readonly senderLeaf: number;
      readonly sender?: UserUri;
      readonly plaintext: Uint8Array;
      readonly authenticatedData: Uint8Array;
    }
  | {
      readonly kind: 'proposal';
      readonly epoch: bigint;
      readonly sender: Sender;
      readonly proposalType: number;
      readonly ref: Uint8Array;
    }
  | {
      readonly kind: 'commit';
      /** The epoch after the commit. */
      readonly epoch: bigint;
      readonly committerLeaf: number;
      readonly committer?: UserUri;
      /** It was our staged commit, now merged. */
      readonly ownCommit: boolean;
      /** A staged commit of ours lost the race and was dropped. */
      readonly discardedStagedCommit: boolean;
      readonly effects: CommitEffects;
      /** Local members the commit removed (their keys are gone). */
      readonly removedLocalUsers: readonly UserUri[];
      /** The commit removed every local member: the group's records are deleted. */
      readonly groupGone: boolean;
    }
  | {
      /** A message this gateway itself sent came back; nothing changed. */
      readonly kind: 'echo';
      readonly epoch: bigint;
    };
