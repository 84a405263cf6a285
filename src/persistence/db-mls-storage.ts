import { Injectable } from '@nestjs/common';
import { MlsKvRepository } from './repositories/mls-kv.repository';
import { RoomTransactions } from './room-transactions';

/**
 * `MlsStorage` (src/mls/mls-storage.ts) in the `mls_kv` table. It has that interface's shape
 * without importing it (persistence sits below mls; the rooms core hands it to the MLS layer, and
 * the compiler checks the shape there). Inside `RoomTransactions.run`
 * reads and writes join that transaction; elsewhere each call is its own transaction, durable
 * when it resolves (the MLS layer's requirement).
 */
@Injectable()
export class DbMlsStorage {
  constructor(
    private readonly kv: MlsKvRepository,
    private readonly transactions: RoomTransactions,
  ) {}

  get(key: string): Promise<Uint8Array | undefined> {
    return this.kv.get(this.transactions.current(), key);
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    this.transactions.touch(key);
    await this.kv.put(this.transactions.current(), key, value);
  }

  async delete(key: string): Promise<void> {
    this.transactions.touch(key);
    await this.kv.delete(this.transactions.current(), key);
  }

  getAll(prefix: string): Promise<[string, Uint8Array][]> {
    return this.kv.getAll(this.transactions.current(), prefix);
  }

  list(prefix: string): Promise<string[]> {
    return this.kv.listKeys(this.transactions.current(), prefix);
  }
}
