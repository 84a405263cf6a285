/**
 * Being in the rooms: the bot joins each linked MUC (XEP-0045 §7.2) with a free nick, and in
 * component mode each MIMI user's puppet joins as an occupant of its own under its best nick
 * (nicks.ts), renamed when its display name changes or a native takes a look-alike nick.
 *
 * A join waits for our self-presence or the error (the presence handler resolves it through
 * `pendingJoin`). When the bot (re)joins, the hooks report who came and went meanwhile and replay
 * the archive before live messages flow again.
 */
import { Logger } from '@nestjs/common';
import { ErrorCode, errorMessage, PlatformError } from '../../../src/common/errors';
import type { RemoteUser } from '../../../src/ports';
import type { XmppMode } from '../mode/xmpp-mode';
import { fullJid } from '../protocol/jids';
import { userUriLocalName } from '../protocol/puppet-jid';
import { buildMucJoin, buildMucLeave, buildNickChange, MUC_STATUS, type ParsedMucPresence } from '../protocol/stanzas';
import { type Deferred, deferred, withDeadline } from '../session/deadline';
import { XmppStanzaError } from '../session/stanza-error';
import type { XmppSession } from '../session/xmpp-session';
import type { PuppetRuntime, RoomRuntime } from '../state/muc-room';
import { asciiNick, chooseNick, nickBase, nickSkeleton } from './nicks';
import type { RoomInfo } from './room-info';
import type { MucRooms } from './rooms';

const MAX_NICK_ATTEMPTS = 20;

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

  /** Make sure whoever posts as `as` is in the room: the puppet (component) or the relay account. */
  async ensureSender(r: RoomRuntime, as: RemoteUser, deadline: number): Promise<void> {
    await this.ensureBot(r, deadline);
    if (!this.mode.puppets) return;
    const puppet = r.puppet(as);
    if (!r.state.puppets[as.userUri]) {
      r.state.puppets[as.userUri] = { displayName: as.displayName };
      this.rooms.changed();
    }
    puppet.removed = false;
    await this.joinPuppet(r, puppet, deadline);
  }

  /** A post of `user` was refused because its sender is not an occupant (any more). */
  senderAbsent(r: RoomRuntime, user: RemoteUser): void {
    const puppet = r.puppets.get(user.userUri);
    if (puppet) puppet.joined = false;
    if (!this.mode.puppets) r.botJoined = false;
  }

  /** The core's membership of a MIMI user: its puppet joins or leaves (nothing without puppets). */
  async setMembership(r: RoomRuntime, user: RemoteUser, membership: 'join' | 'leave'): Promise<void> {
    const puppets = this.mode.puppets;
    if (!puppets) return;
    const deadline = Date.now() + this.opts.joinTimeoutMs;
    if (membership === 'join') {
      r.state.puppets[user.userUri] = { displayName: user.displayName };
      this.rooms.changed();
      const puppet = r.puppet(user);
      puppet.removed = false;
      await this.ensureBot(r, deadline);
      await this.joinPuppet(r, puppet, deadline);
      return;
    }
    delete r.state.puppets[user.userUri];
    this.rooms.changed();
    const puppet = r.puppets.get(user.userUri);
    r.puppets.delete(user.userUri);
    if (puppet?.joined && puppet.nick !== undefined) {
      puppet.joined = false;
      await this.session.send(buildMucLeave({ from: puppets.fullJid(user.userUri), to: fullJid(r.jid, puppet.nick) }));
    }
  }

  /** Puppets whose display name changed take the new nick in every room. */
  async setDisplayName(user: RemoteUser): Promise<void> {
    if (!this.mode.puppets) return;
    for (const r of this.rooms.values()) {
      const puppet = r.puppets.get(user.userUri);
      if (!puppet) continue;
      const before = puppet.user.displayName;
      puppet.user = user;
      if (r.state.puppets[user.userUri]) r.state.puppets[user.userUri] = { displayName: user.displayName };
      if (before === user.displayName || !puppet.joined) continue;
      puppet.nickAttempt = 0;
      puppet.ascii = false;
      await this.renamePuppet(r, puppet);
    }
    this.rooms.changed();
  }

  /** Rejoin the puppets that should be occupants of `r` (after a new session or a removal of the bot). */
  async rejoinPuppets(r: RoomRuntime): Promise<void> {
    if (!this.mode.puppets) return;
    for (const [userUri, p] of Object.entries(r.state.puppets)) {
      const puppet = r.puppet({ userUri: userUri as RemoteUser['userUri'], displayName: p.displayName });
      if (puppet.removed) continue;
      try {
        await this.joinPuppet(r, puppet, Date.now() + this.opts.joinTimeoutMs);
      } catch (e) {
        this.logger.warn(`${r.jid}: puppet ${userUri} did not rejoin: ${errorMessage(e)}`);
      }
    }
  }

  /** Stopping: every puppet and the bot leave every room. */
  async leaveAll(): Promise<void> {
    for (const room of this.rooms.values()) {
      for (const puppet of room.puppets.values()) {
        if (puppet.joined && puppet.nick !== undefined) {
          await this.session.sendQuietly(
            buildMucLeave({
              from: this.mode.puppets?.fullJid(puppet.user.userUri),
              to: fullJid(room.jid, puppet.nick),
            }),
          );
        }
      }
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

  /** A native occupant now uses a nick that looks like a puppet's: the puppet moves aside, visibly. */
  protectPuppetNicks(r: RoomRuntime, nativeNick: string): void {
    if (!this.mode.puppets) return;
    const skeleton = nickSkeleton(nativeNick);
    for (const puppet of r.puppets.values()) {
      if (!puppet.joined || puppet.nick === undefined || nickSkeleton(puppet.nick) !== skeleton) continue;
      puppet.nickAttempt += 1;
      void this.renamePuppet(r, puppet).catch((e: unknown) =>
        this.logger.warn(`${r.jid}: renaming puppet '${puppet.nick ?? ''}' failed: ${errorMessage(e)}`),
      );
    }
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
        this.rooms.flush();
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
  private async joinAs(
    r: RoomRuntime,
    from: string | undefined,
    nick: string,
    owner: string,
    deadline: number,
  ): Promise<ParsedMucPresence> {
    const ourJid = from ?? this.session.address ?? '';
    const key = `${ourJid}\n${r.jid}`;
    this.pendingJoins.get(key)?.done.reject(new PlatformError(ErrorCode.PlatformUnavailable, 'superseded join'));
    const join: PendingJoin = { room: r.jid, from: ourJid, done: deferred<ParsedMucPresence>() };
    this.pendingJoins.set(key, join);
    // The bot may see the newcomer's presence before our self-presence arrives: tell it who this is.
    r.expectedNicks.set(nick, owner);
    try {
      await this.session.send(buildMucJoin({ from, to: fullJid(r.jid, nick) }));
      return await withDeadline(deadline, `joining ${r.jid} as '${nick}'`, () => join.done.promise);
    } finally {
      r.expectedNicks.delete(nick);
      if (this.pendingJoins.get(key) === join) this.pendingJoins.delete(key);
    }
  }

  private nickFor(r: RoomRuntime, puppet: PuppetRuntime): { nick: string; attempt: number } {
    const fallback = userUriLocalName(puppet.user.userUri);
    let base = nickBase(puppet.user.displayName, fallback);
    if (puppet.ascii) base = asciiNick(base, fallback);
    const taken = [...r.occupants.values()].filter((o) => o.own !== puppet.user.userUri).map((o) => o.nick);
    return chooseNick(base, taken, puppet.nickAttempt);
  }

  private async joinPuppet(r: RoomRuntime, puppet: PuppetRuntime, deadline: number): Promise<void> {
    if (puppet.joined) return;
    if (puppet.joining) return puppet.joining;
    const run = async (): Promise<void> => {
      const from = this.mode.puppets?.fullJid(puppet.user.userUri);
      for (let i = 0; i < MAX_NICK_ATTEMPTS; i++) {
        const { nick, attempt } = this.nickFor(r, puppet);
        try {
          const self = await this.joinAs(r, from, nick, puppet.user.userUri, deadline);
          puppet.nick = self.nick;
          puppet.joined = true;
          puppet.nickAttempt = attempt;
          if (self.occupantId && r.state.ownOccupantIds[self.occupantId] !== puppet.user.userUri) {
            // Written at once: after a crash, this is how archived messages are recognised as ours.
            r.state.ownOccupantIds[self.occupantId] = puppet.user.userUri;
            this.rooms.flush();
          }
          const o = r.occupants.get(self.nick) ?? { nick: self.nick };
          o.own = puppet.user.userUri;
          o.occupantId = self.occupantId;
          o.affiliation = self.affiliation;
          o.role = self.role;
          r.occupants.set(self.nick, o);
          return;
        } catch (e) {
          if (!(e instanceof XmppStanzaError)) throw e;
          if (e.info.condition === 'conflict') {
            puppet.nickAttempt = attempt + 1;
            continue;
          }
          if (e.info.condition === 'jid-malformed' && !puppet.ascii) {
            // Prosody applies strict resourceprep to nicks (Unicode 3.2): retry with the ASCII form.
            puppet.ascii = true;
            puppet.nickAttempt = 0;
            continue;
          }
          throw e;
        }
      }
      throw new PlatformError(ErrorCode.PlatformRejected, `${r.jid}: no acceptable nick for ${puppet.user.userUri}`, {
        retryable: false,
      });
    };
    const joining = run();
    puppet.joining = joining;
    try {
      await joining;
    } finally {
      puppet.joining = undefined;
    }
  }

  /** Give a joined puppet its current best nick (display name change, look-alike newcomer). */
  private async renamePuppet(r: RoomRuntime, puppet: PuppetRuntime): Promise<void> {
    if (!puppet.joined || puppet.nick === undefined) return;
    const { nick, attempt } = this.nickFor(r, puppet);
    if (nick === puppet.nick) return;
    puppet.nickAttempt = attempt;
    this.logger.log(`${r.jid}: puppet '${puppet.nick}' becomes '${nick}'`);
    await this.session.send(
      buildNickChange({ from: this.mode.puppets?.fullJid(puppet.user.userUri), to: fullJid(r.jid, nick) }),
    );
  }
}
