/** Echo detection: digests of the last messages this gateway sent. */
export class RecentDigests {
  private readonly order: string[] = [];
  private readonly set = new Set<string>();

  constructor(private readonly size: number) {}

  has(d: string): boolean {
    return this.set.has(d);
  }

  add(d: string): void {
    this.order.push(d);
    this.set.add(d);
    if (this.order.length > this.size) this.set.delete(this.order.shift()!);
  }
}
