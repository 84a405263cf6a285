/**
 * What the bridge knows about one linked MUC while it runs: the occupants its bot sees, its
 * puppets, the archive cursor, and recent message references.
 */
import type { RemoteUser } from '../../../src/ports';
import type { RoomState } from './bridge-state';
import { BoundedMap } from '../../kit/bounded-map';
import type { MessageRef } from '../content/message-mapping';
import type { MucAffiliation, MucRole } from '../protocol/muc-roles';
import type { ModerationVersion } from '../protocol/stanzas';

/** Message references kept per room (stanza-id → ref) for edits, replies and notices. */
const MAX_REFS = 5000;
/** Platform event IDs the core recorded, kept per room to drop replays without asking the core. */
const MAX_DELIVERED = 20000;

export interface Occupant {
  readonly nick: string;
  realJid?: string;
  occupantId?: string;
  affiliation?: MucAffiliation;
  role?: MucRole;
  /** XEP-0153: the SHA-1 of the occupant's vCard photo ('' for none), as its presence said. */
  photo?: string;
  /** Ours: the userUri of a puppet, or '' for the bridge's bot. */
  own?: string;
}

export interface PuppetRuntime {
  user: RemoteUser;
  /** Current nick in the room, once joined. */
  nick?: string;
  joined: boolean;
  joining?: Promise<void>;
  /** Removed by a MUC moderator: not rejoined until the core asks again. */
  removed: boolean;
  /** Next nick candidate to try (nicks.ts) and whether to fall back to ASCII. */
  nickAttempt: number;
  ascii: boolean;
}

/**
 * The archive cursor may only pass a stanza-id once it and every earlier archived message were
 * recorded by the core; a message the core refused holds the cursor back until a retry succeeds,
 * so a restart replays from before it.
 */
export class CursorTracker {
  private readonly entries: { stanzaId: string; at: number; ok: boolean }[] = [];

  constructor(private readonly advance: (cursor: { stanzaId: string; at: number }) => void) {}

  /** A message was handled in archive order; `ok` when the core recorded all its events. */
  done(stanzaId: string, at: number, ok: boolean): void {
    this.entries.push({ stanzaId, at, ok });
    this.move();
  }

  /** A refused message was recorded on a retry. */
  retried(stanzaId: string): void {
    const e = this.entries.find((x) => x.stanzaId === stanzaId);
    if (e) e.ok = true;
    this.move();
  }

  get blocked(): number {
    return this.entries.filter((e) => !e.ok).length;
  }

  private move(): void {
    let last: { stanzaId: string; at: number } | undefined;
    while (this.entries.length > 0 && this.entries[0]!.ok) {
      const e = this.entries.shift()!;
      last = { stanzaId: e.stanzaId, at: e.at };
    }
    if (last) this.advance(last);
  }
}

export class RoomRuntime {
  /** Our bot's nick, once joined. */
  botNick?: string;
  botJoined = false;
  botJoining?: Promise<void>;
  /** Set while the bot (re)joins: occupant presences are collected, not reported, until the self-presence. */
  syncing = false;
  /** Live messages wait here while the archive is replayed, so the core sees archive order. */
  catchingUp = false;
  buffered: (() => void)[] = [];
  /** XEP-0313 support of the room (disco#info), once known. */
  mamSupported?: boolean;
  /** XEP-0425 moderation version of the room (disco#info), once known; undefined: none. */
  moderation?: ModerationVersion;
  name?: string;
  readonly occupants = new Map<string, Occupant>();
  /** Nicks our own occupants are joining with: nick → userUri ('' for the bot). */
  readonly expectedNicks = new Map<string, string>();
  readonly puppets = new Map<string, PuppetRuntime>();
  readonly refs = new BoundedMap<string, MessageRef>(MAX_REFS);
  /** Stanza `id`s and origin-ids → stanza-id of the first message seen with it (read markers). */
  readonly byMessageId = new BoundedMap<string, string>(MAX_REFS);
  /**
   * (sender, stanza `id` or origin-id) → stanza-id: what corrections and 0.x retractions name, the
   * sender's own message. Keyed by sender so a copied id never reaches another occupant's message.
   */
  readonly byOwnMessageId = new BoundedMap<string, string>(MAX_REFS);
  readonly delivered = new BoundedMap<string, true>(MAX_DELIVERED);
  readonly cursor: CursorTracker;

  constructor(
    readonly jid: string,
    readonly state: RoomState,
    onCursor: () => void,
  ) {
    this.cursor = new CursorTracker((c) => {
      this.state.cursor = c;
      onCursor();
    });
  }

  /** The runtime of a MIMI user's puppet in this room (created on first use; a display name given updates it). */
  puppet(user: RemoteUser): PuppetRuntime {
    let p = this.puppets.get(user.userUri);
    if (!p) {
      p = { user, joined: false, removed: false, nickAttempt: 0, ascii: false };
      this.puppets.set(user.userUri, p);
    } else if (user.displayName !== undefined) {
      p.user = user;
    }
    return p;
  }

  occupantByRealJid(realJid: string): Occupant | undefined {
    for (const o of this.occupants.values()) if (o.realJid === realJid) return o;
    return undefined;
  }

  occupantByOwn(userUri: string): Occupant | undefined {
    for (const o of this.occupants.values()) if (o.own === userUri) return o;
    return undefined;
  }
}
