/**
 * RFC 9420 §7.3 LeafNode validation in a group: the tree-local checks of `tree-validation.ts`
 * (signature, own capabilities) plus what needs the group: required_capabilities of the
 * GroupContext, credential types supported both ways, unique signature and encryption keys.
 */
import type { CipherSuite } from '../crypto';
import { mlsFail } from '../errors';
import type { RatchetTree } from '../ratchet-tree';
import {
  findExtension,
  requiredCapabilitiesExtension,
  type Capabilities,
  type Extension,
  type LeafNode,
  type RequiredCapabilities,
} from '../structs';
import { isDefaultExtensionType, isDefaultProposalType } from '../key-package';
import { checkLeafNode } from '../tree-validation';

export interface LeafValidationContext {
  readonly groupId: Uint8Array;
  /** Leaf index for `update` / `commit` sources (the signature covers it); absent for key packages. */
  readonly leafIndex?: number;
  /** GroupContext extensions in force (the new ones when a commit changes them). */
  readonly extensions: readonly Extension[];
  /** The leaf this node replaces (Update, commit path): its own keys do not count as duplicates. */
  readonly replacing?: number;
}

export function validateLeafNode(
  suite: CipherSuite,
  tree: RatchetTree,
  leafNode: LeafNode,
  ctx: LeafValidationContext,
): void {
  checkLeafNode(suite, leafNode, ctx.groupId, ctx.leafIndex ?? 0);
  checkLeafInGroup(tree, leafNode, ctx);
}

/** The group-level part of §7.3 (everything but the LeafNode's own signature and capabilities). */
export function checkLeafInGroup(tree: RatchetTree, leafNode: LeafNode, ctx: LeafValidationContext): void {
  const caps = leafNode.capabilities;
  const unsupported = unsupportedContextExtension(caps.extensions, ctx.extensions);
  if (unsupported !== undefined) mlsFail('invalid', `LeafNode does not support GroupContext extension ${unsupported}`);
  const required = findExtension(ctx.extensions, requiredCapabilitiesExtension);
  if (required) {
    if (!supportsRequiredCapabilities(caps, required)) {
      mlsFail('invalid', 'LeafNode does not support the required_capabilities');
    }
  }
  // Every leaf lists its own credential type (§7.2, checked when it entered the tree): when the
  // group uses one type and the new leaf uses and supports it, the loop below cannot fail.
  const own = leafNode.credential.credentialType;
  const inUse = tree.credentialTypes();
  const oneType = inUse.size === 0 || (inUse.size === 1 && inUse.has(own) && caps.credentials.includes(own));
  for (const [i, other] of oneType ? [] : tree.leaves()) {
    if (i === ctx.replacing) continue;
    if (!caps.credentials.includes(other.credential.credentialType)) {
      mlsFail('invalid', `LeafNode does not support credential type ${other.credential.credentialType} of leaf ${i}`);
    }
    if (!other.capabilities.credentials.includes(leafNode.credential.credentialType)) {
      mlsFail('invalid', `leaf ${i} does not support credential type ${leafNode.credential.credentialType}`);
    }
  }
  const sigOwner = tree.findLeafBySignatureKey(leafNode.signatureKey);
  if (sigOwner !== undefined && sigOwner !== ctx.replacing) {
    mlsFail('invalid', `signature key already used by leaf ${sigOwner}`);
  }
  const encOwner = tree.findNodeByEncryptionKey(leafNode.encryptionKey);
  if (encOwner !== undefined && !(ctx.replacing !== undefined && encOwner === 2 * ctx.replacing)) {
    mlsFail('invalid', `encryption key already used by node ${encOwner}`);
  }
}

/**
 * §13.4: every GroupContext extension must be supported by every member (default types need
 * not be listed). The first non-default type `supported` lacks, or undefined.
 */
export function unsupportedContextExtension(
  supported: readonly number[],
  extensions: readonly Extension[],
): number | undefined {
  return extensions.map((e) => e.extensionType).find((t) => !isDefaultExtensionType(t) && !supported.includes(t));
}

/**
 * Whether a leaf's capabilities cover a required_capabilities extension (§11.1). Default
 * extension and proposal types (§7.2) need not be listed, and a leaf MUST NOT list them, so
 * they count as supported.
 */
export function supportsRequiredCapabilities(caps: Capabilities, required: RequiredCapabilities): boolean {
  return (
    required.extensionTypes.every((t) => isDefaultExtensionType(t) || caps.extensions.includes(t)) &&
    required.proposalTypes.every((t) => isDefaultProposalType(t) || caps.proposals.includes(t)) &&
    required.credentialTypes.every((t) => caps.credentials.includes(t))
  );
}
