import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BridgeState, FileStateStore, MAX_POSTED, MemoryStateStore, STATE_VERSION } from './bridge-state';

const ROOM = 'lounge@conference.example';

describe(FileStateStore.name, () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'xmpp-state-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('starts empty, writes atomically with mode 0600, and reads back with defaults filled in', async () => {
    const file = join(dir, 'sub', 'state.json');
    const store = new FileStateStore(file);
    expect(store.load()).toEqual({ version: STATE_VERSION, rooms: {} });
    const state = new BridgeState(store, (e) => {
      throw e;
    });
    state.room(ROOM).cursor = { stanzaId: 's1', at: 1 };
    await state.flush();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    writeFileSync(
      file,
      JSON.stringify({ version: STATE_VERSION, rooms: { [ROOM]: { cursor: { stanzaId: 's2', at: 2 } } } }),
    );
    const loaded = store.load();
    expect(loaded.rooms[ROOM]).toMatchObject({ cursor: { stanzaId: 's2', at: 2 }, puppets: {}, posted: {} });
  });

  it('refuses a file of another version', () => {
    const file = join(dir, 'state.json');
    writeFileSync(file, JSON.stringify({ version: 99, rooms: {} }));
    expect(() => new FileStateStore(file).load()).toThrow(/version 99/);
  });

  it('keeps only the most recent posts', async () => {
    const store = new MemoryStateStore();
    const state = new BridgeState(store, () => undefined);
    for (let i = 0; i <= MAX_POSTED; i++) state.recordPosted(ROOM, `o${i}`, { stanzaId: `s${i}`, userUri: 'u', at: i });
    await state.flush();
    const posted = store.load().rooms[ROOM]!.posted;
    expect(Object.keys(posted)).toHaveLength(MAX_POSTED);
    expect(posted.o0).toBeUndefined();
  });
});
