import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

/**
 * A real Synapse for e2e tests, driven through scripts/synapse.sh (pinned version in a cached
 * virtualenv under .test-servers/), plus a minimal client-server API client on plain fetch.
 */

const run = promisify(execFile);
export const SYNAPSE_SCRIPT = resolve(__dirname, '../../../scripts/synapse.sh');

export interface SynapseServer {
  readonly url: string;
  readonly dir: string;
  readonly serverName: string;
  readonly sharedSecret: string;
  stop(): Promise<void>;
}

/** Start a homeserver loading `registrationFile`; resolves once /_matrix/client/versions answers. */
export async function startSynapse(opts: { registrationFile: string; serverName: string }): Promise<SynapseServer> {
  const dir = mkdtempSync(join(tmpdir(), 'mimi-synapse-'));
  const { stdout } = await run('bash', [SYNAPSE_SCRIPT, 'start', dir, opts.registrationFile], {
    env: { ...process.env, SYNAPSE_SERVER_NAME: opts.serverName },
    timeout: 600_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  const url = stdout.trim().split('\n').pop()!;
  return {
    url,
    dir,
    serverName: opts.serverName,
    sharedSecret: readFileSync(join(dir, 'shared-secret'), 'utf8').trim(),
    stop: async () => {
      await run('bash', [SYNAPSE_SCRIPT, 'stop', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export class MatrixApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: { errcode?: string; error?: string },
    what: string,
  ) {
    super(`${what}: ${status} ${body.errcode ?? ''} ${body.error ?? ''}`);
  }
}

async function call<T>(
  baseUrl: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<T> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...opts.headers,
    },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  const json = (text ? JSON.parse(text) : {}) as T & { errcode?: string; error?: string };
  if (!res.ok) throw new MatrixApiError(res.status, json, `${method} ${path}`);
  return json;
}

/** Register a user with the shared-secret admin API (Synapse `/_synapse/admin/v1/register`). */
export async function registerUser(hs: SynapseServer, localpart: string, admin = false): Promise<MatrixUserClient> {
  const password = `pw-${localpart}-secret`;
  const { nonce } = await call<{ nonce: string }>(hs.url, 'GET', '/_synapse/admin/v1/register');
  const mac = createHmac('sha1', hs.sharedSecret)
    .update(`${nonce}\0${localpart}\0${password}\0${admin ? 'admin' : 'notadmin'}`)
    .digest('hex');
  const res = await call<{ user_id: string; access_token: string }>(hs.url, 'POST', '/_synapse/admin/v1/register', {
    body: { nonce, username: localpart, password, admin, mac },
  });
  const client = new MatrixUserClient(hs.url, res.user_id, res.access_token);
  await client.initialSync();
  return client;
}

export interface ClientEvent {
  event_id: string;
  room_id: string;
  sender: string;
  type: string;
  state_key?: string;
  content: Record<string, unknown>;
  origin_server_ts: number;
  unsigned?: Record<string, unknown>;
}

/** An ephemeral event of a room (/sync `ephemeral`): no ID, no sender. */
export interface EphemeralEvent {
  room_id: string;
  type: string;
  content: Record<string, unknown>;
}

/** A Matrix user acting through the real client-server API. */
export class MatrixUserClient {
  private since?: string;
  private txn = 0;
  /** Every timeline event seen through /sync since the client started. */
  readonly seen: ClientEvent[] = [];
  /** Every ephemeral event (receipts, typing) of a joined room seen through /sync since the client started. */
  readonly ephemeral: EphemeralEvent[] = [];

  constructor(
    readonly baseUrl: string,
    readonly userId: string,
    readonly accessToken: string,
  ) {}

  request<T>(method: string, path: string, body?: unknown): Promise<T> {
    return call<T>(this.baseUrl, method, path, { token: this.accessToken, body });
  }

  async initialSync(): Promise<void> {
    const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 0 } } }));
    const res = await this.request<{ next_batch: string }>('GET', `/_matrix/client/v3/sync?timeout=0&filter=${filter}`);
    this.since = res.next_batch;
  }

  private async syncOnce(timeoutMs: number): Promise<void> {
    const res = await this.request<{
      next_batch: string;
      rooms?: {
        join?: Record<
          string,
          { timeline?: { events?: ClientEvent[] }; ephemeral?: { events?: Omit<EphemeralEvent, 'room_id'>[] } }
        >;
        invite?: Record<string, { invite_state?: { events?: Omit<ClientEvent, 'room_id'>[] } }>;
      };
    }>(
      'GET',
      `/_matrix/client/v3/sync?timeout=${timeoutMs}${this.since ? `&since=${encodeURIComponent(this.since)}` : ''}`,
    );
    this.since = res.next_batch;
    for (const [roomId, room] of Object.entries(res.rooms?.join ?? {})) {
      for (const ev of room.timeline?.events ?? []) this.seen.push({ ...ev, room_id: roomId });
      for (const ev of room.ephemeral?.events ?? []) this.ephemeral.push({ ...ev, room_id: roomId });
    }
    // Invites: the stripped state of the room (name, the invite itself), seen as events without IDs.
    for (const [roomId, room] of Object.entries(res.rooms?.invite ?? {})) {
      for (const ev of room.invite_state?.events ?? []) this.seen.push({ ...ev, room_id: roomId } as ClientEvent);
    }
  }

  /** Wait (long-polling /sync, no sleeps) for a timeline event matching `pred`. */
  waitForEvent(pred: (ev: ClientEvent) => boolean, timeoutMs = 20_000): Promise<ClientEvent> {
    return this.waitIn(this.seen, pred, timeoutMs);
  }

  /** Wait (long-polling /sync) for an ephemeral event (an m.receipt, m.typing) matching `pred`. */
  waitForEphemeral(pred: (ev: EphemeralEvent) => boolean, timeoutMs = 20_000): Promise<EphemeralEvent> {
    return this.waitIn(this.ephemeral, pred, timeoutMs);
  }

  private async waitIn<T>(list: readonly T[], pred: (ev: T) => boolean, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = list.find(pred);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.userId}: no matching event within ${timeoutMs} ms`);
      await this.syncOnce(Math.min(left, 5_000));
    }
  }

  /** Upload to the media repository; the mxc URI. */
  async uploadMedia(bytes: Uint8Array, contentType: string, filename: string): Promise<string> {
    const res = await fetch(`${this.baseUrl}/_matrix/media/v3/upload?filename=${encodeURIComponent(filename)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.accessToken}`, 'content-type': contentType },
      body: bytes,
    });
    if (res.status !== 200) throw new Error(`${this.userId}: upload answered ${res.status}`);
    return ((await res.json()) as { content_uri: string }).content_uri;
  }

  /** The bytes behind an mxc URI, as a client downloads them (authenticated media, v1.11). */
  async downloadMedia(mxc: string): Promise<Buffer> {
    const m = /^mxc:\/\/([^/]+)\/(.+)$/.exec(mxc);
    if (m === null) throw new Error(`not an mxc URI: ${mxc}`);
    const res = await fetch(`${this.baseUrl}/_matrix/client/v1/media/download/${m[1]}/${m[2]}`, {
      headers: { authorization: `Bearer ${this.accessToken}` },
    });
    if (res.status !== 200) throw new Error(`${this.userId}: download of ${mxc} answered ${res.status}`);
    return Buffer.from(await res.arrayBuffer());
  }

  async createRoom(body: Record<string, unknown> = {}): Promise<string> {
    const res = await this.request<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', body);
    return res.room_id;
  }

  async send(roomId: string, type: string, content: Record<string, unknown>): Promise<string> {
    this.txn += 1;
    const res = await this.request<{ event_id: string }>(
      'PUT',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/${type}/t${Date.now()}-${this.txn}`,
      content,
    );
    return res.event_id;
  }

  sendText(roomId: string, body: string, extra: Record<string, unknown> = {}): Promise<string> {
    return this.send(roomId, 'm.room.message', { msgtype: 'm.text', body, ...extra });
  }

  async redact(roomId: string, eventId: string): Promise<string> {
    this.txn += 1;
    const res = await this.request<{ event_id: string }>(
      'PUT',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/redact/${encodeURIComponent(eventId)}/r${Date.now()}-${this.txn}`,
      {},
    );
    return res.event_id;
  }

  async setState(roomId: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<string> {
    const res = await this.request<{ event_id: string }>(
      'PUT',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/${type}/${encodeURIComponent(stateKey)}`,
      content,
    );
    return res.event_id;
  }

  getState<T>(roomId: string, type: string, stateKey = ''): Promise<T> {
    return this.request<T>(
      'GET',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/${type}/${encodeURIComponent(stateKey)}`,
    );
  }

  async join(roomIdOrAlias: string): Promise<string> {
    const res = await this.request<{ room_id: string }>(
      'POST',
      `/_matrix/client/v3/join/${encodeURIComponent(roomIdOrAlias)}`,
      {},
    );
    return res.room_id;
  }

  async invite(roomId: string, userId: string): Promise<void> {
    await this.request('POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/invite`, { user_id: userId });
  }

  async leave(roomId: string): Promise<void> {
    await this.request('POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/leave`, {});
  }

  async kick(roomId: string, userId: string, reason?: string): Promise<void> {
    await this.request('POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/kick`, {
      user_id: userId,
      reason,
    });
  }

  async joinedMembers(roomId: string): Promise<string[]> {
    const res = await this.request<{ joined: Record<string, unknown> }>(
      'GET',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/joined_members`,
    );
    return Object.keys(res.joined);
  }

  async getEvent(roomId: string, eventId: string): Promise<ClientEvent> {
    return this.request<ClientEvent>(
      'GET',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(eventId)}`,
    );
  }
}

/** PUT a transaction to an appservice ourselves, as the homeserver would. */
export async function putTransaction(
  appserviceUrl: string,
  txnId: string,
  events: readonly unknown[],
  auth: { header?: string; query?: string },
): Promise<{ status: number; body: { errcode?: string } }> {
  const q = auth.query !== undefined ? `?access_token=${encodeURIComponent(auth.query)}` : '';
  const res = await fetch(`${appserviceUrl}/_matrix/app/v1/transactions/${encodeURIComponent(txnId)}${q}`, {
    method: 'PUT',
    headers: {
      'content-type': 'application/json',
      ...(auth.header !== undefined ? { authorization: auth.header } : {}),
    },
    body: JSON.stringify({ events }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as { errcode?: string } };
}
