import { Injectable, Optional } from '@nestjs/common';
import { RoomOwnership } from './ownership/room-ownership';

/**
 * One queue per room: everything that reads and changes a room's MLS group and log (legacy
 * events, /submitMessage, /update, /notify, renders) runs one at a time per room, in arrival
 * order. MLS group state is a value per epoch; two changes at once would fork it. The queue is
 * in-process; with several processes on one PostgreSQL database (`cluster.enabled`), the room's
 * lease (`RoomOwnership`, src/rooms/ownership) makes one process at a time serve it.
 */
@Injectable()
export class RoomLocks {
  private readonly tails = new Map<string, Promise<void>>();

  /** `ownership` is absent for locks on other keys (KeyMaterials) and in tests; disabled without scale-out. */
  constructor(@Optional() private readonly ownership?: RoomOwnership) {}

  async run<T>(roomUri: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(roomUri) ?? Promise.resolve();
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    const mine = previous.then(() => done);
    this.tails.set(roomUri, mine);
    await previous;
    try {
      return await (this.ownership?.enabled === true ? this.ownership.run(roomUri, work) : work());
    } finally {
      release();
      if (this.tails.get(roomUri) === mine) this.tails.delete(roomUri);
    }
  }
}
