/**
 * protocol-06 §5.3 at the hub: a follower's commit (`/update`). MLS verifies it first, on a copy
 * of the group state and with the hub's commit policy (`hub-commit-policy.ts`); the room policy
 * authorises it; only then does the legacy room change, and the verified commit is applied (issue
 * 9: a commit MLS refuses changes nothing on the platform).
 */
import { Injectable, Logger } from '@nestjs/common';
import { ErrorCode, GatewayError, errorMessage } from '../common/errors';
import { type ProviderDomain, type RoomUri, type UserUri, domainOf } from '../common/ids';
import type { UpdateRequest, UpdateRoomResponse } from '../mimi/wire';
import {
  BANNED_ROLE_INDEX,
  type CommitPreview,
  EpochVerdict,
  type GatewayGroupSummary,
  checkEpoch,
  groupIdForRoom,
  inspectMlsMessage,
} from '../mls';
import type { RoomRecord } from '../persistence/repositories/room.repository';
import { RoomTransactions } from '../persistence/room-transactions';
import { auditRefusal, claimedMember } from './hub/hub-audit';
import {
  type LegacyUserRef,
  type Moderation,
  ParticipantRole,
  type PuppetMembership,
  type RemoteUser,
  canModerate,
  hasPuppetMembership,
  hasRoles,
  hasRoomDetails,
} from '../ports';
import { HubCommits } from './hub-commits';
import { HubProposals } from './hub/hub-proposals';
import { KeyPackageRoutes, welcomeRefs } from './hub/key-package-routes';
import { MlsGroups } from './mls-groups';
import { RoomLocks } from './room-locks';
import {
  type ProposedChange,
  authoriseChange,
  diffParticipants,
  mayOpenJoin,
  participantOf,
  roleIndexOf,
  roleOfIndex,
} from './room-policy';
import { type FanoutItem, RoomSupport, need } from './room-support';
import { detailsChange, readRoomState, rolesOf } from './room-state/room-components';
import type { Role } from '../mimi/room-state';
import { commitFanout, welcomeFanout } from './wire-support';

const MEMBER_ROLE = roleIndexOf(ParticipantRole.Member);

/**
 * What a follower's commit does, as MLS verified it (`GatewayGroup.previewCommit`): the committer
 * (for an external commit, RFC 9420 §12.4.3.2, the joiner, whose client counts as added).
 */
type VerifiedCommit = Omit<ProposedChange, 'peerDomain' | 'roles'> & {
  readonly external: boolean;
  /** The roles_list before the commit; undefined for a group linked before it existed. */
  readonly roles: readonly Role[] | undefined;
};

@Injectable()
export class HubUpdates {
  private readonly logger = new Logger(HubUpdates.name);

  constructor(
    private readonly support: RoomSupport,
    private readonly groups: MlsGroups,
    private readonly commits: HubCommits,
    private readonly transactions: RoomTransactions,
    private readonly locks: RoomLocks,
    private readonly proposals: HubProposals,
    private readonly routes: KeyPackageRoutes,
  ) {}

  /**
   * protocol-06 §5.3 for a follower's commit, in this order (issue 9: nothing happens on the
   * platform for a commit MLS refuses):
   * 1. current epoch (else `wrongEpoch`);
   * 2. MLS verification on the current state, nothing applied (`GatewayGroup.previewCommit`): signature,
   *    membership tag, proposals, path, confirmation tag, and the hub's commit policy
   *    (`hub-commit-policy.ts`: only participant-list AppDataUpdates the room policy allows, no
   *    GroupContextExtensions or other extension change) — else `notAllowed`;
   * 3. the room policy for the calling provider (`authoriseChange`, or `authoriseExternalJoin`);
   * 4. the change on the legacy side (ghost joins/leaves, kicks, roles); a refusal → `notAllowed`;
   * 5. the bot applies the commit for all our members, it is fanned out (the Welcome to the
   *    joiners' provider); users who left the list while keeping clients (a leave: a committer
   *    cannot remove its own leaf) lose them in a follow-up commit of the bot.
   */
  async update(peer: ProviderDomain, roomUri: RoomUri, request: UpdateRequest): Promise<UpdateRoomResponse> {
    // A stand-alone proposal (SelfRemove): hub/hub-proposals.ts.
    if (request.bundle.contentType === 'proposal') return this.proposals.update(peer, roomUri, request.bundle);
    return this.locks.run(roomUri, async () => {
      const room = await this.commits.hubRoom(roomUri);
      const bundle = request.bundle;
      let claimedSender: string | undefined;
      const refuse = (reason: string): UpdateRoomResponse => {
        auditRefusal(this.logger, { endpoint: 'update', peer, roomUri, claimedSender, reason });
        return { responseCode: 'notAllowed', errorDescription: reason };
      };
      if (bundle.contentType !== 'commit') return refuse('not a commit');
      const group = await this.groups.requireGroup(roomUri);
      const view = group.summary();
      let header;
      try {
        header = inspectMlsMessage(bundle.proposalOrCommit);
      } catch (e) {
        return refuse(errorMessage(e));
      }
      claimedSender = claimedMember(header, view.members);
      const check = checkEpoch(header, { groupId: groupIdForRoom(roomUri), epoch: view.epoch });
      if (check.verdict === EpochVerdict.WrongEpoch) {
        return { responseCode: 'wrongEpoch', errorDescription: check.reason, currentEpoch: check.currentEpoch };
      }
      if (check.verdict !== EpochVerdict.Ok) return refuse(check.reason);
      let preview: CommitPreview;
      try {
        preview = await group.previewCommit(bundle.proposalOrCommit);
      } catch (e) {
        return refuse(`invalid commit: ${errorMessage(e)}`);
      }
      if (preview.verdict === 'wrongEpoch') {
        return {
          responseCode: 'wrongEpoch',
          errorDescription: preview.reason ?? '',
          currentEpoch: preview.currentEpoch,
        };
      }
      claimedSender = preview.committer ?? claimedSender;
      if (preview.verdict !== 'ok' || preview.committer === undefined) {
        return refuse(`invalid commit: ${preview.reason ?? 'the committer has no MIMI user credential'}`);
      }
      // Adds of a third provider's users: their KeyPackages must have come through us (protocol-06 §3.3).
      const routing = await this.routes.route(roomUri, welcomeRefs(bundle.welcome), this.support.now());
      const viaHub = new Set(routing.routed.filter((k) => k.route.requester === peer).map((k) => k.route.user));
      const verified: VerifiedCommit = {
        roles: readRoomState(group.coreState.context.extensions).roles,
        committer: preview.committer,
        external: preview.external === true,
        before: preview.participantsBefore,
        after: preview.participantsAfter ?? preview.participantsBefore,
        addedClients: preview.addedUsers ?? [],
        removedClients: preview.removedUsers ?? [],
      };
      const decision = verified.external
        ? await this.authoriseExternalJoin(room, peer, verified, view)
        : authoriseChange({
            roles: verified.roles ?? rolesOf(group.coreState.context.extensions),
            peerDomain: peer,
            committer: verified.committer,
            before: verified.before,
            after: verified.after,
            addedClients: verified.addedClients,
            removedClients: verified.removedClients,
            viaHub,
          });
      if (!decision.allowed) return refuse(decision.reason);
      const diff = diffParticipants(verified.before, verified.after);
      try {
        await this.applyOnLegacySide(room, diff, verified.committer);
        await this.applyMetadata(room, group.coreState.context.extensions, preview.extensionsAfter);
      } catch (e) {
        return refuse(`the legacy room refused the change: ${errorMessage(e)}`);
      }
      const acceptedAt = this.support.now();
      await this.transactions.run(async (tx) => {
        const processed = await this.support.processHandshake(tx, roomUri, bundle.proposalOrCommit);
        if (processed?.kind !== 'commit') throw new GatewayError(ErrorCode.Internal, 'a verified commit did not apply');
        const items: FanoutItem[] = [
          {
            destinations: this.support.followerDomains(view),
            message: commitFanout({ commit: bundle.proposalOrCommit }, acceptedAt),
          },
        ];
        if (bundle.welcome !== undefined) {
          const tree =
            bundle.ratchetTreeOption.representation === 'full'
              ? bundle.ratchetTreeOption.ratchetTree
              : (await group.groupInfo(this.groups.botUser)).ratchetTree;
          // protocol-06 §4.3.1: to where each KeyPackage was fetched (KeyPackageRoutes); KeyPackages
          // not fetched through us can only be the follower's own users' (policy above).
          const joinerDomains = new Set(routing.destinations.keys());
          if (routing.unknown.length > 0) joinerDomains.add(peer);
          joinerDomains.delete(this.support.domain);
          await this.routes.forget(routing.routed.map((k) => k.ref));
          items.push({ destinations: [...joinerDomains], message: welcomeFanout(bundle.welcome, tree, acceptedAt) });
        }
        await this.support.fanout(tx, roomUri, items);
      });
      // Participants the follower took off the list (or banned) must not keep clients (protocol-06 §5.3).
      const current = await this.commits.botView(roomUri);
      const leaves = current.members
        .filter((m) => {
          if (m.user === undefined || m.user === this.groups.botUser) return false;
          const p = participantOf(current.participants, m.user);
          return p === undefined || p.roleIndex === BANNED_ROLE_INDEX;
        })
        .map((m) => m.leafIndex);
      if (leaves.length > 0) {
        await this.transactions.run((tx) => this.commits.commitByBot(tx, room, { remove: leaves }));
      }
      this.logger.log(
        verified.external
          ? `room=${roomUri}: ${verified.committer} (${peer}) joined by external commit`
          : `room=${roomUri}: applied a commit of ${verified.committer} (${peer})`,
      );
      return { responseCode: 'success', errorDescription: '', acceptedTimestamp: BigInt(acceptedAt) };
    });
  }

  /**
   * Who may join by external commit (protocol-06 §5.6 "a new device of an existing participant;
   * open rooms"): a user of the calling provider who is a participant that is not banned (a new
   * or resynchronised client), or anybody not banned when the legacy room is public. The commit
   * may remove only the joiner's own old clients, and change the list only by adding the joiner
   * as member (its own AppDataUpdate, protocol-06 §5.3); a joiner who is not yet a participant
   * must add itself that way.
   */
  private async authoriseExternalJoin(
    room: RoomRecord,
    peer: ProviderDomain,
    commit: VerifiedCommit,
    view: GatewayGroupSummary,
  ): Promise<{ allowed: true } | { allowed: false; reason: string }> {
    const joiner = commit.committer;
    if (domainOf(joiner) !== peer) return { allowed: false, reason: `${joiner} is not a user of ${peer}` };
    if (commit.removedClients.some((u) => u !== joiner)) {
      return { allowed: false, reason: 'an external joiner may only remove its own old client' };
    }
    const diff = diffParticipants(commit.before, commit.after);
    const onlyJoiner =
      diff.removed.length === 0 &&
      diff.roleChanges.length === 0 &&
      diff.added.every((p) => p.user === joiner && p.roleIndex <= MEMBER_ROLE);
    if (!onlyJoiner) return { allowed: false, reason: 'an external commit may only add the joiner as member' };
    const entry = participantOf(view.participants, joiner);
    if (entry?.roleIndex === BANNED_ROLE_INDEX) return { allowed: false, reason: `${joiner} is banned` };
    if (entry === undefined && participantOf(commit.after, joiner) === undefined) {
      return { allowed: false, reason: `${joiner} joins without its participant entry` };
    }
    if (entry !== undefined) return { allowed: true };
    // An open room: role 0 has canOpenJoin in the roles_list (room-policy-03 §8.1.1), and the legacy
    // room is still public (a change not yet written to the roles_list counts too).
    const joinerRole = participantOf(commit.after, joiner)!.roleIndex;
    const open = commit.roles === undefined || mayOpenJoin(commit.roles, joinerRole);
    if (!open || (await this.support.joinRuleOf(room)) !== 'public') {
      return { allowed: false, reason: `${room.roomUri} is not open: ${joiner} needs an invitation` };
    }
    return { allowed: true };
  }

  /** A follower's room_metadata change: the legacy room's name/topic first (protocol-06 §7.6 via /update). */
  private async applyMetadata(
    room: RoomRecord,
    before: Parameters<typeof readRoomState>[0],
    after: Parameters<typeof readRoomState>[0] | undefined,
  ): Promise<void> {
    const details = detailsChange(readRoomState(before).metadata, after && readRoomState(after).metadata);
    if (details === undefined) return;
    const bridge = this.support.bridge(room.platform);
    await need(bridge, hasRoomDetails, 'room details').setRoomDetails(this.support.legacyRoom(room), details);
  }

  /**
   * Carry a follower's participant change out in the legacy room (ARCHITECTURE §2 flow 4). A
   * participant who leaves on their own makes their ghost leave; one removed or banned by somebody
   * else is kicked or banned by the bridge's bot, with the MIMI user who did it as the reason (a
   * bridge that cannot kick the ghost makes it leave instead).
   */
  private async applyOnLegacySide(
    room: RoomRecord,
    diff: ReturnType<typeof diffParticipants>,
    committer: UserUri,
  ): Promise<void> {
    const bridge = this.support.bridge(room.platform);
    const membership = (): PuppetMembership => need(bridge, hasPuppetMembership, 'puppet membership');
    const moderation = (): Moderation => need(bridge, canModerate, 'moderation');
    const legacyRoom = this.support.legacyRoom(room);
    const reason = `by ${committer} (MIMI)`;
    for (const p of diff.added) {
      if (!this.support.isOurs(p.user)) {
        await membership().setMembership(
          legacyRoom,
          await this.support.profiles.remoteUser(room.platform, p.user),
          'join',
        );
      }
    }
    for (const p of diff.removed) {
      const native = this.support.nativeUser(p.user);
      if (native) {
        await moderation().moderate(legacyRoom, native, p.roleIndex === BANNED_ROLE_INDEX ? 'unban' : 'kick', reason);
      } else if (this.support.isOurs(p.user)) {
        continue;
      } else if (p.roleIndex === BANNED_ROLE_INDEX) {
        await moderation().moderate(legacyRoom, { userUri: p.user }, 'unban', reason);
      } else if (p.user === committer) {
        await membership().setMembership(legacyRoom, { userUri: p.user }, 'leave');
      } else {
        await Promise.resolve()
          .then(() => moderation().moderate(legacyRoom, { userUri: p.user }, 'kick', reason))
          .catch(async (e: unknown) => {
            this.logger.warn(`room=${room.roomUri}: kick of ${p.user}: ${errorMessage(e)}; its ghost leaves instead`);
            await membership().setMembership(legacyRoom, { userUri: p.user }, 'leave');
          });
      }
    }
    for (const c of diff.roleChanges) {
      const target: LegacyUserRef | RemoteUser = this.support.nativeUser(c.user) ?? { userUri: c.user };
      if (c.to === BANNED_ROLE_INDEX) await moderation().moderate(legacyRoom, target, 'ban', reason);
      else await need(bridge, hasRoles, 'roles').setRole(legacyRoom, target, roleOfIndex(c.to));
    }
  }
}
