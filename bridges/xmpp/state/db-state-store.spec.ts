import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BridgeStateStore } from '../../../src/ports';
import { BridgeState, emptyRoomState, STATE_VERSION } from './bridge-state';
import { DbStateStore } from './db-state-store';

/** A BridgeStateStore in memory that counts what it is asked to write. */
class MemoryTable implements BridgeStateStore {
  readonly rows = new Map<string, string>();
  readonly writes: { put: string[]; remove: string[] }[] = [];
  async load(): Promise<Map<string, string>> {
    return new Map(this.rows);
  }
  async save(put: ReadonlyMap<string, string>, remove: readonly string[]): Promise<void> {
    this.writes.push({ put: [...put.keys()], remove: [...remove] });
    for (const [k, v] of put) this.rows.set(k, v);
    for (const k of remove) this.rows.delete(k);
  }
}

describe(DbStateStore.name, () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'xmpp-db-state-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes only the rooms that changed, and reads them back', async () => {
    const table = new MemoryTable();
    const state = new BridgeState(await DbStateStore.open(table), () => undefined);
    state.room('a@muc').cursor = { stanzaId: 's1', at: 1 };
    state.room('b@muc').subject = 'hello';
    await state.flush();
    state.room('a@muc').cursor = { stanzaId: 's2', at: 2 };
    await state.flush();
    await state.flush();

    expect(table.writes).toEqual([
      { put: ['version', 'room:a@muc', 'room:b@muc'], remove: [] },
      { put: ['room:a@muc'], remove: [] },
    ]);
    const again = new BridgeState(await DbStateStore.open(table), () => undefined);
    expect(again.roomJids()).toEqual(['a@muc', 'b@muc']);
    expect(again.room('a@muc').cursor).toEqual({ stanzaId: 's2', at: 2 });
    expect(again.room('b@muc')).toEqual({ ...emptyRoomState(), subject: 'hello' });
  });

  it('imports a JSON journal of earlier versions once and renames it .imported', async () => {
    const file = join(dir, 'xmpp-state.json');
    const room = { ...emptyRoomState(), cursor: { stanzaId: 'x', at: 5 }, puppets: { 'mimi://p.example/u/bob': {} } };
    writeFileSync(file, JSON.stringify({ version: STATE_VERSION, rooms: { 'lobby@muc': room } }));
    const table = new MemoryTable();

    const state = new BridgeState(await DbStateStore.open(table, file), () => undefined);

    expect(state.room('lobby@muc')).toEqual(room);
    expect(JSON.parse(table.rows.get('room:lobby@muc')!)).toEqual(room);
    expect(existsSync(file)).toBe(false);
    expect(JSON.parse(readFileSync(`${file}.imported`, 'utf8')).rooms['lobby@muc']).toEqual(room);
    // A later start reads the database; a file that shows up again is not imported over it.
    writeFileSync(file, JSON.stringify({ version: STATE_VERSION, rooms: {} }));
    const later = new BridgeState(await DbStateStore.open(table, file), () => undefined);
    expect(later.room('lobby@muc').cursor).toEqual({ stanzaId: 'x', at: 5 });
  });

  it('refuses state of an unknown version', async () => {
    const table = new MemoryTable();
    table.rows.set('version', '99');
    await expect(DbStateStore.open(table)).rejects.toThrow(/version 99/);
  });
});
