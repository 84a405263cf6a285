/**
 * Being in the rooms: the bot joins each linked MUC (XEP-0045 §7.2) with a free nick; how MIMI
 * users are present is the mode's (mimi-occupants.ts).
 *
 * A join waits for our self-presence or the error (the presence handler resolves it through
 * `pendingJoin`). When the bot (re)joins, the hooks report who came and went meanwhile and replay
 * the archive before live messages flow again.
 */
import { Logger } from '@nestjs/common';
import { ErrorCode, PlatformError } from '../../../src/common/errors';
import type { XmppMode } from '../mode/xmpp-mode';
import { fullJid } from '../protocol/jids';
import { buildMucJoin, buildMucLeave, MUC_STATUS, type ParsedMucPresence } from '../protocol/stanzas';
import { type Deferred, deferred, withDeadline } from '../../kit/post-guard';
import type { XmlElement } from '../protocol/xml';
import { XmppStanzaError } from '../session/stanza-error';
import type { XmppSession } from '../session/xmpp-session';
import type { RoomRuntime } from '../state/muc-room';
import type { MimiOccupants } from './mimi-occupants';
import type { RoomInfo } from './room-info';
import type { MucRooms } from './rooms';

/** Nicks tried before a join gives up. */
export const MAX_NICK_ATTEMPTS = 20;

interface PendingJoin {
  readonly room: string;
  readonly from: string;
  readonly done: Deferred<ParsedMucPresence>;
}

/** What happens around the bot's (re)join, done by the inbound side. */
export interface OccupancyHooks {
  /** The bot is in: report natives who came or left while it was away. */
  joined(r: RoomRuntime): void;
  /** Replay the archive after the cursor. */
  catchUp(r: RoomRuntime): Promise<void>;
  /** Live messages held back during the replay go through now. */
  release(r: RoomRuntime): void;
}

export class MucOccupancy {
  private readonly logger = new Logger('XmppBridge');
  private readonly pendingJoins = new Map<string, PendingJoin>();

  constructor(
    private readonly session: XmppSession,
    private readonly mode: XmppMode,
    private readonly rooms: MucRooms,
    private readonly roomInfo: RoomInfo,
    private readonly opts: { readonly botNick: string; readonly joinTimeoutMs: number },
    private readonly hooks: OccupancyHooks,
  ) {}

  /** The bot is an occupant of `r` (joined now if needed); returns its self-presence when it joined now. */
  async ensureBot(r: RoomRuntime, deadline: number): Promise<ParsedMucPresence | undefined> {
    await this.session.waitOnline(deadline);
    if (r.botJoining) {
      // Joined but still replaying the archive, or joining: wait for the whole of it.
      await r.botJoining;
      if (r.botJoined) return undefined;
    }
    if (r.botJoined) return undefined;
    if (!r.botJoining) {
      const joining = this.joinBot(r, deadline);
      r.botJoining = joining.then(
        () => undefined,
        () => undefined,
      );
      try {
        return await joining;
      } finally {
        r.botJoining = undefined;
      }
    }
    await r.botJoining;
    if (!r.botJoined) throw new PlatformError(ErrorCode.PlatformUnavailable, `${r.jid}: the bridge is not in the room`);
    return undefined;
  }

  /** Stopping: in every room, the MIMI users' occupants leave, then the bot. */
  async leaveAll(members: MimiOccupants): Promise<void> {
    for (const room of this.rooms.values()) {
      await members.leave(room);
      if (room.botJoined && room.botNick !== undefined) {
        await this.session.sendQuietly(
          buildMucLeave({ from: this.mode.botFrom(), to: fullJid(room.jid, room.botNick) }),
        );
      }
    }
  }

  /** A new session: nobody is an occupant any more. */
  occupancyLost(): void {
    for (const r of this.rooms.values()) {
      r.botJoined = false;
      r.botJoining = undefined;
      for (const p of r.puppets.values()) {
        p.joined = false;
        p.joining = undefined;
      }
    }
  }

  /** The join that `to` (our JID) is waiting for in `roomJid`, if any. */
  pendingJoin(to: string, roomJid: string): { readonly done: Deferred<ParsedMucPresence> } | undefined {
    return this.pendingJoins.get(`${to}\n${roomJid}`);
  }

  failJoins(error: PlatformError): void {
    for (const j of this.pendingJoins.values()) j.done.reject(error);
    this.pendingJoins.clear();
  }

  private async joinBot(r: RoomRuntime, deadline: number): Promise<ParsedMucPresence> {
    r.syncing = true;
    r.catchingUp = true;
    r.occupants.clear();
    let self: ParsedMucPresence | undefined;
    try {
      for (let attempt = 1; attempt <= MAX_NICK_ATTEMPTS; attempt++) {
        const nick = attempt === 1 ? this.opts.botNick : `${this.opts.botNick} [${attempt}]`;
        try {
          self = await this.joinAs(r, this.mode.botFrom(), nick, '', deadline);
          break;
        } catch (e) {
          if (e instanceof XmppStanzaError && e.info.condition === 'conflict') continue;
          throw e;
        }
      }
      if (!self) throw new PlatformError(ErrorCode.PlatformRejected, `${r.jid}: no free nick for the bridge`);
      r.botNick = self.nick;
      r.occupants.set(self.nick, {
        nick: self.nick,
        own: '',
        affiliation: self.affiliation,
        role: self.role,
        occupantId: self.occupantId,
        realJid: self.realJid,
      });
      if (self.occupantId && r.state.ownOccupantIds[self.occupantId] === undefined) {
        r.state.ownOccupantIds[self.occupantId] = '';
        await this.rooms.flush();
      }
      r.botJoined = true;
      r.syncing = false;
      this.hooks.joined(r);
      this.logger.log(`${r.jid}: joined as '${self.nick}'`);
      if (self.statusCodes.includes(MUC_STATUS.ROOM_CREATED)) {
        // Our join created the room (XEP-0045 §10.1.1); it stays locked until configured.
        this.logger.log(`${r.jid}: the room did not exist; created and configured it`);
        await this.roomInfo.configure(r);
      }
      await this.hooks.catchUp(r);
      return self;
    } finally {
      r.syncing = false;
      this.hooks.release(r);
    }
  }

  /** Send a MUC join presence and wait for our self-presence or the error. */
  async joinAs(
    r: RoomRuntime,
    from: string | undefined,
    nick: string,
    owner: string,
    deadline: number,
    extra?: XmlElement[],
  ): Promise<ParsedMucPresence> {
    const ourJid = from ?? this.session.address ?? '';
    const key = `${ourJid}\n${r.jid}`;
    this.pendingJoins.get(key)?.done.reject(new PlatformError(ErrorCode.PlatformUnavailable, 'superseded join'));
    const join: PendingJoin = { room: r.jid, from: ourJid, done: deferred<ParsedMucPresence>() };
    this.pendingJoins.set(key, join);
    // The bot may see the newcomer's presence before our self-presence arrives: tell it who this is.
    r.expectedNicks.set(nick, owner);
    try {
      await this.session.send(buildMucJoin({ from, to: fullJid(r.jid, nick), extra }));
      return await withDeadline(deadline, `joining ${r.jid} as '${nick}'`, () => join.done.promise);
    } finally {
      r.expectedNicks.delete(nick);
      if (this.pendingJoins.get(key) === join) this.pendingJoins.delete(key);
    }
  }
}
