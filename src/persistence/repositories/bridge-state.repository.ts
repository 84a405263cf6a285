import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, Clock } from '../../common/clock';
import { TransactionRunner, Tx, sqlOf } from '../transaction-runner';

/**
 * The bridges' durable key/value state (`bridge_state`, one namespace per platform): what
 * `BridgeHost.stateStore` hands a bridge (src/ports/bridge-state.port.ts). Every method takes
 * the caller's transaction, or runs in one of its own when `tx` is undefined.
 */
@Injectable()
export class BridgeStateRepository {
  constructor(
    private readonly transactions: TransactionRunner,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Every entry of `platform`: key → value. */
  async load(tx: Tx | undefined, platform: string): Promise<Map<string, string>> {
    if (tx === undefined) return this.transactions.run((own) => this.load(own, platform));
    const result = await sqlOf(tx).query(`SELECT "key", "value" FROM bridge_state WHERE platform = $1`, [platform]);
    return new Map(result.rows.map((r) => [String(r.key), String(r.value)]));
  }

  /** Upsert `put` and delete `remove`, in one transaction. */
  async save(
    tx: Tx | undefined,
    platform: string,
    put: ReadonlyMap<string, string>,
    remove: readonly string[],
  ): Promise<void> {
    if (tx === undefined) return this.transactions.run((own) => this.save(own, platform, put, remove));
    const now = this.clock.now();
    for (const [key, value] of put) {
      await sqlOf(tx).query(
        `INSERT INTO bridge_state (platform, "key", "value", updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (platform, "key") DO UPDATE SET "value" = excluded."value", updated_at = excluded.updated_at`,
        [platform, key, value, now],
      );
    }
    for (const key of remove) {
      await sqlOf(tx).query(`DELETE FROM bridge_state WHERE platform = $1 AND "key" = $2`, [platform, key]);
    }
  }

  /** The store of one platform's bridge (a `BridgeStateStore`). */
  storeFor(platform: string): {
    load(): Promise<Map<string, string>>;
    save(put: ReadonlyMap<string, string>, remove: readonly string[]): Promise<void>;
  } {
    return {
      load: () => this.load(undefined, platform),
      save: (put, remove) => this.save(undefined, platform, put, remove),
    };
  }
}
