/** Relay mode: the relay account (the bot) speaks for every MIMI user; they have no occupants of their own. */
import type { RemoteUser } from '../../../src/ports';
import type { RoomRuntime } from '../state/muc-room';
import type { MimiOccupants } from './mimi-occupants';
import type { MucOccupancy } from './occupancy';

export class RelayOccupant implements MimiOccupants {
  constructor(private readonly occupancy: MucOccupancy) {}

  async ensureSender(r: RoomRuntime, _as: RemoteUser, deadline: number): Promise<void> {
    await this.occupancy.ensureBot(r, deadline);
  }

  /** The relay account itself was not an occupant: the bot rejoins. */
  senderAbsent(r: RoomRuntime): void {
    r.botJoined = false;
  }

  async setMembership(): Promise<void> {}

  async setDisplayName(): Promise<void> {}

  /** The relay account's avatar is its own. */
  async setAvatar(): Promise<void> {}

  async rejoin(): Promise<void> {}

  async leave(): Promise<void> {}

  protectNicks(): void {}
}
