/**
 * Clients for gateway processes under test:
 * - ControlClient: the memory gateway's test-only control API (test/support/memory-gateway-control.ts);
 * - ProvisioningClient: the admin listener's provisioning API (ISSUE3-CONTRACT §4);
 * - RawMimiClient: bare MIMI requests over mutual TLS with a provider's certificate, bypassing the
 *   gateway (to forge, replay and probe).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, Dispatcher, request } from 'undici';
import type { UserUri } from '../../src/common/ids';
import type { MimiEndpoint } from '../../src/ports/delivery-target.port';
import type { InboundEvent, LegacyUserRef, Membership, MessageAction, ParticipantRole } from '../../src/ports';
import { roomPathSegment } from '../../src/mimi/transport/mimi-paths';
import {
  SubmitMessageRequest,
  SubmitMessageResponse,
  decodeAll,
  encodeValue,
  submitMessageRequestCodec,
  submitMessageResponseCodec,
} from '../../src/mimi/wire';

/** A non-2xx answer of a JSON API, with the `{ errcode, error }` body when there was one. */
export class HttpError extends Error {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly status: number,
    readonly errcode: string | undefined,
    readonly body: string,
  ) {
    super(`${method} ${url} → HTTP ${status}${errcode ? ` ${errcode}` : ''}: ${body.slice(0, 500)}`);
    this.name = 'HttpError';
  }
}

/** A JSON-over-HTTP client for one base URL. */
export class JsonHttp {
  constructor(
    readonly baseUrl: string,
    private readonly headers: Record<string, string> = {},
    private readonly dispatcher?: Dispatcher,
  ) {}

  async call<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const url = `${this.baseUrl}${path}`;
    const res = await request(url, {
      method,
      headers: {
        ...this.headers,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher: this.dispatcher,
      headersTimeout: 120_000,
      bodyTimeout: 120_000,
    });
    const text = await res.body.text();
    if (res.statusCode < 200 || res.statusCode >= 300) {
      let errcode: string | undefined;
      try {
        const parsed = JSON.parse(text) as { errcode?: unknown };
        errcode = typeof parsed.errcode === 'string' ? parsed.errcode : undefined;
      } catch {
        errcode = undefined;
      }
      throw new HttpError(method, url, res.statusCode, errcode, text);
    }
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }
}

// ---- control API --------------------------------------------------------------------------------

/** A native user of a memory platform, as the control API takes it. */
export interface NativeUser {
  readonly userId: string;
  readonly displayName?: string;
}

/** A MIMI user (ghost/puppet on this platform). */
export interface MimiUser {
  readonly userUri: UserUri | string;
  readonly displayName?: string;
}

export interface ControlMember {
  readonly id: string;
  readonly user: (LegacyUserRef & { platform: string }) | { userUri: string; displayName?: string };
  readonly role: ParticipantRole;
}

export interface ControlRoom {
  readonly roomId: string;
  readonly name?: string;
  readonly topic?: string;
  readonly joinRule: 'public' | 'invite';
  readonly members: ControlMember[];
  readonly timelineLength: number;
}

export interface ControlTimelineEntry {
  readonly index: number;
  readonly event: InboundEvent;
  readonly recordedAt: number;
  readonly ackedAt?: number;
}

export interface ControlEmitResult {
  readonly platformEventId: string;
  readonly recordedAt: number;
  readonly ackedAt: number;
}

/** One member-list change made by a memory platform (GET /rooms/:roomId/member-log). */
export interface ControlMemberChange {
  readonly index: number;
  readonly id: string;
  readonly user: NativeUser | MimiUser;
  readonly change: 'join' | 'leave' | 'kick' | 'ban' | 'unban' | 'role';
  readonly at: number;
}

export interface ControlNotice {
  readonly room: string;
  readonly about: string;
  readonly text: string;
}

const enc = encodeURIComponent;

export class ControlClient {
  readonly http: JsonHttp;
  constructor(readonly baseUrl: string) {
    this.http = new JsonHttp(baseUrl);
  }

  health(): Promise<{ domain: string; mimiUrl: string; adminUrl?: string; pid: number }> {
    return this.http.call('GET', '/health');
  }

  rooms(): Promise<ControlRoom[]> {
    return this.http.call('GET', '/rooms');
  }

  room(roomId: string): Promise<ControlRoom> {
    return this.http.call('GET', `/rooms/${enc(roomId)}`);
  }

  createRoom(
    roomId: string,
    opts: {
      name?: string;
      joinRule?: 'public' | 'invite';
      members?: readonly (NativeUser & { role?: ParticipantRole })[];
    } = {},
  ): Promise<ControlRoom> {
    return this.http.call('POST', '/rooms', { roomId, ...opts });
  }

  /** `user` asks for the remote MIMI room `roomUri` (a portal join): resolves with the mirror room. */
  joinRemote(roomUri: string, user: NativeUser): Promise<ControlRoom> {
    return this.http.call('POST', '/remote-rooms', { roomUri, user });
  }

  timeline(roomId: string, since = 0): Promise<ControlTimelineEntry[]> {
    return this.http.call('GET', `/rooms/${enc(roomId)}/timeline?since=${since}`);
  }

  send(
    roomId: string,
    sender: NativeUser,
    action: MessageAction,
    platformEventId?: string,
  ): Promise<ControlEmitResult> {
    return this.http.call('POST', `/rooms/${enc(roomId)}/messages`, { sender, action, platformEventId });
  }

  /** A plain text post. */
  say(roomId: string, sender: NativeUser, text: string): Promise<ControlEmitResult> {
    return this.send(roomId, sender, { type: 'post', body: { kind: 'text', text } });
  }

  /** The room's member changes made by the platform (ghost joins and leaves too), from index `since`. */
  memberLog(roomId: string, since = 0): Promise<ControlMemberChange[]> {
    return this.http.call('GET', `/rooms/${enc(roomId)}/member-log?since=${since}`);
  }

  /** Posts in order; `inFlight` at a time handed to the gateway together (default 1: each acknowledged before the next). */
  sayMany(
    roomId: string,
    sender: NativeUser,
    texts: readonly string[],
    opts: { inFlight?: number } = {},
  ): Promise<ControlEmitResult[]> {
    return this.http.call('POST', `/rooms/${enc(roomId)}/messages/batch`, { sender, texts, ...opts });
  }

  membership(
    roomId: string,
    user: NativeUser | MimiUser,
    membership: Membership,
    opts: { by?: NativeUser; reason?: string } = {},
  ): Promise<ControlEmitResult> {
    return this.http.call('POST', `/rooms/${enc(roomId)}/membership`, { user, membership, ...opts });
  }

  role(
    roomId: string,
    user: NativeUser | MimiUser,
    role: ParticipantRole,
    opts: { by?: NativeUser } = {},
  ): Promise<{ platformEventId: string }> {
    return this.http.call('POST', `/rooms/${enc(roomId)}/role`, { user, role, ...opts });
  }

  notices(): Promise<ControlNotice[]> {
    return this.http.call('GET', '/notices');
  }

  unacknowledged(): Promise<InboundEvent[]> {
    return this.http.call('GET', '/unacknowledged');
  }

  knobs(knobs: {
    postDelayMs?: number;
    echoDelayMs?: number;
    failWith?: { code: string; message?: string } | null;
  }): Promise<unknown> {
    return this.http.call('PUT', '/knobs', knobs);
  }
}

// ---- provisioning API (ISSUE3-CONTRACT §4) ------------------------------------------------------

interface ProvisionedParticipant {
  readonly userUri: string;
  readonly role: string;
}

export interface ProvisionedRoom {
  readonly roomUri: string;
  readonly role: 'hub' | 'follower';
  readonly hub: string;
  readonly platform: string;
  readonly roomId: string;
  readonly epoch: number | string;
  readonly participants: ProvisionedParticipant[];
  /** Users with MLS clients in the group. */
  readonly members: string[];
  /** This gateway's users with clients in the group. */
  readonly localMembers: string[];
}

export interface StoredRoomEvent {
  readonly seq: number | string;
  readonly messageId: string;
  readonly senderUri: string;
  readonly platformEventId?: string | null;
  /** The decoded MIMI content as JSON (its shape is the gateway's). */
  readonly content: Record<string, unknown> | null;
  readonly kind: string;
}

export class ProvisioningClient {
  readonly http: JsonHttp;
  constructor(
    readonly adminUrl: string,
    token?: string,
  ) {
    this.http = new JsonHttp(adminUrl, token ? { authorization: `Bearer ${token}` } : {});
  }

  async linkRoom(platform: string, roomId: string): Promise<string> {
    const r = await this.http.call<{ roomUri: string }>('POST', '/provisioning/rooms', { platform, roomId });
    return r.roomUri;
  }

  rooms(): Promise<ProvisionedRoom[]> {
    return this.http.call('GET', '/provisioning/rooms');
  }

  async room(roomUri: string): Promise<ProvisionedRoom | undefined> {
    return (await this.rooms()).find((r) => r.roomUri === roomUri);
  }

  unlinkRoom(roomUri: string): Promise<void> {
    return this.http.call('DELETE', `/provisioning/rooms/${enc(roomUri)}`);
  }

  events(roomUri: string): Promise<StoredRoomEvent[]> {
    return this.http.call('GET', `/provisioning/rooms/${enc(roomUri)}/events`);
  }
}

// ---- raw MIMI over mutual TLS -------------------------------------------------------------------

/** A provider identity: its domain and PEM certificate/key. */
export interface ProviderIdentity {
  readonly domain: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export interface RawMimiResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A submitMessage answer: the decoded SubmitMessageResponse when the body held one, else the JSON error. */
export interface SubmitOutcome {
  readonly status: number;
  readonly response?: SubmitMessageResponse;
  readonly error?: { errcode?: string; error?: string };
}

/**
 * Sends MIMI requests as `identity` (its certificate on the TLS connection, `From: mimi@<domain>`)
 * to a gateway at `baseUrl`, checking that the server's certificate names `peerDomain`.
 */
export class RawMimiClient {
  private readonly agent: Agent;

  constructor(
    readonly identity: ProviderIdentity,
    readonly peerDomain: string,
    readonly baseUrl: string,
    caPem: string,
  ) {
    this.agent = new Agent({
      connect: { cert: identity.certPem, key: identity.keyPem, ca: caPem, servername: peerDomain },
      keepAliveTimeout: 10_000,
    });
  }

  /** POST `body` to `/<endpoint>/<percent-encoded URI>` (the room/user-in-path convention of src/mimi). */
  async post(
    endpoint: MimiEndpoint,
    pathUri: string,
    body: Uint8Array,
    headers: Record<string, string> = {},
  ): Promise<RawMimiResponse> {
    const res = await request(`${this.baseUrl}/${endpoint}/${roomPathSegment(pathUri)}`, {
      method: 'POST',
      dispatcher: this.agent,
      headers: {
        host: this.peerDomain,
        from: `mimi@${this.identity.domain}`,
        'content-type': 'application/octet-stream',
        ...headers,
      },
      body: Buffer.from(body),
    });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  }

  /** protocol-06 §5.4: POST /submitMessage/{roomId} with a SubmitMessageRequest. */
  async submitMessage(roomUri: string, req: SubmitMessageRequest): Promise<SubmitOutcome> {
    const res = await this.post('submitMessage', roomUri, encodeValue(req, submitMessageRequestCodec));
    return decodeSubmitOutcome(res);
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** Read a submitMessage answer: a SubmitMessageResponse body (any status), else a JSON error body. */
export function decodeSubmitOutcome(res: RawMimiResponse): SubmitOutcome {
  try {
    return { status: res.status, response: decodeAll(new Uint8Array(res.body), submitMessageResponseCodec) };
  } catch {
    try {
      return { status: res.status, error: JSON.parse(res.body.toString('utf8')) as SubmitOutcome['error'] };
    } catch {
      return { status: res.status, error: { error: res.body.toString('utf8').slice(0, 300) } };
    }
  }
}

// ---- metrics (admin listener, Prometheus text format) ---------------------------------------------

/**
 * The sum of every sample of metric `name` on the admin listener whose labels include `labels`
 * (0 when there is none).
 */
export async function readMetric(adminUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const res = await request(`${adminUrl}/metrics`);
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new HttpError('GET', `${adminUrl}/metrics`, res.statusCode, undefined, text);
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map(
      [...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]),
    );
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[3]);
  }
  return sum;
}
