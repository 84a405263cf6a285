/**
 * Where MLS client state lives between operations. A byte-valued key/value store is all the MLS
 * layer needs; src/persistence can back it with one table (`key TEXT PRIMARY KEY, value BLOB`).
 *
 * The key layout of the records is `gateway/keys.ts`'s (`mls2/group/...`, `mls2/member/...`,
 * `mls2/kp/...`).
 *
 * Every value holds secrets: encrypt at rest if the database is shared.
 */
export interface MlsStorage {
  /** The value under `key`, or `undefined`. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Write `value` under `key`, replacing any previous value. Must be durable when it resolves. */
  put(key: string, value: Uint8Array): Promise<void>;
  /** Remove `key`; no error if absent. */
  delete(key: string): Promise<void>;
  /** All keys starting with `prefix`, in any order. */
  list(prefix: string): Promise<string[]>;
  /** Optional: every key starting with `prefix` with its value, in one read (loading a group's rows). */
  getAll?(prefix: string): Promise<[string, Uint8Array][]>;
}

/** Every key under `prefix` with its value: `getAll` when the storage has it, else `list` + `get`. */
export async function readAll(storage: MlsStorage, prefix: string): Promise<[string, Uint8Array][]> {
  if (storage.getAll) return storage.getAll(prefix);
  const out: [string, Uint8Array][] = [];
  for (const key of await storage.list(prefix)) {
    const value = await storage.get(key);
    if (value !== undefined) out.push([key, value]);
  }
  return out;
}

/** `MlsStorage` in a Map, for tests and single-process tools. Values are copied in and out. */
export class InMemoryMlsStorage implements MlsStorage {
  private readonly entries = new Map<string, Uint8Array>();

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.entries.get(key)?.slice();
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    this.entries.set(key, value.slice());
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }

  async list(prefix: string): Promise<string[]> {
    return [...this.entries.keys()].filter((k) => k.startsWith(prefix));
  }

  async getAll(prefix: string): Promise<[string, Uint8Array][]> {
    return [...this.entries].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k, v.slice()]);
  }

  /** Number of stored records (tests). */
  get size(): number {
    return this.entries.size;
  }
}
