/**
 * MLS verification of a follower's commit at the hub BEFORE anything happens (issue 9): the
 * commit is processed on the group's current state (signature, membership tag, proposal rules,
 * UpdatePath, confirmation tag, and the hub's `CommitPolicy`), but the result is not applied or
 * stored. Only a commit that verifies here may change the legacy room; the hub then processes
 * it for real (the same deterministic result).
 */
import type { UserUri } from '../common/ids';
import {
  type CommitPolicy,
  type GatewayGroup,
  type Participant,
  SenderType,
  WireFormat,
  decodeMlsMessage,
  participantsOf,
  processCommit,
  userOfCredential,
} from '../mls';

/** What a verified follower commit does. */
export interface VerifiedCommit {
  /** The committing user (for an external commit: the joiner). */
  readonly committer: UserUri;
  /** An external commit (RFC 9420 §12.4.3.2). */
  readonly external: boolean;
  readonly before: readonly Participant[];
  readonly after: readonly Participant[];
  /** Users of the clients the commit adds (the joiner's for an external commit). */
  readonly addedClients: readonly UserUri[];
  /** Users of the clients the commit removes. */
  readonly removedClients: readonly UserUri[];
}

/**
 * Verify `bytes` (MLSMessage, PublicMessage commit) against `group`'s current state.
 * @throws Error (MlsProtocolError, CodecError, ...) naming why MLS refuses it.
 */
export function verifyFollowerCommit(group: GatewayGroup, bytes: Uint8Array, policy: CommitPolicy): VerifiedCommit {
  const message = decodeMlsMessage(bytes);
  if (message.wireFormat !== WireFormat.mls_public_message) throw new Error('a commit must be a PublicMessage');
  const state = group.coreState;
  const processed = processCommit(state, message, { policy });
  const next = processed.state;
  if (next === undefined) throw new Error('the commit removes every member of this gateway');
  const sender = message.publicMessage.content.sender;
  const external = sender.senderType === SenderType.new_member_commit;
  const committerNode = next.tree.leafNode(processed.effects.committerLeaf);
  const committer = committerNode ? userOfCredential(committerNode.credential) : undefined;
  if (committer === undefined) throw new Error('the committer has no MIMI user credential');
  const userIn = (tree: typeof state.tree, leaf: number): UserUri => {
    const node = tree.leafNode(leaf);
    const user = node ? userOfCredential(node.credential) : undefined;
    if (user === undefined) throw new Error(`the client at leaf ${leaf} has no MIMI user credential`);
    return user;
  };
  const addedClients = processed.effects.addedLeaves.map((l) => userIn(next.tree, l));
  if (external && !addedClients.includes(committer)) addedClients.push(committer);
  return {
    committer,
    external,
    before: participantsOf(state.context.extensions),
    after: participantsOf(next.context.extensions),
    addedClients,
    removedClients: processed.effects.removedLeaves.map((l) => userIn(state.tree, l)),
  };
}
