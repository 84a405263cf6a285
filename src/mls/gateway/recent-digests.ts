/** Echo detection: digests of the last messages this gateway sent (a ring of `size` entries). */
export class RecentDigests {
  private readonly ring: (string | undefined)[];
  private next = 0;
  private readonly set = new Set<string>();

  constructor(private readonly size: number) {
    this.ring = new Array<string | undefined>(size);
  }

  has(d: string): boolean {
    return this.set.has(d);
  }

  add(d: string): void {
    const old = this.ring[this.next];
    if (old !== undefined) this.set.delete(old);
    this.ring[this.next] = d;
    this.set.add(d);
    this.next = (this.next + 1) % this.size;
  }
}
