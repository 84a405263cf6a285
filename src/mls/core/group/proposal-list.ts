/**
 * The proposals of a commit: resolving references against the epoch's cache, the proposal-list
 * rules of RFC 9420 §12.2 (+ mls-extensions-09 AppDataUpdate and SelfRemove), and whether the
 * commit needs a path (§12.4, IANA "Path Required").
 *
 * Checks that need the cryptographic validity of a LeafNode or KeyPackage (signatures,
 * capabilities against the new GroupContext) are done where the tree is changed (`apply.ts`).
 */
import { encodeValue } from '../../../codec/tls-codec';
import { mlsFail } from '../errors';
import { bytesEqual } from '../key-schedule';
import {
  AppDataUpdateOperation,
  appDataDictionaryExtension,
  findExtension,
  isCustomProposal,
  preSharedKeyIdCodec,
  ProposalOrRefType,
  ProposalType,
  PSKType,
  requiredCapabilitiesExtension,
  ResumptionPSKUsage,
  SenderType,
  type Commit,
  type GroupContext,
  type LeafNode,
  type Proposal,
  type Sender,
} from '../structs';
import type { RatchetTree } from '../ratchet-tree';
import type { CachedProposal, CommittedProposal } from './types';

/** RFC 9420 proposal types 1..7 (anything else must be supported by every member to be used). */
const DEFAULT_TYPES: ReadonlySet<number> = new Set([1, 2, 3, 4, 5, 6, 7]);

/** Types whose "Path Required" is N (RFC 9420 §17.4; mls-extensions-09 §9 for the last two). */
const PATHLESS_TYPES: ReadonlySet<number> = new Set([
  ProposalType.add,
  ProposalType.psk,
  ProposalType.reinit,
  ProposalType.app_data_update,
  ProposalType.app_ephemeral,
]);

export { bytesEqual };

export function hexOf(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** The LeafNode at leaf index `leaf`, or undefined when blank or outside the tree. */
export function leafAt(tree: RatchetTree, leaf: number): LeafNode | undefined {
  return leaf < tree.leafCount ? tree.leafNode(leaf) : undefined;
}

/**
 * The commit's proposals in order, by-reference ones looked up in `cache` (a reference the cache
 * does not hold is 'notFound'); by-value proposals are attributed to `committer`.
 */
export function resolveProposals(
  commit: Commit,
  committer: Sender,
  cache: readonly CachedProposal[],
): CommittedProposal[] {
  const byRef = new Map(cache.map((c) => [hexOf(c.ref), c]));
  return commit.proposals.map((p) => {
    if (p.type === ProposalOrRefType.proposal) return { proposal: p.proposal, sender: committer };
    const hit = byRef.get(hexOf(p.reference));
    if (!hit) return mlsFail('notFound', `proposal reference ${hexOf(p.reference)} is not in the cache`);
    return { proposal: hit.proposal, sender: hit.sender, ref: hit.ref };
  });
}

/** §12.4: a path is required for an empty commit or any proposal of a "path required" type. */
export function pathRequired(proposals: readonly { proposal: Proposal }[]): boolean {
  return proposals.length === 0 || proposals.some((p) => !PATHLESS_TYPES.has(p.proposal.proposalType));
}

/** §12.1 / extensions-09: may a proposal of `type` come from a sender of this kind? */
export function senderMayPropose(type: number, sender: Sender): boolean {
  switch (sender.senderType) {
    case SenderType.member:
      return type !== ProposalType.external_init;
    case SenderType.external:
      return type !== ProposalType.update && type !== ProposalType.external_init && type !== ProposalType.self_remove;
    case SenderType.new_member_proposal:
      return type === ProposalType.add;
    case SenderType.new_member_commit:
      return false;
  }
}

/** The leaf a Update / Remove / SelfRemove proposal acts on, or undefined for other types. */
export function targetLeaf(p: CommittedProposal): number | undefined {
  const { proposal, sender } = p;
  if (isCustomProposal(proposal)) return undefined;
  if (proposal.proposalType === ProposalType.remove) return proposal.remove.removed;
  if (proposal.proposalType === ProposalType.update || proposal.proposalType === ProposalType.self_remove) {
    return sender.senderType === SenderType.member ? sender.leafIndex : undefined;
  }
  return undefined;
}

export interface ProposalListContext {
  readonly committer: Sender;
  /** Leaf of a member committer; undefined for an external commit. */
  readonly committerLeaf?: number;
  readonly context: GroupContext;
  readonly tree: RatchetTree;
  readonly hashLength: number;
}

/** Throws MlsProtocolError('invalid') when the list breaks §12.2 (regular or external commit rules). */
export function validateProposalList(list: readonly CommittedProposal[], ctx: ProposalListContext): void {
  const external = ctx.committer.senderType === SenderType.new_member_commit;
  const bad = (why: string): never => mlsFail('invalid', `proposal list: ${why}`);
  const count = (type: number) => list.filter((p) => p.proposal.proposalType === type).length;

  for (const p of list) {
    const type = p.proposal.proposalType;
    const byValue = p.ref === undefined;
    if (type === ProposalType.self_remove && byValue) bad('SelfRemove by value');
    if (type === ProposalType.update && byValue) bad('Update by value (from the committer)');
    if (byValue && external && type === ProposalType.self_remove) bad('SelfRemove by value');
    if (!byValue && external && type !== ProposalType.self_remove) bad('external commit with a proposal by reference');
    if (!(byValue && external) && !senderMayPropose(type, p.sender)) {
      bad(`proposal type ${type} from sender type ${p.sender.senderType}`);
    }
    if (p.sender.senderType === SenderType.member && !leafAt(ctx.tree, p.sender.leafIndex)) {
      bad(`proposal from blank leaf ${p.sender.leafIndex}`);
    }
  }

  if (external) {
    if (count(ProposalType.external_init) !== 1) bad('external commit needs exactly one ExternalInit');
    if (count(ProposalType.remove) > 1) bad('external commit with more than one Remove');
    const allowed: ReadonlySet<number> = new Set([
      ProposalType.external_init,
      ProposalType.remove,
      ProposalType.psk,
      ProposalType.app_data_update,
      ProposalType.app_ephemeral,
      ProposalType.self_remove,
    ]);
    for (const p of list) {
      if (!allowed.has(p.proposal.proposalType)) bad(`type ${p.proposal.proposalType} in an external commit`);
    }
  } else {
    if (count(ProposalType.external_init) > 0) bad('ExternalInit in a member commit');
    if (count(ProposalType.reinit) > 0 && list.length > 1) bad('ReInit with other proposals');
  }
  if (count(ProposalType.group_context_extensions) > 1) bad('several GroupContextExtensions');

  // Update / Remove / SelfRemove: at most one per leaf, never the committer's leaf.
  const touched = new Set<number>();
  const removed = new Set<number>();
  for (const p of list) {
    const type = p.proposal.proposalType;
    if (type !== ProposalType.remove && type !== ProposalType.update && type !== ProposalType.self_remove) continue;
    const leaf = targetLeaf(p) ?? bad(`proposal type ${type} without a member leaf`);
    if (!leafAt(ctx.tree, leaf)) bad(`proposal type ${type} on blank leaf ${leaf}`);
    if (touched.has(leaf)) bad(`several Update/Remove/SelfRemove for leaf ${leaf}`);
    touched.add(leaf);
    if (type !== ProposalType.update) removed.add(leaf);
    if (ctx.committerLeaf === leaf) bad(`proposal type ${type} on the committer's leaf`);
  }

  // Adds: no two for the same signature key, none for a member that stays.
  const addKeys = new Set<string>();
  for (const p of list) {
    if (isCustomProposal(p.proposal) || p.proposal.proposalType !== ProposalType.add) continue;
    const signatureKey = p.proposal.add.keyPackage.leafNode.signatureKey;
    const key = hexOf(signatureKey);
    if (addKeys.has(key)) bad('two Adds with the same signature key');
    const member = ctx.tree.findLeafBySignatureKey(signatureKey);
    if (member !== undefined && !removed.has(member)) bad('Add of a client already in the group');
    addKeys.add(key);
  }

  // PSKs: distinct ids, nonce of length Nh, resumption only with usage application.
  const pskIds = new Set<string>();
  for (const p of list) {
    if (isCustomProposal(p.proposal) || p.proposal.proposalType !== ProposalType.psk) continue;
    const id = p.proposal.preSharedKey.psk;
    const key = hexOf(encodeValue(id, preSharedKeyIdCodec));
    if (pskIds.has(key)) bad('two PreSharedKey proposals for the same PSK');
    pskIds.add(key);
    if (id.pskNonce.length !== ctx.hashLength) bad('PSK nonce length is not KDF.Nh');
    if (id.pskType === PSKType.resumption && id.usage !== ResumptionPSKUsage.application) {
      bad('resumption PSK proposal with usage other than application');
    }
  }

  validateAppDataUpdates(list, ctx.context);

  // Non-default types must be supported by every member that stays (§12.2).
  const common = ctx.tree.commonProposalTypes();
  const unusual = new Set(
    list.map((p) => p.proposal.proposalType).filter((t) => !DEFAULT_TYPES.has(t) && !common.has(t)),
  );
  if (unusual.size > 0) {
    for (let i = 0; i < ctx.tree.leafCount; i++) {
      const leaf = leafAt(ctx.tree, i);
      if (!leaf || removed.has(i)) continue;
      for (const t of unusual) {
        if (!leaf.capabilities.proposals.includes(t)) bad(`leaf ${i} does not support proposal type ${t}`);
      }
    }
  }
}

/** extensions-09: per component either one `remove` of present data or one or more `update`s. */
function validateAppDataUpdates(list: readonly CommittedProposal[], context: GroupContext): void {
  const ops = new Map<number, number[]>();
  for (const p of list) {
    if (isCustomProposal(p.proposal) || p.proposal.proposalType !== ProposalType.app_data_update) continue;
    const u = p.proposal.appDataUpdate;
    ops.set(u.componentId, [...(ops.get(u.componentId) ?? []), u.op]);
  }
  if (ops.size === 0) return;
  const dict = findExtension(context.extensions, appDataDictionaryExtension);
  for (const [component, list2] of ops) {
    const removes = list2.filter((o) => o === AppDataUpdateOperation.remove).length;
    if (removes > 1 || (removes === 1 && list2.length > 1)) {
      mlsFail('invalid', `proposal list: AppDataUpdate remove mixed with other operations on component ${component}`);
    }
    if (removes === 1 && !dict?.componentData.some((c) => c.componentId === component)) {
      mlsFail('invalid', `proposal list: AppDataUpdate removes absent component ${component}`);
    }
  }
}

/**
 * extensions-09: when required_capabilities lists app_data_update, a GroupContextExtensions
 * proposal must leave app_data_dictionary as it was.
 */
export function checkGceKeepsAppData(
  oldExtensions: GroupContext['extensions'],
  newExtensions: GroupContext['extensions'],
): void {
  const required = findExtension(oldExtensions, requiredCapabilitiesExtension);
  if (!required?.proposalTypes.includes(ProposalType.app_data_update)) return;
  const before = oldExtensions.find((e) => e.extensionType === appDataDictionaryExtension.type);
  const after = newExtensions.find((e) => e.extensionType === appDataDictionaryExtension.type);
  const same = before && after ? bytesEqual(before.extensionData, after.extensionData) : before === after;
  if (!same) mlsFail('invalid', 'GroupContextExtensions changes app_data_dictionary (AppDataUpdate is required)');
}
