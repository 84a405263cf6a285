/**
 * Issue 10 item 6 at the hub: unlinking a room we hub tells the followers. In the unlink's
 * transaction the bot commits the Removes of every client of other providers together with the
 * participant list without their users, the reason in the commit's authenticated_data
 * (`unlink-notice.ts`); the commit is fanned out to every follower (they had clients before it).
 * After the transaction, the removed users' ghosts leave the legacy room.
 */
import { Injectable, Logger } from '@nestjs/common';
import { errorMessage } from '../../common/errors';
import { type UserUri, domainOf } from '../../common/ids';
import type { GatewayGroupSummary } from '../../mls';
import type { Tx } from '../../persistence';
import type { RoomRecord } from '../../persistence/repositories/room.repository';
import { hasPuppetMembership } from '../../ports';
import { HubCommits } from '../hub-commits';
import { RoomSupport } from '../room-support';
import { unlinkAuthenticatedData } from '../unlink-notice';

/** The clients (leaves) and participants of other providers than `domain` in a group. */
export function othersIn(
  view: Pick<GatewayGroupSummary, 'members' | 'participants'>,
  domain: string,
): { leaves: number[]; users: UserUri[]; keep: GatewayGroupSummary['participants'] } {
  const foreign = (u: UserUri | undefined): boolean => u === undefined || domainOf(u) !== domain;
  const leaves = view.members.filter((m) => foreign(m.user)).map((m) => m.leafIndex);
  const users = [
    ...new Set([
      ...view.participants.filter((p) => foreign(p.user)).map((p) => p.user),
      ...view.members.flatMap((m) => (m.user !== undefined && foreign(m.user) ? [m.user] : [])),
    ]),
  ];
  return { leaves, users, keep: view.participants.filter((p) => !foreign(p.user)) };
}

@Injectable()
export class HubUnlink {
  private readonly logger = new Logger(HubUnlink.name);

  constructor(
    private readonly support: RoomSupport,
    private readonly commits: HubCommits,
  ) {}

  /**
   * In `tx` (under the room's lock): the bot's commit removing the other providers' clients and
   * participants, with `reason`. Resolves with the users removed (none: no commit).
   */
  async removeOthers(tx: Tx, room: RoomRecord, reason: string): Promise<UserUri[]> {
    const others = othersIn(await this.commits.botView(room.roomUri), this.support.domain);
    if (others.users.length === 0 && others.leaves.length === 0) return [];
    await this.commits.commitByBot(tx, room, {
      remove: others.leaves,
      participants: others.keep,
      authenticatedData: unlinkAuthenticatedData(reason),
    });
    this.logger.log(`room=${room.roomUri}: unlinked; removed ${others.users.join(', ')} (${reason})`);
    return others.users;
  }

  /** After the unlink: the removed users' ghosts leave the legacy room (best effort). */
  async ghostsLeave(room: RoomRecord, users: readonly UserUri[]): Promise<void> {
    const bridge = this.support.bridge(room.platform);
    if (!hasPuppetMembership(bridge)) return;
    for (const user of users) {
      await bridge
        .setMembership(this.support.legacyRoom(room), { userUri: user }, 'leave')
        .catch((e: unknown) => this.logger.warn(`room=${room.roomUri}: ghost leave of ${user}: ${errorMessage(e)}`));
    }
  }
}
