import { Injectable } from '@nestjs/common';

/**
 * One queue per room: everything that reads and changes a room's MLS group and log (legacy
 * events, /submitMessage, /update, /notify, renders) runs one at a time per room, in arrival
 * order. MLS group state is a value per epoch; two changes at once would fork it. In-process
 * only: several gateway processes must not serve the same room (README.md "Not done").
 */
@Injectable()
export class RoomLocks {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(roomUri: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(roomUri) ?? Promise.resolve();
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    const mine = previous.then(() => done);
    this.tails.set(roomUri, mine);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.tails.get(roomUri) === mine) this.tails.delete(roomUri);
    }
  }
}
