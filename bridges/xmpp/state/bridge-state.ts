/**
 * The XMPP bridge's own small journal (the port lets a bridge replay "from MAM / its own journal"):
 * per linked MUC, the archive cursor (the last stanza-id the core recorded), the puppets that
 * should be occupants, our own occupant-ids, the last known native occupants, recent posts
 * (origin-id → stanza-id, so a post retried after a crash is not sent twice) and reaction ledgers.
 *
 * Written at most every FLUSH_DELAY_MS and on stop, to a StateStore: in the gateway the core's
 * database (db-state-store.ts, table `bridge_state`); a bridge run on its own (tests) may keep it
 * in a JSON file replaced atomically (FileStateStore: temporary file, fsync, rename) or in memory.
 * After a crash the cursor may lag a little: the bridge then replays a few archived messages
 * again, which the core recognises by their platformEventId.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ParticipantRole } from '../../../src/ports';
import type { ReactionLedgerData } from '../content/reactions';

export const STATE_VERSION = 1;
/** Longest a state change waits before it is written. */
export const FLUSH_DELAY_MS = 100;
/** Recent posts remembered per room. */
export const MAX_POSTED = 2000;

export interface PostedEntry {
  readonly stanzaId: string;
  readonly userUri: string;
  readonly at: number;
}

export interface RoomState {
  /** Last archived message the core recorded, with everything before it. */
  cursor?: { stanzaId: string; at: number };
  subject?: string;
  /** Puppets (component mode) that should be occupants: userUri → display name. */
  puppets: Record<string, { displayName?: string }>;
  /** XEP-0421 occupant-ids of our own occupants: occupant-id → userUri ('' for the bot). */
  ownOccupantIds: Record<string, string>;
  /** Native occupants last seen: userId → nick and role. */
  occupants: Record<string, { nick: string; role: ParticipantRole }>;
  /** Recent posts: origin-id → where it landed. */
  posted: Record<string, PostedEntry>;
  reactionsIn: ReactionLedgerData;
  reactionsOut: ReactionLedgerData;
  /** Follower mode: the MIMI room this MUC mirrors. */
  mirrorOf?: string;
}

export interface BridgeStateData {
  version: number;
  rooms: Record<string, RoomState>;
}

export function emptyRoomState(): RoomState {
  return { puppets: {}, ownOccupantIds: {}, occupants: {}, posted: {}, reactionsIn: {}, reactionsOut: {} };
}

export interface StateStore {
  load(): BridgeStateData;
  /** Write `data` (it may change once this returns: an asynchronous store copies it first). */
  save(data: BridgeStateData): void | Promise<void>;
}

/** Keeps the state in memory only (tests, or a deployment that accepts replays after restarts). */
export class MemoryStateStore implements StateStore {
  private json = JSON.stringify({ version: STATE_VERSION, rooms: {} });

  load(): BridgeStateData {
    return JSON.parse(this.json) as BridgeStateData;
  }

  save(data: BridgeStateData): void {
    this.json = JSON.stringify(data);
  }
}

/** The journal from its JSON form. @throws Error for an unknown version */
export function parseStateJson(json: string, where: string): BridgeStateData {
  const data = JSON.parse(json) as BridgeStateData;
  if (data.version !== STATE_VERSION || typeof data.rooms !== 'object' || data.rooms === null) {
    throw new Error(`${where}: unknown XMPP bridge state version ${String(data.version)}`);
  }
  for (const [jid, room] of Object.entries(data.rooms)) data.rooms[jid] = { ...emptyRoomState(), ...room };
  return data;
}

export class FileStateStore implements StateStore {
  constructor(readonly path: string) {}

  load(): BridgeStateData {
    if (!existsSync(this.path)) return { version: STATE_VERSION, rooms: {} };
    return parseStateJson(readFileSync(this.path, 'utf8'), this.path);
  }

  save(data: BridgeStateData): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(data));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }
}

/** The loaded state plus a debounced writer. */
export class BridgeState {
  readonly data: BridgeStateData;
  private timer?: NodeJS.Timeout;
  /** The writes so far, one after the other. */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: StateStore,
    private readonly onError: (e: unknown) => void,
  ) {
    this.data = store.load();
  }

  room(jid: string): RoomState {
    let r = this.data.rooms[jid];
    if (!r) {
      r = emptyRoomState();
      this.data.rooms[jid] = r;
    }
    return r;
  }

  hasRoom(jid: string): boolean {
    return this.data.rooms[jid] !== undefined;
  }

  roomJids(): string[] {
    return Object.keys(this.data.rooms);
  }

  recordPosted(jid: string, originId: string, entry: PostedEntry): void {
    const posted = this.room(jid).posted;
    posted[originId] = entry;
    const keys = Object.keys(posted);
    for (let i = 0; i < keys.length - MAX_POSTED; i++) delete posted[keys[i]!];
    this.changed();
  }

  /** Schedule a write. */
  changed(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, FLUSH_DELAY_MS);
    this.timer.unref();
  }

  /** Write now (on stop); resolves once written (a failure goes to onError). */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    let saving: void | Promise<void>;
    try {
      saving = this.store.save(this.data);
    } catch (e) {
      this.onError(e);
      return this.writing;
    }
    this.writing = this.writing.then(() => saving).catch((e: unknown) => this.onError(e));
    return this.writing;
  }
}
