/**
 * The journal in the core's database (BridgeHost.stateStore → table `bridge_state`): one row per
 * MUC (`room:<jid>` → the room's state as JSON) and a `version` row. Only the rooms that changed
 * since the last write are written.
 *
 * On the first start with a database that holds no XMPP state yet, a journal file of earlier
 * versions (`xmpp.stateFile`, default data/xmpp-state.json) is imported and renamed
 * `<file>.imported`, so that it is imported once.
 */
import { Logger } from '@nestjs/common';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import type { BridgeStateStore } from '../../../src/ports';
import {
  type BridgeStateData,
  emptyRoomState,
  parseStateJson,
  type RoomState,
  STATE_VERSION,
  type StateStore,
} from './bridge-state';

const VERSION_KEY = 'version';
const ROOM_PREFIX = 'room:';

export class DbStateStore implements StateStore {
  private readonly logger = new Logger('XmppBridge');
  /** What the database holds: key → value, as last read or written. */
  private readonly written = new Map<string, string>();
  private data: BridgeStateData = { version: STATE_VERSION, rooms: {} };
  /** Writes go to the database one after the other, in the order they were asked for. */
  private queue: Promise<void> = Promise.resolve();

  private constructor(private readonly db: BridgeStateStore) {}

  /**
   * Read the state; import `journalFile` first when the database has none and the file exists.
   * @throws Error when the stored state has an unknown version or the journal cannot be read
   */
  static async open(db: BridgeStateStore, journalFile?: string): Promise<DbStateStore> {
    const store = new DbStateStore(db);
    const rows = await db.load();
    if (journalFile !== undefined && existsSync(journalFile)) {
      if (rows.size === 0) {
        const data = parseStateJson(readFileSync(journalFile, 'utf8'), journalFile);
        await store.save(data);
        store.logger.log(`imported the XMPP bridge journal ${journalFile} into the database`);
      } else {
        store.read(rows);
        store.logger.warn(`${journalFile}: the database already holds the XMPP bridge state; the file is not imported`);
      }
      renameSync(journalFile, `${journalFile}.imported`);
      store.logger.log(`renamed ${journalFile} to ${journalFile}.imported (the state is in the database now)`);
    } else {
      store.read(rows);
    }
    return store;
  }

  private read(rows: ReadonlyMap<string, string>): void {
    const version = rows.get(VERSION_KEY);
    if (version !== undefined && Number(version) !== STATE_VERSION) {
      throw new Error(`bridge_state: unknown XMPP bridge state version ${version}`);
    }
    const rooms: Record<string, RoomState> = {};
    for (const [key, value] of rows) {
      this.written.set(key, value);
      if (!key.startsWith(ROOM_PREFIX)) continue;
      rooms[key.slice(ROOM_PREFIX.length)] = { ...emptyRoomState(), ...(JSON.parse(value) as Partial<RoomState>) };
    }
    this.data = { version: STATE_VERSION, rooms };
  }

  load(): BridgeStateData {
    return this.data;
  }

  /** Write the rooms that changed and delete the ones that are gone (`data` is copied first). */
  async save(data: BridgeStateData): Promise<void> {
    this.data = data;
    const next = new Map<string, string>([[VERSION_KEY, String(STATE_VERSION)]]);
    for (const [jid, room] of Object.entries(data.rooms)) next.set(`${ROOM_PREFIX}${jid}`, JSON.stringify(room));
    const put = new Map([...next].filter(([k, v]) => this.written.get(k) !== v));
    const remove = [...this.written.keys()].filter((k) => !next.has(k));
    if (put.size === 0 && remove.length === 0) return;
    const before = new Map([...put.keys(), ...remove].map((k) => [k, this.written.get(k)]));
    for (const [k, v] of put) this.written.set(k, v);
    for (const k of remove) this.written.delete(k);
    const write = this.queue.then(() => this.db.save(put, remove));
    this.queue = write.catch(() => undefined);
    try {
      await write;
    } catch (e) {
      // Not written: what the database holds is what it held before, so the next save writes these again.
      for (const [k, v] of before) {
        if (v === undefined) this.written.delete(k);
        else this.written.set(k, v);
      }
      throw e;
    }
  }
}
