/**
 * The MUCs the bridge keeps joined (linked by config, by use, or as mirrors): one RoomRuntime per
 * room JID, and the bridge's durable state they read and write.
 */
import { ErrorCode, PlatformError } from '../../../src/common/errors';
import { Platform, type UserUri } from '../../../src/common/ids';
import type { LegacyRoomRef } from '../../../src/ports';
import { bare, fullJid, isBareJidWithLocal } from '../protocol/jids';
import type { XmppSession } from '../session/xmpp-session';
import type { BridgeState } from '../state/bridge-state';
import { RoomRuntime } from '../state/muc-room';

/** The port's reference to a MUC. */
export function roomRef(jid: string): LegacyRoomRef {
  return { platform: Platform.Xmpp, roomId: jid };
}

export class MucRooms {
  private readonly rooms = new Map<string, RoomRuntime>();
  private current?: BridgeState;

  constructor(private readonly session: XmppSession) {}

  /** Start with the state loaded from the store: its rooms and their puppets come back. */
  open(state: BridgeState, links: readonly string[]): void {
    this.current = state;
    for (const jid of state.roomJids()) this.runtime(jid);
    for (const jid of links) this.runtime(bare(jid));
  }

  /** The durable state (only after open). */
  get state(): BridgeState {
    return this.current!;
  }

  /** The state changed: write it soon. */
  changed(): void {
    this.current?.changed();
  }

  /** Write the state now. */
  async flush(): Promise<void> {
    await this.current?.flush();
  }

  get(jid: string): RoomRuntime | undefined {
    return this.rooms.get(jid);
  }

  values(): IterableIterator<RoomRuntime> {
    return this.rooms.values();
  }

  jids(): string[] {
    return [...this.rooms.keys()];
  }

  clear(): void {
    this.rooms.clear();
  }

  /** The runtime of room `jid`, created (with its remembered puppets) on first use. */
  runtime(jid: string): RoomRuntime {
    let r = this.rooms.get(jid);
    if (!r) {
      r = new RoomRuntime(jid, this.state.room(jid), () => this.state.changed());
      this.rooms.set(jid, r);
      this.state.changed();
      for (const [userUri, p] of Object.entries(r.state.puppets)) {
        r.puppet({ userUri: userUri as UserUri, displayName: p.displayName });
      }
    }
    return r;
  }

  /**
   * The runtime of a room the core addresses; a new room is joined on first use.
   * @throws PlatformError PlatformUnavailable when the bridge is not running, PlatformRejected for a non-MUC reference
   */
  linked(room: LegacyRoomRef): RoomRuntime {
    if (!this.session.started || this.session.stopping) {
      throw new PlatformError(ErrorCode.PlatformUnavailable, 'XMPP bridge not started');
    }
    if (room.platform !== Platform.Xmpp || !isBareJidWithLocal(room.roomId)) {
      throw new PlatformError(ErrorCode.PlatformRejected, `not a MUC JID: ${room.platform}:${room.roomId}`, {
        retryable: false,
      });
    }
    return this.runtime(bare(room.roomId));
  }

  /** The bot's occupant JIDs (`room/nick`) in the rooms it has joined. */
  botOccupants(): string[] {
    return [...this.rooms.values()].filter((r) => r.botNick !== undefined).map((r) => fullJid(r.jid, r.botNick!));
  }
}
