/**
 * How MIMI users are present in a MUC, one strategy per mode: a puppet occupant each
 * (component mode, puppet-occupants.ts), or through the one relay account (relay-occupant.ts).
 */
import type { MediaBytes, RemoteUser } from '../../../src/ports';
import type { RoomRuntime } from '../state/muc-room';

export interface MimiOccupants {
  /** Make sure whoever posts as `as` is in the room (the bot joins first). */
  ensureSender(r: RoomRuntime, as: RemoteUser, deadline: number): Promise<void>;
  /** A post of `user` was refused because its sender is not an occupant (any more). */
  senderAbsent(r: RoomRuntime, user: RemoteUser): void;
  /** The core's membership of a MIMI user in `r`. */
  setMembership(r: RoomRuntime, user: RemoteUser, membership: 'join' | 'leave'): Promise<void>;
  /** A MIMI user's display name changed. */
  setDisplayName(user: RemoteUser): Promise<void>;
  /** A MIMI user's avatar changed (the image's bytes). */
  setAvatar(user: RemoteUser, image: MediaBytes): Promise<void>;
  /** After the bot (re)joined `r`: the MIMI users that should be occupants come back. */
  rejoin(r: RoomRuntime): Promise<void>;
  /** Stopping: the MIMI users' occupants leave `r` (before the bot). */
  leave(r: RoomRuntime): Promise<void>;
  /** A native occupant arrived with (or changed to) `nativeNick`: ours move aside from look-alikes. */
  protectNicks(r: RoomRuntime, nativeNick: string): void;
}
