/**
 * protocol-06 §5.3 at the hub: a follower's stand-alone proposal on `/update`. Today: SelfRemove
 * (mls-extensions-09 §9), how a follower's client leaves. The hub checks the proposal's epoch and
 * sender, MLS verifies it (signature, membership tag) and caches it in the group, the legacy
 * room shows the leave (the ghost leaves when the user has no client left), and at once the bot
 * commits it by reference together with the participant-list change (protocol-06 §3.5: the next
 * commit includes the cached proposals; there is no other commit in between, the room lock is
 * held). The proposal is fanned out before the commit, so that every follower can resolve the
 * reference. Other proposal types are refused with `notAllowed` (followers send commits).
 */
import { Injectable, Logger } from '@nestjs/common';
import { errorMessage } from '../../common/errors';
import { type ProviderDomain, type RoomUri, type UserUri, domainOf } from '../../common/ids';
import { roleMayChange } from '../../mimi/room-state';
import { type FanoutMessage, type HandshakeBundle, type UpdateRoomResponse, asMlsMessage } from '../../mimi/wire';
import {
  EpochVerdict,
  type ProposalInfo,
  ProposalType,
  SenderType,
  checkEpoch,
  groupIdForRoom,
  inspectMlsMessage,
  inspectProposal,
} from '../../mls';
import { RoomTransactions } from '../../persistence/room-transactions';
import { hasPuppetMembership } from '../../ports';
import { HubCommits } from '../hub-commits';
import { MlsGroups } from '../mls-groups';
import { RoomLocks } from '../room-locks';
import { auditRefusal, claimedMember } from './hub-audit';
import { participantOf } from '../room-policy';
import { RoomSupport, need } from '../room-support';
import { rolesOf } from '../room-state/room-components';

type ProposalBundle = Extract<HandshakeBundle, { contentType: 'proposal' }>;

/** protocol-06 §5.5: a proposal the hub accepted, fanned out on its own (no further proposals). */
export function proposalFanout(proposal: Uint8Array, timestamp: number): FanoutMessage {
  return { timestamp: BigInt(timestamp), message: asMlsMessage(proposal), messageKind: 'proposal', moreProposals: [] };
}

/**
 * Why the hub does not take a stand-alone proposal from `peer`, or undefined when it is a
 * SelfRemove of a member client of one of `peer`'s users. Pure: `userAt` gives the user of a leaf.
 */
export function selfRemoveRefusal(
  info: ProposalInfo,
  peer: ProviderDomain,
  userAt: (leaf: number) => UserUri | undefined,
): string | undefined {
  if (info.proposalType !== ProposalType.self_remove) {
    return `proposal type 0x${info.proposalType.toString(16).padStart(4, '0')} is not accepted alone; send a commit`;
  }
  if (info.senderType !== SenderType.member || info.senderLeaf === undefined) {
    return 'a SelfRemove must come from a member';
  }
  const user = userAt(info.senderLeaf);
  if (user === undefined) return `no MIMI user at leaf ${info.senderLeaf}`;
  if (domainOf(user) !== peer) return `${user} is not a user of ${peer}`;
  return undefined;
}

@Injectable()
export class HubProposals {
  private readonly logger = new Logger(HubProposals.name);

  constructor(
    private readonly support: RoomSupport,
    private readonly groups: MlsGroups,
    private readonly commits: HubCommits,
    private readonly transactions: RoomTransactions,
    private readonly locks: RoomLocks,
  ) {}

  async update(peer: ProviderDomain, roomUri: RoomUri, bundle: ProposalBundle): Promise<UpdateRoomResponse> {
    return this.locks.run(roomUri, async () => {
      const room = await this.commits.hubRoom(roomUri);
      let claimedSender: string | undefined;
      const refuse = (reason: string): UpdateRoomResponse => {
        auditRefusal(this.logger, { endpoint: 'update', peer, roomUri, claimedSender, reason });
        return { responseCode: 'notAllowed', errorDescription: reason };
      };
      if (bundle.moreProposals.length > 0) return refuse('moreProposals are not accepted; send one SelfRemove');
      const group = await this.groups.requireGroup(roomUri);
      const view = group.summary();
      let info: ProposalInfo;
      try {
        const header = inspectMlsMessage(bundle.proposalOrCommit);
        claimedSender = claimedMember(header, view.members);
        const check = checkEpoch(header, { groupId: groupIdForRoom(roomUri), epoch: view.epoch });
        if (check.verdict === EpochVerdict.WrongEpoch) {
          return { responseCode: 'wrongEpoch', errorDescription: check.reason, currentEpoch: check.currentEpoch };
        }
        if (check.verdict !== EpochVerdict.Ok) return refuse(check.reason);
        info = inspectProposal(bundle.proposalOrCommit);
      } catch (e) {
        return refuse(errorMessage(e));
      }
      const userAt = (leaf: number): UserUri | undefined => view.members.find((m) => m.leafIndex === leaf)?.user;
      const refusal = selfRemoveRefusal(info, peer, userAt);
      if (refusal !== undefined) return refuse(refusal);
      const leaver = userAt(info.senderLeaf!)!;
      const entry = participantOf(view.participants, leaver);
      const roles = rolesOf(group.coreState.context.extensions);
      if (entry !== undefined && !roleMayChange(roles, entry.roleIndex, entry.roleIndex, 0)) {
        return refuse(`the role of ${leaver} may not leave the room`);
      }
      const acceptedAt = this.support.now();
      try {
        await this.transactions.run(async (tx) => {
          const processed = await this.support.processHandshake(tx, roomUri, bundle.proposalOrCommit);
          if (processed?.kind !== 'proposal') throw new Error('the proposal did not verify');
          await this.support.fanout(tx, roomUri, [
            {
              destinations: this.support.followerDomains(view),
              message: proposalFanout(bundle.proposalOrCommit, acceptedAt),
            },
          ]);
          // The leaver's last client goes: its participant entry goes in the same commit.
          const lastClient = view.members.filter((m) => m.user === leaver).length === 1;
          const participants = lastClient ? view.participants.filter((p) => p.user !== leaver) : undefined;
          await this.commits.commitByBot(tx, room, participants ? { participants } : {});
        });
      } catch (e) {
        // Nothing was written; the group state in memory is reloaded by the failed transaction.
        return refuse(`invalid proposal: ${errorMessage(e)}`);
      }
      if (participantOf((await this.commits.botView(roomUri)).participants, leaver) === undefined) {
        await Promise.resolve()
          .then(() =>
            need(this.support.bridge(room.platform), hasPuppetMembership, 'puppet membership').setMembership(
              this.support.legacyRoom(room),
              { userUri: leaver },
              'leave',
            ),
          )
          .catch((e: unknown) => this.logger.warn(`room=${roomUri}: ghost leave of ${leaver}: ${errorMessage(e)}`));
      }
      this.logger.log(`room=${roomUri}: ${leaver} (${peer}) left by SelfRemove`);
      return { responseCode: 'success', errorDescription: '', acceptedTimestamp: BigInt(acceptedAt) };
    });
  }
}
