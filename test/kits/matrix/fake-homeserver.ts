import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small Matrix homeserver on loopback for the Matrix bridge's unit and contract specs: the
 * client-server calls an application service makes (as its bot, or as a ghost through
 * `?user_id=`), with rooms, state, membership, transaction-ID de-duplication of sends, and the
 * appservice push of new events (`PUT /_matrix/app/v1/transactions/{txnId}`, like Synapse).
 *
 * It records every request, and `failNext` scripts an error answer (429 with `retry_after_ms`,
 * 403, 500) for the next request that matches; `loseNextAnswer` handles one and cuts the
 * connection instead of answering, and `forgetTransactions` forgets the sends' transaction IDs as
 * Synapse does when it restarts. It is not a homeserver: no auth rules beyond "an invite-only
 * room needs an invite", no federation, no sync.
 */

export interface RecordedRequest {
  readonly method: string;
  /** The decoded path (`/_matrix/client/v3/rooms/!a:hs/send/…`). */
  readonly path: string;
  /** The user the appservice acts as (`?user_id=`), or the bot when absent. */
  readonly userId: string;
  readonly body: Record<string, unknown>;
  /** When it arrived (Date.now()). */
  readonly at: number;
}

export interface FakeEvent {
  readonly type: string;
  readonly event_id: string;
  readonly room_id: string;
  readonly sender: string;
  readonly origin_server_ts: number;
  readonly content: Record<string, unknown>;
  readonly state_key?: string;
  readonly redacts?: string;
  readonly unsigned?: Record<string, unknown>;
}

interface FakeRoom {
  readonly roomId: string;
  /** State by `type\u0000stateKey`. */
  readonly state: Map<string, FakeEvent>;
  readonly timeline: FakeEvent[];
}

interface ScriptedFailure {
  readonly method: string;
  readonly path: RegExp;
  /** An HTTP answer, 'hold': no answer until the server closes, or 'lose': handled, then the connection cut. */
  readonly status: number | 'hold' | 'lose';
  readonly body: Record<string, unknown>;
  readonly headers?: Record<string, string>;
}

export interface FakeHomeserverOptions {
  /** The homeserver's server name (the part after `:` in user IDs). */
  readonly serverName: string;
  readonly asToken: string;
  readonly hsToken: string;
  /** The appservice bot's user ID. */
  readonly botUserId: string;
}

class HttpAnswer extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(`${status} ${String(body['errcode'])}`);
  }
}

const forbidden = (error: string): HttpAnswer => new HttpAnswer(403, { errcode: 'M_FORBIDDEN', error });
const notFound = (error: string): HttpAnswer => new HttpAnswer(404, { errcode: 'M_NOT_FOUND', error });

export class FakeHomeserver {
  readonly requests: RecordedRequest[] = [];
  readonly rooms = new Map<string, FakeRoom>();
  /** Transactions pushed to the appservice, and how the appservice answered them. */
  readonly pushed: { txnId: string; events: FakeEvent[]; status: number }[] = [];
  /** Where to push new events (the bridge's appservice listener); none until set. */
  appserviceUrl?: string;
  private readonly aliases = new Map<string, string>();
  private readonly sent = new Map<string, string>();
  private readonly failures: ScriptedFailure[] = [];
  private readonly pushes = new Set<Promise<void>>();
  private readonly redelivered = new Set<(typeof this.pushed)[number]>();
  private server?: Server;
  private seq = 0;
  private txnSeq = 0;

  constructor(readonly opts: FakeHomeserverOptions) {}

  get url(): string {
    const port = (this.server?.address() as AddressInfo | undefined)?.port;
    if (port === undefined) throw new Error('fake homeserver not listening');
    return `http://127.0.0.1:${port}`;
  }

  async listen(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return this.url;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.pushes]);
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  /** Wait until every push to the appservice so far has been answered. */
  async settled(): Promise<void> {
    while (this.pushes.size > 0) await Promise.allSettled([...this.pushes]);
  }

  /** The next request matching `method` and `path` is answered `status` with `body` (and `headers`). */
  failNext(
    method: string,
    path: RegExp,
    status: number,
    body: Record<string, unknown>,
    headers?: Record<string, string>,
  ): void {
    this.failures.push({ method, path, status, body, headers });
  }

  /**
   * Send again every pushed transaction the appservice did not acknowledge (as a homeserver does
   * after its backoff), with the same transaction ID and events; waits for the answers.
   */
  async redeliver(): Promise<void> {
    await this.settled();
    const failed = this.pushed.filter((p) => p.status !== 200 && !this.redelivered.has(p));
    for (const p of failed) {
      this.redelivered.add(p);
      this.push(p.events, p.txnId);
    }
    await this.settled();
  }

  /** The next request matching `method` and `path` gets no answer (until close). */
  holdNext(method: string, path: RegExp): void {
    this.failures.push({ method, path, status: 'hold', body: {} });
  }

  /** The next request matching `method` and `path` is handled, and its answer lost (the connection is cut). */
  loseNextAnswer(method: string, path: RegExp): void {
    this.failures.push({ method, path, status: 'lose', body: {} });
  }

  /** Forget every send's transaction ID, as Synapse does for an appservice when it restarts. */
  forgetTransactions(): void {
    this.sent.clear();
  }

  /** Requests whose path matches (and method, when given). */
  calls(path: RegExp, method?: string): RecordedRequest[] {
    return this.requests.filter((r) => path.test(r.path) && (method === undefined || r.method === method));
  }

  /** A room created by a native user (`creator`), who joins it; the bot joins too unless told otherwise. */
  createRoom(
    creator: string,
    opts: {
      joinRule?: 'public' | 'invite';
      name?: string;
      botJoined?: boolean;
      powerLevels?: Record<string, unknown>;
    } = {},
  ): string {
    const roomId = `!room${++this.seq}:${this.opts.serverName}`;
    this.rooms.set(roomId, { roomId, state: new Map(), timeline: [] });
    this.addEvent(roomId, creator, 'm.room.create', { room_version: '10', creator }, '', false);
    this.addEvent(roomId, creator, 'm.room.member', { membership: 'join' }, creator, false);
    this.addEvent(
      roomId,
      creator,
      'm.room.power_levels',
      opts.powerLevels ?? {
        users: { [creator]: 100, [this.opts.botUserId]: 100 },
        users_default: 0,
        events_default: 0,
      },
      '',
      false,
    );
    this.addEvent(roomId, creator, 'm.room.join_rules', { join_rule: opts.joinRule ?? 'invite' }, '', false);
    if (opts.name !== undefined) this.addEvent(roomId, creator, 'm.room.name', { name: opts.name }, '', false);
    if (opts.botJoined ?? true) {
      this.addEvent(roomId, this.opts.botUserId, 'm.room.member', { membership: 'join' }, this.opts.botUserId, false);
    }
    return roomId;
  }

  /** A native user does something: the event is stored and pushed to the appservice. */
  emit(roomId: string, sender: string, type: string, content: Record<string, unknown>, stateKey?: string): FakeEvent {
    return this.addEvent(roomId, sender, type, content, stateKey, true);
  }

  membershipOf(roomId: string, userId: string): string | undefined {
    return this.stateEvent(roomId, 'm.room.member', userId)?.content['membership'] as string | undefined;
  }

  stateEvent(roomId: string, type: string, stateKey = ''): FakeEvent | undefined {
    return this.rooms.get(roomId)?.state.get(`${type}\u0000${stateKey}`);
  }

  timeline(roomId: string): readonly FakeEvent[] {
    return this.rooms.get(roomId)?.timeline ?? [];
  }

  // -------------------------------------------------------------------------------------------

  private addEvent(
    roomId: string,
    sender: string,
    type: string,
    content: Record<string, unknown>,
    stateKey: string | undefined,
    push: boolean,
    extra: { redacts?: string; txnId?: string } = {},
  ): FakeEvent {
    const room = this.rooms.get(roomId);
    if (!room) throw notFound(`unknown room ${roomId}`);
    const prev = stateKey === undefined ? undefined : room.state.get(`${type}\u0000${stateKey}`);
    const event: FakeEvent = {
      type,
      event_id: `$ev${++this.seq}`,
      room_id: roomId,
      sender,
      origin_server_ts: Date.now(),
      content,
      ...(stateKey !== undefined ? { state_key: stateKey } : {}),
      ...(extra.redacts !== undefined ? { redacts: extra.redacts } : {}),
      unsigned: {
        ...(prev ? { prev_content: prev.content } : {}),
        ...(extra.txnId !== undefined ? { transaction_id: extra.txnId } : {}),
      },
    };
    if (stateKey !== undefined) room.state.set(`${type}\u0000${stateKey}`, event);
    room.timeline.push(event);
    if (push) this.push([event]);
    return event;
  }

  private push(events: FakeEvent[], txnId = `hs${++this.txnSeq}`): void {
    const url = this.appserviceUrl;
    if (url === undefined) return;
    const p = fetch(`${url}/_matrix/app/v1/transactions/${txnId}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${this.opts.hsToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events }),
    })
      .then(async (res) => {
        await res.arrayBuffer();
        this.pushed.push({ txnId, events, status: res.status });
      })
      .catch(() => void this.pushed.push({ txnId, events, status: 0 }));
    this.pushes.add(p);
    void p.finally(() => this.pushes.delete(p));
  }

  /**
   * Client-server API v1.7 appservice ping, as Synapse answers it: we call the appservice's
   * `/_matrix/app/v1/ping` with the hs_token; 200 with `duration_ms`, or 502 M_CONNECTION_FAILED
   * (unreachable, or no appserviceUrl yet) / M_BAD_STATUS (it answered non-200).
   */
  private async pingAppservice(transactionId: unknown): Promise<[number, Record<string, unknown>]> {
    const started = Date.now();
    const url = this.appserviceUrl;
    if (url === undefined) return [502, { errcode: 'M_CONNECTION_FAILED', error: 'no appservice URL' }];
    try {
      const res = await fetch(`${url}/_matrix/app/v1/ping`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.opts.hsToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(transactionId === undefined ? {} : { transaction_id: transactionId }),
      });
      const text = await res.text();
      if (!res.ok) return [502, { errcode: 'M_BAD_STATUS', error: 'ping failed', status: res.status, body: text }];
      return [200, { duration_ms: Date.now() - started }];
    } catch (e) {
      return [502, { errcode: 'M_CONNECTION_FAILED', error: String(e) }];
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown> = {};
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      body = {};
    }
    const method = req.method ?? 'GET';
    const path = decodeURIComponent(url.pathname);
    const userId = url.searchParams.get('user_id') ?? this.opts.botUserId;
    this.requests.push({ method, path, userId, body, at: Date.now() });
    const send = (status: number, json: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(json));
    };
    const auth = req.headers.authorization ?? `Bearer ${url.searchParams.get('access_token') ?? ''}`;
    if (!path.startsWith('/_matrix/client/versions') && auth !== `Bearer ${this.opts.asToken}`) {
      return send(401, { errcode: 'M_UNKNOWN_TOKEN', error: 'bad as_token' });
    }
    const f = this.failures.findIndex((x) => x.method === method && x.path.test(path));
    const failure = f >= 0 ? this.failures.splice(f, 1)[0]! : undefined;
    if (failure?.status === 'hold') return;
    if (failure?.status === 'lose') {
      try {
        this.route(method, url.pathname.split('/').map(decodeURIComponent), userId, body, url.searchParams);
      } catch {
        // An error answer is lost just the same.
      }
      res.socket?.destroy();
      return;
    }
    if (failure !== undefined) return send(failure.status, failure.body, failure.headers);
    if (method === 'POST' && /^\/_matrix\/client\/v1\/appservice\/[^/]+\/ping$/.test(path)) {
      const [status, answer] = await this.pingAppservice(body['transaction_id']);
      return send(status, answer);
    }
    try {
      send(200, this.route(method, url.pathname.split('/').map(decodeURIComponent), userId, body, url.searchParams));
    } catch (e) {
      if (e instanceof HttpAnswer) return send(e.status, e.body);
      send(500, { errcode: 'M_UNKNOWN', error: String(e) });
    }
  }

  /** The client-server API subset; `p` is the decoded path split on `/` (p[0] is ''). */
  private route(
    method: string,
    p: string[],
    userId: string,
    body: Record<string, unknown>,
    query: URLSearchParams,
  ): unknown {
    const at = (i: number): string => p[i] ?? '';
    const api = `${at(1)}/${at(2)}`;
    if (api !== '_matrix/client') throw notFound('not the client-server API');
    const rest = p.slice(4); // after /_matrix/client/<version>
    const r = (i: number): string => rest[i] ?? '';
    const key = `${method} ${r(0)}`;
    if (method === 'GET' && at(3) === 'versions') return { versions: ['v1.11', 'v1.12'] };
    switch (key) {
      case 'POST register':
        return { user_id: `@${String(body['username'])}:${this.opts.serverName}` };
      case 'GET account':
        return { user_id: userId };
      case 'POST appservice':
        return { duration_ms: 1 };
      case 'PUT profile':
      case 'GET profile':
        return {};
      case 'POST join':
        return this.join(r(1), userId);
      case 'POST createRoom':
        return this.createRoomRequest(userId, body);
      case 'GET directory': {
        const roomId = this.aliases.get(r(2));
        if (roomId === undefined) throw notFound(`no alias ${r(2)}`);
        return { room_id: roomId, servers: [this.opts.serverName] };
      }
      case 'PUT directory':
        this.aliases.set(r(2), String(body['room_id']));
        return {};
    }
    if (r(0) !== 'rooms') throw new HttpAnswer(404, { errcode: 'M_UNRECOGNIZED', error: `${method} ${p.join('/')}` });
    const roomId = r(1);
    const room = this.rooms.get(roomId);
    if (!room) throw forbidden(`unknown room ${roomId}`);
    const action = `${method} ${r(2)}`;
    switch (action) {
      case 'POST join':
        return this.join(roomId, userId);
      case 'POST leave':
        if (this.membershipOf(roomId, userId) !== 'join') throw forbidden(`${userId} is not in ${roomId}`);
        this.addEvent(roomId, userId, 'm.room.member', { membership: 'leave' }, userId, true);
        return {};
      case 'POST invite':
      case 'POST kick':
      case 'POST ban':
      case 'POST unban': {
        this.requireJoined(roomId, userId);
        const target = String(body['user_id']);
        const membership = { invite: 'invite', kick: 'leave', ban: 'ban', unban: 'leave' }[r(2)]!;
        const content: Record<string, unknown> = { membership };
        if (typeof body['reason'] === 'string') content['reason'] = body['reason'];
        this.addEvent(roomId, userId, 'm.room.member', content, target, true);
        return {};
      }
      case 'PUT send': {
        this.requireJoined(roomId, userId);
        return this.sendOnce(userId, r(4), () => {
          const e = this.addEvent(roomId, userId, r(3), body, undefined, true, { txnId: r(4) });
          return e.event_id;
        });
      }
      case 'PUT redact': {
        this.requireJoined(roomId, userId);
        return this.sendOnce(userId, r(4), () => {
          const e = this.addEvent(roomId, userId, 'm.room.redaction', { redacts: r(3) }, undefined, true, {
            redacts: r(3),
            txnId: r(4),
          });
          return e.event_id;
        });
      }
      case 'PUT state': {
        this.requireJoined(roomId, userId);
        const e = this.addEvent(roomId, userId, r(3), body, r(4), true);
        return { event_id: e.event_id };
      }
      case 'GET state': {
        if (r(3) === '') return [...room.state.values()];
        const e = room.state.get(`${r(3)}\u0000${r(4)}`);
        if (!e) throw notFound(`no ${r(3)} state`);
        return e.content;
      }
      case 'GET relations':
        // `/relations/{eventId}/{relType}`: the events of the room that relate to it so.
        return {
          chunk: room.timeline.filter((x) => {
            const rel = x.content['m.relates_to'] as { event_id?: unknown; rel_type?: unknown } | undefined;
            return rel?.event_id === r(3) && (r(4) === '' || rel.rel_type === r(4));
          }),
        };
      case 'GET event': {
        const e = room.timeline.find((x) => x.event_id === r(3));
        if (!e) throw notFound(`no event ${r(3)}`);
        return e;
      }
      case 'GET messages':
        return { chunk: this.latestEvents(room, query) };
    }
    throw new HttpAnswer(404, { errcode: 'M_UNRECOGNIZED', error: `${method} ${p.join('/')}` });
  }

  /**
   * `GET /messages` from the end of the room only (`dir=b`, no `from`): the newest `limit` events,
   * newest first, that pass the RoomEventFilter's `senders` and `types`.
   */
  private latestEvents(room: FakeRoom, query: URLSearchParams): FakeEvent[] {
    if (query.get('dir') !== 'b' || query.has('from')) {
      throw new HttpAnswer(400, { errcode: 'M_UNRECOGNIZED', error: 'only dir=b from the end' });
    }
    const filter = JSON.parse(query.get('filter') ?? '{}') as { senders?: string[]; types?: string[] };
    const limit = Number(query.get('limit') ?? '10');
    return [...room.timeline]
      .reverse()
      .filter((e) => (filter.senders?.includes(e.sender) ?? true) && (filter.types?.includes(e.type) ?? true))
      .slice(0, limit);
  }

  /** Sends are idempotent per (user, transaction ID), as the spec requires. */
  private sendOnce(userId: string, txnId: string, make: () => string): { event_id: string } {
    const k = `${userId}\u0000${txnId}`;
    let eventId = this.sent.get(k);
    if (eventId === undefined) {
      eventId = make();
      this.sent.set(k, eventId);
    }
    return { event_id: eventId };
  }

  private requireJoined(roomId: string, userId: string): void {
    if (this.membershipOf(roomId, userId) !== 'join') throw forbidden(`${userId} is not in ${roomId}`);
  }

  private join(roomIdOrAlias: string, userId: string): { room_id: string } {
    const roomId = roomIdOrAlias.startsWith('#') ? this.aliases.get(roomIdOrAlias) : roomIdOrAlias;
    if (roomId === undefined || !this.rooms.has(roomId)) throw notFound(`unknown room ${roomIdOrAlias}`);
    const current = this.membershipOf(roomId, userId);
    if (current === 'join') return { room_id: roomId };
    if (current === 'ban') throw forbidden(`${userId} is banned from ${roomId}`);
    const rule = this.stateEvent(roomId, 'm.room.join_rules')?.content['join_rule'];
    if (rule !== 'public' && current !== 'invite') throw forbidden(`${roomId} is invite-only`);
    this.addEvent(roomId, userId, 'm.room.member', { membership: 'join' }, userId, true);
    return { room_id: roomId };
  }

  private createRoomRequest(userId: string, body: Record<string, unknown>): { room_id: string } {
    const localpart = body['room_alias_name'];
    const alias = typeof localpart === 'string' ? `#${localpart}:${this.opts.serverName}` : undefined;
    if (alias !== undefined && this.aliases.has(alias)) {
      throw new HttpAnswer(400, { errcode: 'M_ROOM_IN_USE', error: 'alias taken' });
    }
    const roomId = this.createRoom(userId, {
      joinRule: body['preset'] === 'public_chat' ? 'public' : 'invite',
      ...(typeof body['name'] === 'string' ? { name: body['name'] } : {}),
      botJoined: false,
    });
    if (alias !== undefined) this.aliases.set(alias, roomId);
    return { room_id: roomId };
  }
}
