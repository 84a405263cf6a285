/**
 * Applying a validated proposal list to a copy of the ratchet tree and the GroupContext
 * extensions (RFC 9420 §12.3, extensions-09 order): GroupContextExtensions, Updates,
 * SelfRemoves, Removes, Adds, then PSKs / ExternalInit noted, AppDataUpdates last.
 * Individual proposal validity that needs the new state (LeafNode and KeyPackage validation
 * against the new extensions) is checked here.
 */
import type { CipherSuite } from '../crypto';
import { mlsFail } from '../errors';
import type { RatchetTree } from '../ratchet-tree';
import {
  findExtension,
  isCustomProposal,
  LeafNodeSource,
  ProposalType,
  requiredCapabilitiesExtension,
  type AppDataUpdate,
  type Extension,
  type GroupContext,
  type KeyPackage,
  type KnownProposal,
  type PreSharedKeyID,
  type ReInit,
} from '../structs';
import { applyAppDataUpdates, type AppDataMerge } from './app-data';
import { bytesEqual, checkGceKeepsAppData, leafAt, targetLeaf } from './proposal-list';
import { validateKeyPackage } from '../key-package';
import {
  checkLeafInGroup,
  supportsRequiredCapabilities,
  unsupportedContextExtension,
  validateLeafNode,
} from './leaf-validation';
import type { CommitEffects, CommittedProposal } from './types';

export interface AppliedProposals {
  /** A new tree (the input is not touched). */
  readonly tree: RatchetTree;
  readonly extensions: Extension[];
  readonly added: readonly { leafIndex: number; keyPackage: KeyPackage }[];
  readonly removedLeaves: readonly number[];
  readonly updatedLeaves: readonly number[];
  readonly psks: readonly PreSharedKeyID[];
  /** kem_output of the ExternalInit proposal of an external commit. */
  readonly externalInit?: Uint8Array;
  readonly appDataChanged: readonly number[];
  readonly groupContextExtensionsChanged: boolean;
  readonly reinit?: ReInit;
}

export interface ApplyOptions {
  readonly appDataMerge?: AppDataMerge;
}

type Known = KnownProposal;
/** The proposals of one modelled type, narrowed, with their CommittedProposal. */
function ofType<T extends Known['proposalType']>(
  list: readonly CommittedProposal[],
  type: T,
): { p: CommittedProposal; body: Extract<Known, { proposalType: T }> }[] {
  const out: { p: CommittedProposal; body: Extract<Known, { proposalType: T }> }[] = [];
  for (const p of list) {
    if (!isCustomProposal(p.proposal) && p.proposal.proposalType === type) {
      out.push({ p, body: p.proposal as Extract<Known, { proposalType: T }> });
    }
  }
  return out;
}

/**
 * §10.1 KeyPackage validation of a received Add (`key-package.ts`: no clock or lifetime-range
 * check on a received one, §7.3 makes it RECOMMENDED only and the working group's vectors use
 * not_after = 2^64-1) plus the group-level LeafNode checks against the (new) extensions.
 */
function validateAddedKeyPackage(
  keyPackage: KeyPackage,
  context: { cipherSuite: number; groupId: Uint8Array; extensions: readonly Extension[] },
  tree: RatchetTree,
): void {
  validateKeyPackage(keyPackage, { cipherSuite: context.cipherSuite, ignoreExpiry: true, maxLifetimeSeconds: null });
  checkLeafInGroup(tree, keyPackage.leafNode, { groupId: context.groupId, extensions: context.extensions });
}

function reinitOf(list: readonly CommittedProposal[]): { reinit?: ReInit } {
  const found = ofType(list, ProposalType.reinit)[0];
  return found ? { reinit: found.body.reInit } : {};
}

/** Apply `list` (already checked by `validateProposalList`) to a copy of `tree`. */
export function applyProposals(
  suite: CipherSuite,
  context: GroupContext,
  treeBefore: RatchetTree,
  list: readonly CommittedProposal[],
  options: ApplyOptions = {},
): AppliedProposals {
  const tree = treeBefore.clone();
  let extensions: Extension[] = [...context.extensions];
  let gceChanged = false;

  const [gce] = ofType(list, ProposalType.group_context_extensions);
  if (gce) {
    const next = gce.body.groupContextExtensions.extensions;
    checkGceKeepsAppData(context.extensions, next);
    extensions = [...next];
    gceChanged = true;
  }

  const updatedLeaves: number[] = [];
  for (const { p, body } of ofType(list, ProposalType.update)) {
    const leaf = targetLeaf(p)!;
    const leafNode = body.update.leafNode;
    if (leafNode.leafNodeSource !== LeafNodeSource.update) mlsFail('invalid', 'Update leaf_node_source is not update');
    if (bytesEqual(leafNode.encryptionKey, leafAt(tree, leaf)!.encryptionKey)) {
      mlsFail('invalid', `Update of leaf ${leaf} keeps its encryption key`);
    }
    validateLeafNode(suite, tree, leafNode, { groupId: context.groupId, leafIndex: leaf, extensions, replacing: leaf });
    tree.updateLeaf(leaf, leafNode);
    updatedLeaves.push(leaf);
  }

  const removedLeaves: number[] = [];
  for (const { p } of [...ofType(list, ProposalType.self_remove), ...ofType(list, ProposalType.remove)]) {
    const leaf = targetLeaf(p)!;
    tree.removeLeaf(leaf);
    removedLeaves.push(leaf);
  }

  // New GroupContext extensions (and a required_capabilities among them) must be supported by
  // every remaining member (§12.1.7, §13.4); added members are checked against them below.
  if (gceChanged) {
    for (const [i, leaf] of tree.leaves()) {
      const missing = unsupportedContextExtension(leaf.capabilities.extensions, extensions);
      if (missing !== undefined) mlsFail('invalid', `leaf ${i} does not support GroupContext extension ${missing}`);
    }
    const required = findExtension(extensions, requiredCapabilitiesExtension);
    if (required) {
      for (const [i, leaf] of tree.leaves()) {
        if (!supportsRequiredCapabilities(leaf.capabilities, required)) {
          mlsFail('invalid', `leaf ${i} does not support the new required_capabilities`);
        }
      }
    }
  }

  const added: { leafIndex: number; keyPackage: KeyPackage }[] = [];
  for (const { body } of ofType(list, ProposalType.add)) {
    const kp = body.add.keyPackage;
    validateAddedKeyPackage(kp, { cipherSuite: context.cipherSuite, groupId: context.groupId, extensions }, tree);
    added.push({ leafIndex: tree.addLeaf(kp.leafNode), keyPackage: kp });
  }

  const psks: PreSharedKeyID[] = ofType(list, ProposalType.psk).map(({ body }) => body.preSharedKey.psk);
  const externalInit = ofType(list, ProposalType.external_init)[0]?.body.externalInit.kemOutput;
  const updates: AppDataUpdate[] = ofType(list, ProposalType.app_data_update).map(({ body }) => body.appDataUpdate);
  const appData = applyAppDataUpdates(extensions, updates, options.appDataMerge);

  return {
    tree,
    extensions: appData.extensions,
    added,
    removedLeaves,
    updatedLeaves,
    psks,
    ...(externalInit ? { externalInit } : {}),
    appDataChanged: appData.changed,
    groupContextExtensionsChanged: gceChanged,
    ...reinitOf(list),
  };
}

/** The provisional GroupContext of the next epoch (§12.4.1) before its tree hash is known. */
export function provisionalContextBase(
  context: GroupContext,
  applied: AppliedProposals,
): Omit<GroupContext, 'treeHash'> {
  return {
    version: context.version,
    cipherSuite: context.cipherSuite,
    groupId: context.groupId,
    epoch: context.epoch + 1n,
    confirmedTranscriptHash: context.confirmedTranscriptHash,
    extensions: applied.extensions,
  };
}

/** What a commit changed, for the caller. */
export function commitEffects(
  applied: AppliedProposals,
  localLeaves: readonly number[],
  committerLeaf: number,
): CommitEffects {
  return {
    addedLeaves: applied.added.map((a) => a.leafIndex),
    removedLeaves: applied.removedLeaves,
    removedLocalLeaves: localLeaves.filter((l) => applied.removedLeaves.includes(l)),
    updatedLeaves: applied.updatedLeaves,
    appDataChanged: applied.appDataChanged,
    groupContextExtensionsChanged: applied.groupContextExtensionsChanged,
    committerLeaf,
    newExtensions: applied.extensions,
    ...(applied.reinit ? { reinit: applied.reinit } : {}),
  };
}
