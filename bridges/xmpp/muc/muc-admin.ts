/**
 * Moderation and roles through muc#admin IQs from the bot (XEP-0045 §8–§10), and the room
 * snapshot (occupants plus affiliation lists) the core reads when it links a room.
 */
import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { ErrorCode, errorMessage, PlatformError } from '../../../src/common/errors';
import type { LegacyRoomRef, ParticipantRole, RoomSnapshot } from '../../../src/ports';
import type { XmppMode } from '../mode/xmpp-mode';
import { mucChangeFor, participantRoleOf } from '../protocol/muc-roles';
import { type AdminItem, buildAdminListGet, buildAdminSet, parseAdminList } from '../protocol/stanzas';
import type { IqClient } from '../session/iq-client';
import { XmppStanzaError } from '../session/stanza-error';
import type { RoomRuntime } from '../state/muc-room';
import type { MucOccupancy } from './occupancy';
import { type OccupantIdentity, type PortUser, userKey } from './occupant-identity';
import type { RoomInfo } from './room-info';
import { type MucRooms, roomRef } from './rooms';

export class MucAdmin {
  private readonly logger = new Logger('XmppBridge');

  constructor(
    private readonly iq: IqClient,
    private readonly mode: XmppMode,
    private readonly rooms: MucRooms,
    private readonly occupancy: MucOccupancy,
    private readonly identity: OccupantIdentity,
    private readonly roomInfo: RoomInfo,
    private readonly joinTimeoutMs: number,
  ) {}

  /** Kick = role none by nick (§8.2); ban = affiliation outcast by JID (§9.1); unban = none. */
  async moderate(
    room: LegacyRoomRef,
    target: PortUser,
    action: 'kick' | 'ban' | 'unban',
    reason?: string,
  ): Promise<void> {
    const r = this.rooms.linked(room);
    await this.occupancy.ensureBot(r, Date.now() + this.joinTimeoutMs);
    const who = this.identity.resolveTarget(r, target);
    if (who === undefined) return; // a MIMI user without an occupant of its own (relay mode)
    let item: AdminItem;
    if (action === 'kick') {
      // XEP-0045 §8.2: kicking is a role change to none, by nick.
      if (who.nick === undefined) return; // not an occupant: nothing to kick, idempotent
      item = { nick: who.nick, role: 'none', reason };
    } else {
      if (who.jid === undefined) {
        throw new PlatformError(ErrorCode.PlatformRejected, `cannot ${action} ${userKey(target)}: real JID unknown`, {
          retryable: false,
        });
      }
      // XEP-0045 §9.1 ban = affiliation outcast; unban = affiliation none.
      item = { jid: who.jid, affiliation: action === 'ban' ? 'outcast' : 'none', reason };
    }
    await this.adminSet(r, [item], `${action} ${userKey(target)}`);
  }

  /** Owner/Admin/Member/Banned → affiliation (needs the real JID); Moderator/Visitor → role (needs the occupant). */
  async setRole(room: LegacyRoomRef, user: PortUser, role: ParticipantRole): Promise<void> {
    const r = this.rooms.linked(room);
    await this.occupancy.ensureBot(r, Date.now() + this.joinTimeoutMs);
    const who = this.identity.resolveTarget(r, user);
    const change = mucChangeFor(role);
    if (who === undefined) return; // a MIMI user without an occupant of its own (relay mode)
    if (change.kind === 'affiliation') {
      if (who.jid === undefined) {
        throw new PlatformError(ErrorCode.PlatformRejected, `cannot make ${userKey(user)} ${role}: real JID unknown`, {
          retryable: false,
        });
      }
      await this.adminSet(r, [{ jid: who.jid, affiliation: change.affiliation }], `set ${role}`);
      return;
    }
    if (who.nick === undefined) {
      throw new PlatformError(ErrorCode.PlatformRejected, `cannot make ${userKey(user)} ${role}: not in the room`, {
        retryable: false,
      });
    }
    await this.adminSet(r, [{ nick: who.nick, role: change.role }], `set ${role}`);
  }

  /** The bot's occupant list, the affiliation lists (absent members too), disco#info name, subject. */
  async snapshot(room: LegacyRoomRef): Promise<RoomSnapshot> {
    const r = this.rooms.linked(room);
    await this.occupancy.ensureBot(r, Date.now() + this.joinTimeoutMs);
    const members = new Map<string, { user: PortUser; role: ParticipantRole }>();
    for (const o of r.occupants.values()) {
      if (o.own === '') continue;
      const user = this.identity.occupantUser(r, o);
      members.set(userKey(user), { user, role: participantRoleOf(o.affiliation, o.role) });
    }
    // Absent users with an affiliation are members too (owners, admins, members, outcasts).
    for (const affiliation of ['owner', 'admin', 'member', 'outcast'] as const) {
      try {
        const res = await this.iq.request(
          buildAdminListGet({ from: this.mode.botFrom(), to: r.jid, id: randomUUID(), affiliation }),
        );
        for (const item of parseAdminList(res)) {
          if (this.identity.isBotJid(item.jid)) continue;
          const user = this.identity.userOfJid(item.jid, item.nick);
          const key = userKey(user);
          if (!members.has(key)) members.set(key, { user, role: participantRoleOf(item.affiliation, undefined) });
        }
      } catch (e) {
        this.logger.debug(`${r.jid}: ${affiliation} list not readable: ${errorMessage(e)}`);
      }
    }
    await this.roomInfo.discover(r);
    const rules = await this.roomInfo.rules(room).catch((e: unknown) => {
      this.logger.debug(`${r.jid}: rules not readable (${errorMessage(e)}); the core's defaults apply`);
      return undefined;
    });
    return { room: roomRef(r.jid), name: r.name, topic: r.state.subject, members: [...members.values()], ...rules };
  }

  private async adminSet(r: RoomRuntime, items: AdminItem[], what: string): Promise<void> {
    try {
      await this.iq.request(buildAdminSet({ from: this.mode.botFrom(), to: r.jid, id: randomUUID(), items }));
    } catch (e) {
      if (e instanceof XmppStanzaError) {
        throw new PlatformError(e.code, `${r.jid}: ${what} refused: ${e.info.condition}`, {
          retryable: e.retryable,
          cause: e,
        });
      }
      throw e;
    }
  }
}
