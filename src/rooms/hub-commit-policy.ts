/**
 * The hub's rule on commits to the rooms it hubs (issue 9, protocol-06 §5.3), run by the MLS core
 * on every commit before anything is applied (`CommitPolicy`, src/mls/core/group): a commit by a
 * member of another provider (a follower) may change the GroupContext only through AppDataUpdate
 * of the participant list and of room_metadata, and only as the room policy lets that user
 * (`authoriseChange`, `authoriseMetadataChange`; a third provider's user added must have come
 * through the hub's key-material proxy, which HubUpdates checks, since this policy does not see
 * the KeyPackageRoutes); any
 * GroupContextExtensions proposal (e.g. rewriting `external_senders`), any other component and any
 * other proposal type is refused. External commits may carry only ExternalInit, the Remove of the
 * joiner's old leaf and the joiner's participant entry (checked in full by `HubService.update`).
 * Commits of our own members (the bot, our puppets) and commits of rooms hubbed elsewhere pass.
 */
import { type ProviderDomain, type UserUri, domainOf } from '../common/ids';
import {
  type CommitPolicy,
  type CommittedProposal,
  MimiComponentId,
  type Participant,
  ProposalType,
  SenderType,
  decodeParticipantList,
  participantsOf,
  roomUriForGroupId,
  userOfCredential,
} from '../mls';
import { type RoomMetadata, decodeRoomMetadata } from '../mimi/room-state';
import { authoriseChange, authoriseMetadataChange } from './room-policy';
import { readRoomState, rolesOf } from './room-state/room-components';

/** What a follower's commit does to the room, read from its proposals. */
interface FollowerCommitChanges {
  readonly participants?: Participant[];
  /** A new room_metadata (protocol-06 §7.6), e.g. a topic changed in a mirror room. */
  readonly metadata?: RoomMetadata;
  readonly addedClients: UserUri[];
  readonly removedClients: UserUri[];
}

type Tree = Parameters<CommitPolicy>[0]['tree'];

/** The participant list, added and removed clients of a commit's proposals; a reason string when one is not allowed. */
function followerCommitChanges(
  proposals: readonly CommittedProposal[],
  tree: Tree,
  external: boolean,
): FollowerCommitChanges | string {
  const addedClients: UserUri[] = [];
  const removedClients: UserUri[] = [];
  let participants: Participant[] | undefined;
  let metadata: RoomMetadata | undefined;
  for (const { proposal, ref } of proposals) {
    if (ref !== undefined) return 'proposal references are not accepted';
    if ('custom' in proposal) return `proposal type ${proposal.proposalType} is not accepted from followers`;
    switch (proposal.proposalType) {
      case ProposalType.add: {
        if (external) return 'an external commit may not add clients';
        const user = userOfCredential(proposal.add.keyPackage.leafNode.credential);
        if (user === undefined) return 'an added client has no MIMI user credential';
        addedClients.push(user);
        break;
      }
      case ProposalType.remove: {
        const node = tree.leafNode(proposal.remove.removed);
        const user = node ? userOfCredential(node.credential) : undefined;
        if (user === undefined) return `no member at leaf ${proposal.remove.removed}`;
        removedClients.push(user);
        break;
      }
      case ProposalType.external_init:
        if (!external) return 'ExternalInit outside an external commit';
        break;
      case ProposalType.app_data_update: {
        const u = proposal.appDataUpdate;
        if (u.componentId === MimiComponentId.RoomMetadata && 'update' in u && !external) {
          try {
            metadata = decodeRoomMetadata(u.update);
          } catch (e) {
            return `bad room_metadata: ${(e as Error).message}`;
          }
          break;
        }
        if (u.componentId !== MimiComponentId.ParticipantList) {
          return `followers may not change app_data_dictionary component 0x${u.componentId.toString(16)}`;
        }
        if (!('update' in u)) return 'followers may not remove the participant list';
        try {
          participants = decodeParticipantList(u.update);
        } catch (e) {
          return `bad participant list: ${(e as Error).message}`;
        }
        break;
      }
      case ProposalType.group_context_extensions:
        return 'followers may not change GroupContext extensions (GroupContextExtensions proposal)';
      case ProposalType.update:
      case ProposalType.psk:
      case ProposalType.reinit:
      case ProposalType.app_ephemeral:
      case ProposalType.self_remove:
        return `proposal type ${proposal.proposalType} is not accepted from followers`;
    }
  }
  return { ...(participants ? { participants } : {}), ...(metadata ? { metadata } : {}), addedClients, removedClients };
}

/** The `CommitPolicy` of this provider's hub rooms. */
export function hubCommitPolicy(domain: ProviderDomain): CommitPolicy {
  return ({ committer, proposals, context, tree }) => {
    const room = roomUriForGroupId(context.groupId);
    if (room === undefined || domainOf(room) !== domain) return undefined; // a room hubbed elsewhere
    const external = committer.senderType === SenderType.new_member_commit;
    let user: UserUri | undefined;
    if (committer.senderType === SenderType.member) {
      const node = tree.leafNode(committer.leafIndex);
      user = node ? userOfCredential(node.credential) : undefined;
      if (user === undefined) return `no MIMI user at leaf ${committer.leafIndex}`;
      if (domainOf(user) === domain) return undefined; // our bot and puppets
    } else if (!external) {
      return 'only members and external joiners may commit';
    }
    const changes = followerCommitChanges(proposals, tree, external);
    if (typeof changes === 'string') return changes;
    if (external) {
      if (proposals.filter((p) => p.proposal.proposalType === ProposalType.external_init).length !== 1) {
        return 'an external commit needs exactly one ExternalInit';
      }
      return undefined; // the joiner is checked by HubService.update (its UpdatePath leaf)
    }
    const before = participantsOf(context.extensions);
    const roles = rolesOf(context.extensions);
    if (changes.metadata !== undefined) {
      const was = readRoomState(context.extensions).metadata;
      const allowed = authoriseMetadataChange(roles, before, user!, was, changes.metadata);
      if (!allowed.allowed) return allowed.reason;
    }
    const peerDomain = domainOf(user!)!;
    const decision = authoriseChange({
      roles,
      peerDomain,
      committer: user!,
      before,
      after: changes.participants ?? before,
      addedClients: changes.addedClients,
      removedClients: changes.removedClients,
      // Users of a third provider: whether their KeyPackages came through this hub (KeyPackageRoutes)
      // is checked by HubUpdates before the commit is previewed; the roles are checked here too.
      viaHub: new Set(changes.addedClients.filter((u) => domainOf(u) !== peerDomain)),
    });
    return decision.allowed ? undefined : decision.reason;
  };
}
