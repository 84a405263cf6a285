/**
 * Membership and role events for the core, from presences: one at a time as they come
 * (presence.ts), or as the difference between the occupants the bot finds on (re)joining and those
 * the journal remembers (natives who came, or whose role changed, while the bridge was away; one
 * who is absent only went offline, membership-rule.ts).
 */
import { randomUUID } from 'node:crypto';
import { type LegacyUserRef, type Membership, ParticipantRole } from '../../../src/ports';
import type { OccupantIdentity, PortUser } from '../muc/occupant-identity';
import { type MucRooms, roomRef } from '../muc/rooms';
import { participantRoleOf } from '../protocol/muc-roles';
import type { ParsedMucPresence } from '../protocol/stanzas';
import type { RoomRuntime } from '../state/muc-room';
import type { CoreDelivery } from './core-delivery';

export class MembershipEvents {
  constructor(
    private readonly rooms: MucRooms,
    private readonly identity: OccupantIdentity,
    private readonly delivery: CoreDelivery,
  ) {}

  /** After a (re)join: report natives who came or left while we were away, and role changes. */
  reportOccupantDiff(r: RoomRuntime): void {
    const now = new Map<string, { user: LegacyUserRef; nick: string; role: ParticipantRole }>();
    for (const o of r.occupants.values()) {
      if (o.own === undefined) o.own = this.identity.ownerOf(r, o);
      if (o.own !== undefined) continue;
      const user = this.identity.occupantUser(r, o) as LegacyUserRef;
      now.set(user.userId, { user, nick: o.nick, role: participantRoleOf(o.affiliation, o.role) });
    }
    const previous = r.state.occupants;
    for (const [userId, entry] of now) {
      const was = previous[userId];
      if (!was) {
        this.membership(r, entry.user, 'join');
        if (entry.role !== ParticipantRole.Member) this.role(r, entry.user, entry.role);
      } else if (was.role !== entry.role) {
        this.role(r, entry.user, entry.role);
      }
    }
    // Those absent now went offline or closed the room while we were away: presence, not membership
    // (membership-rule.ts). They stay participants, remembered until a kick, a ban or `!mimi leave`.
    for (const [id, e] of now) previous[id] = { nick: e.nick, role: e.role };
    this.rooms.changed();
  }

  /** A membership event, with the actor and reason of the presence when it names them. */
  membership(r: RoomRuntime, user: PortUser, membership: Membership, p?: ParsedMucPresence): void {
    const by = p?.actorJid
      ? this.identity.userOfJid(p.actorJid, p.actorNick)
      : p?.actorNick
        ? this.identity.occupantUserByNick(r, p.actorNick)
        : undefined;
    this.delivery.deliver(r, [
      {
        kind: 'membership',
        room: roomRef(r.jid),
        platformEventId: `xmpp-presence:${randomUUID()}`,
        user,
        membership,
        ...(by && !('userUri' in by) ? { by } : {}),
        ...(p?.reason ? { reason: p.reason } : {}),
        timestamp: Date.now(),
      },
    ]);
  }

  role(r: RoomRuntime, user: PortUser, role: ParticipantRole, p?: ParsedMucPresence): void {
    const by = p?.actorNick ? this.identity.occupantUserByNick(r, p.actorNick) : undefined;
    this.delivery.deliver(r, [
      {
        kind: 'role',
        room: roomRef(r.jid),
        platformEventId: `xmpp-presence:${randomUUID()}`,
        user,
        role,
        ...(by && !('userUri' in by) ? { by } : {}),
        timestamp: Date.now(),
      },
    ]);
  }
}
