/**
 * MUC presences (XEP-0045 §7.2, §8, §9): our own joins are answered, the bot's view keeps the
 * occupant list and turns natives' comings, goings and role changes into events
 * (membership-events.ts), and a puppet's own presence tracks its nick and its removal.
 */
import { Logger } from '@nestjs/common';
import { type LegacyUserRef, ParticipantRole } from '../../../src/ports';
import type { XmppMode } from '../mode/xmpp-mode';
import type { MimiOccupants } from '../muc/mimi-occupants';
import type { MucOccupancy } from '../muc/occupancy';
import type { OccupantIdentity } from '../muc/occupant-identity';
import type { RoomSync } from '../muc/room-sync';
import type { MucRooms } from '../muc/rooms';
import { bare, parseJid } from '../protocol/jids';
import { participantRoleOf } from '../protocol/muc-roles';
import { userUriOfPuppetLocalpart } from '../protocol/puppet-jid';
import { MUC_STATUS, type ParsedMucPresence, parseMucPresence } from '../protocol/stanzas';
import type { XmlElement } from '../protocol/xml';
import { XmppStanzaError } from '../session/stanza-error';
import { photoHashOf } from '../media/vcard-avatars';
import type { XmppSession } from '../session/xmpp-session';
import type { Occupant, RoomRuntime } from '../state/muc-room';
import type { MembershipEvents } from './membership-events';
import { REMOVAL_STATUS, membershipEnded } from './membership-rule';

export class PresenceHandler {
  private readonly logger = new Logger('XmppBridge');

  constructor(
    private readonly session: XmppSession,
    private readonly mode: XmppMode,
    private readonly rooms: MucRooms,
    private readonly occupancy: MucOccupancy,
    private readonly members: MimiOccupants,
    private readonly identity: OccupantIdentity,
    private readonly sync: RoomSync,
    private readonly events: MembershipEvents,
    private readonly joinTimeoutMs: number,
  ) {}

  handle(el: XmlElement): void {
    const from = el.attrs.from ?? '';
    const roomJid = bare(from);
    const r = this.rooms.get(roomJid);
    if (!r || !from.includes('/')) return;
    const p = parseMucPresence(el);
    const to = el.attrs.to ?? '';
    const join = this.occupancy.pendingJoin(to, roomJid);
    if (p.type === 'error') {
      if (join) join.done.reject(new XmppStanzaError(p.error!, `joining ${roomJid}`));
      else this.logger.warn(`${roomJid}: presence error for ${to}: ${p.error?.condition ?? 'unknown'}`);
      return;
    }
    const isSelf = p.statusCodes.includes(MUC_STATUS.SELF);
    if (join && isSelf && p.type === 'available') join.done.resolve(p);
    if (this.mode.isBotAddress(to)) this.onBotViewPresence(r, p, isSelf, el);
    else if (isSelf) this.onPuppetSelfPresence(r, to, p);
  }

  /** A puppet's own presence: nick changes and removals. */
  private onPuppetSelfPresence(r: RoomRuntime, to: string, p: ParsedMucPresence): void {
    const userUri = userUriOfPuppetLocalpart(parseJid(to).local);
    const puppet = userUri ? r.puppets.get(userUri) : undefined;
    if (!puppet) return;
    if (p.type === 'available') {
      puppet.nick = p.nick;
      return;
    }
    if (p.statusCodes.includes(MUC_STATUS.NICK_CHANGED) && p.newNick) {
      puppet.nick = p.newNick;
      return;
    }
    puppet.joined = false;
    if ([MUC_STATUS.BANNED, ...REMOVAL_STATUS].some((c) => p.statusCodes.includes(c))) {
      puppet.removed = true;
      delete r.state.puppets[puppet.user.userUri];
      this.rooms.changed();
    }
  }

  /** Presence as the bot sees it: the occupant list, membership and role changes. */
  private onBotViewPresence(r: RoomRuntime, p: ParsedMucPresence, isSelf: boolean, el: XmlElement): void {
    if (isSelf) return this.onBotSelfPresence(r, p);
    const known = r.occupants.get(p.nick);
    if (p.type === 'unavailable') return this.onOccupantGone(r, p, known);
    // Available: a newcomer or a change of affiliation/role.
    const occupant: Occupant = known ?? { nick: p.nick };
    const before = known ? participantRoleOf(known.affiliation, known.role) : undefined;
    occupant.affiliation = p.affiliation;
    occupant.role = p.role;
    if (p.realJid) occupant.realJid = p.realJid;
    if (p.occupantId) occupant.occupantId = p.occupantId;
    const photo = photoHashOf(el);
    if (photo !== undefined) occupant.photo = photo;
    if (occupant.own === undefined) occupant.own = this.identity.ownerOf(r, occupant);
    r.occupants.set(p.nick, occupant);
    if (r.syncing) return;
    const role = participantRoleOf(occupant.affiliation, occupant.role);
    if (occupant.own === '') return;
    const user = this.identity.occupantUser(r, occupant);
    if (occupant.own === undefined) {
      const userId = (user as LegacyUserRef).userId;
      const persisted = r.state.occupants[userId];
      r.state.occupants[userId] = { nick: p.nick, role };
      this.rooms.changed();
      if (!known) {
        this.members.protectNicks(r, p.nick);
        if (!persisted) {
          this.events.membership(r, user, 'join', p);
          if (role !== ParticipantRole.Member) this.events.role(r, user, role, p);
          return;
        }
        if (persisted.role !== role) this.events.role(r, user, role, p);
        return;
      }
    }
    if (before !== undefined && before !== role) this.events.role(r, user, role, p);
  }

  /** The bot's own presence: removed from the room (rejoin unless banned or gone), renamed, or changed. */
  private onBotSelfPresence(r: RoomRuntime, p: ParsedMucPresence): void {
    if (p.type === 'unavailable' && !p.statusCodes.includes(MUC_STATUS.NICK_CHANGED)) {
      r.botJoined = false;
      r.occupants.clear();
      if (this.session.stopping) return;
      const why = p.destroyed
        ? 'the room was destroyed'
        : p.statusCodes.includes(MUC_STATUS.BANNED)
          ? 'the bridge was banned'
          : p.statusCodes.includes(MUC_STATUS.SHUTDOWN)
            ? 'the MUC service is shutting down'
            : 'the bridge was removed';
      this.logger.error(`${r.jid}: ${why}${p.reason ? ` (${p.reason})` : ''}`);
      if (!p.destroyed && !p.statusCodes.includes(MUC_STATUS.BANNED) && !p.statusCodes.includes(MUC_STATUS.SHUTDOWN)) {
        this.session.later(this.joinTimeoutMs / 3, () => void this.sync.syncRoom(r).catch(() => undefined));
      }
      return;
    }
    if (p.type === 'unavailable' && p.newNick) {
      r.occupants.delete(p.nick);
      r.botNick = p.newNick;
      return;
    }
    const me = r.occupants.get(p.nick) ?? { nick: p.nick, own: '' };
    me.affiliation = p.affiliation;
    me.role = p.role;
    me.occupantId = p.occupantId;
    r.occupants.set(p.nick, me);
  }

  /** Another occupant left, changed nick, or was removed. */
  private onOccupantGone(r: RoomRuntime, p: ParsedMucPresence, known: Occupant | undefined): void {
    if (p.statusCodes.includes(MUC_STATUS.NICK_CHANGED) && p.newNick) {
      r.occupants.delete(p.nick);
      if (known) r.occupants.set(p.newNick, { ...known, nick: p.newNick });
      if (known && known.own === undefined) {
        const user = this.identity.occupantUser(r, { ...known, nick: p.newNick }) as LegacyUserRef;
        r.state.occupants[user.userId] = { nick: p.newNick, role: participantRoleOf(known.affiliation, known.role) };
        this.rooms.changed();
        this.members.protectNicks(r, p.newNick);
      }
      return;
    }
    r.occupants.delete(p.nick);
    if (r.syncing || !known) return;
    if (known.own === '') return;
    // Going offline or closing the room is presence: the occupant stays a participant (membership-rule.ts).
    // Our own puppets' joins and leaves are the core's doing; a removal by a moderator is news.
    const membership = membershipEnded(p);
    if (membership === undefined) return;
    if (known.own !== undefined) {
      const puppet = r.puppets.get(known.own);
      if (puppet) {
        puppet.joined = false;
        puppet.removed = true;
      }
      delete r.state.puppets[known.own];
      this.rooms.changed();
    } else {
      const user = this.identity.occupantUser(r, known);
      delete r.state.occupants[(user as LegacyUserRef).userId];
      this.rooms.changed();
    }
    this.events.membership(r, this.identity.occupantUser(r, known), membership, p);
  }
}
