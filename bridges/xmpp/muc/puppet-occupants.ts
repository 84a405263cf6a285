/**
 * Component mode: each MIMI user is a puppet occupant of its own, joined under its best nick
 * (nicks.ts) and renamed when its display name changes or a native takes a look-alike nick.
 */
import { Logger } from '@nestjs/common';
import { ErrorCode, errorMessage, PlatformError } from '../../../src/common/errors';
import type { MediaBytes, RemoteUser } from '../../../src/ports';
import { photoUpdate, type VcardAvatars } from '../media/vcard-avatars';
import type { PuppetAddresses } from '../mode/xmpp-mode';
import type { XmlElement } from '../protocol/xml';
import { fullJid } from '../protocol/jids';
import { userUriLocalName } from '../protocol/puppet-jid';
import { buildMucLeave, buildNickChange } from '../protocol/stanzas';
import { XmppStanzaError } from '../session/stanza-error';
import type { XmppSession } from '../session/xmpp-session';
import type { PuppetRuntime, RoomRuntime } from '../state/muc-room';
import type { MimiOccupants } from './mimi-occupants';
import { asciiNick, chooseNick, nickBase, nickSkeleton } from './nicks';
import { MAX_NICK_ATTEMPTS, type MucOccupancy } from './occupancy';
import type { MucRooms } from './rooms';

export class PuppetOccupants implements MimiOccupants {
  private readonly logger = new Logger('XmppBridge');

  constructor(
    private readonly session: XmppSession,
    private readonly rooms: MucRooms,
    private readonly occupancy: MucOccupancy,
    private readonly puppets: PuppetAddresses,
    private readonly joinTimeoutMs: number,
    private readonly avatars?: VcardAvatars,
  ) {}

  /** The bot, then `as`'s puppet, are occupants of `r` (the puppet joins if needed). */
  async ensureSender(r: RoomRuntime, as: RemoteUser, deadline: number): Promise<void> {
    await this.occupancy.ensureBot(r, deadline);
    const before = r.puppets.get(as.userUri)?.user.displayName;
    const puppet = r.puppet(as);
    const renamed = as.displayName !== undefined && before !== as.displayName;
    if (!r.state.puppets[as.userUri] || renamed) {
      r.state.puppets[as.userUri] = { displayName: puppet.user.displayName };
      this.rooms.changed();
    }
    puppet.removed = false;
    await this.joinPuppet(r, puppet, deadline);
    // A puppet that joined before its name was known here (another room taught it to the core) takes it now.
    if (renamed) await this.renamePuppet(r, puppet);
  }

  senderAbsent(r: RoomRuntime, user: RemoteUser): void {
    const puppet = r.puppets.get(user.userUri);
    if (puppet) puppet.joined = false;
  }

  /** The core's membership of a MIMI user: its puppet joins or leaves. */
  async setMembership(r: RoomRuntime, user: RemoteUser, membership: 'join' | 'leave'): Promise<void> {
    const deadline = Date.now() + this.joinTimeoutMs;
    if (membership === 'join') {
      r.state.puppets[user.userUri] = { displayName: user.displayName };
      this.rooms.changed();
      const puppet = r.puppet(user);
      puppet.removed = false;
      await this.occupancy.ensureBot(r, deadline);
      await this.joinPuppet(r, puppet, deadline);
      return;
    }
    delete r.state.puppets[user.userUri];
    this.rooms.changed();
    const puppet = r.puppets.get(user.userUri);
    r.puppets.delete(user.userUri);
    if (puppet?.joined && puppet.nick !== undefined) {
      puppet.joined = false;
      await this.session.send(
        buildMucLeave({ from: this.puppets.fullJid(user.userUri), to: fullJid(r.jid, puppet.nick) }),
      );
    }
  }

  /** Puppets whose display name changed take the new nick in every room. */
  async setDisplayName(user: RemoteUser): Promise<void> {
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

  /**
   * A MIMI user's avatar: its puppet's vCard photo (vcard-avatars.ts), announced by its hash
   * (XEP-0153) in a presence to every room the puppet is in.
   */
  async setAvatar(user: RemoteUser, image: MediaBytes): Promise<void> {
    if (this.avatars === undefined) return;
    const jid = this.puppets.bareJid(user.userUri);
    if (this.avatars.setPuppetAvatar(jid, image) === undefined) {
      this.logger.warn(`avatar of ${user.userUri} not set: ${image.bytes.length} bytes is too large for a vCard`);
    }
    for (const r of this.rooms.values()) {
      const puppet = r.puppets.get(user.userUri);
      if (!puppet?.joined || puppet.nick === undefined) continue;
      await this.session.send(
        buildNickChange({
          from: this.puppets.fullJid(user.userUri),
          to: fullJid(r.jid, puppet.nick),
          extra: this.presenceExtra(user.userUri),
        }),
      );
    }
  }

  /** What a puppet's presences carry: its photo hash (XEP-0153), when it has an avatar. */
  private presenceExtra(userUri: string): XmlElement[] {
    const sha1 = this.avatars?.photoOf(this.puppets.bareJid(userUri));
    return sha1 === undefined ? [] : [photoUpdate(sha1)];
  }

  /** Rejoin the puppets that should be occupants of `r` (after a new session or a removal of the bot). */
  async rejoin(r: RoomRuntime): Promise<void> {
    for (const [userUri, p] of Object.entries(r.state.puppets)) {
      const puppet = r.puppet({ userUri: userUri as RemoteUser['userUri'], displayName: p.displayName });
      if (puppet.removed) continue;
      try {
        await this.joinPuppet(r, puppet, Date.now() + this.joinTimeoutMs);
      } catch (e) {
        this.logger.warn(`${r.jid}: puppet ${userUri} did not rejoin: ${errorMessage(e)}`);
      }
    }
  }

  async leave(r: RoomRuntime): Promise<void> {
    for (const puppet of r.puppets.values()) {
      if (puppet.joined && puppet.nick !== undefined) {
        await this.session.sendQuietly(
          buildMucLeave({ from: this.puppets.fullJid(puppet.user.userUri), to: fullJid(r.jid, puppet.nick) }),
        );
      }
    }
  }

  /** A native occupant now uses a nick that looks like a puppet's: the puppet moves aside, visibly. */
  protectNicks(r: RoomRuntime, nativeNick: string): void {
    const skeleton = nickSkeleton(nativeNick);
    for (const puppet of r.puppets.values()) {
      if (!puppet.joined || puppet.nick === undefined || nickSkeleton(puppet.nick) !== skeleton) continue;
      puppet.nickAttempt += 1;
      void this.renamePuppet(r, puppet).catch((e: unknown) =>
        this.logger.warn(`${r.jid}: renaming puppet '${puppet.nick ?? ''}' failed: ${errorMessage(e)}`),
      );
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
      const from = this.puppets.fullJid(puppet.user.userUri);
      for (let i = 0; i < MAX_NICK_ATTEMPTS; i++) {
        const { nick, attempt } = this.nickFor(r, puppet);
        try {
          const self = await this.occupancy.joinAs(
            r,
            from,
            nick,
            puppet.user.userUri,
            deadline,
            this.presenceExtra(puppet.user.userUri),
          );
          puppet.nick = self.nick;
          puppet.joined = true;
          puppet.nickAttempt = attempt;
          if (self.occupantId && r.state.ownOccupantIds[self.occupantId] !== puppet.user.userUri) {
            // Written at once: after a crash, this is how archived messages are recognised as ours.
            r.state.ownOccupantIds[self.occupantId] = puppet.user.userUri;
            await this.rooms.flush();
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
      buildNickChange({
        from: this.puppets.fullJid(puppet.user.userUri),
        to: fullJid(r.jid, nick),
        extra: this.presenceExtra(puppet.user.userUri),
      }),
    );
  }
}
