import {
  AppserviceServer,
  type AppserviceHandlers,
  type TransactionOutcome,
  checkHomeserverAuth,
  tokensEqual,
} from './appservice-server';

const HS_TOKEN = 'hs-token-0123456789abcdef';
const BEARER = `Bearer ${HS_TOKEN}`;
const EVENTS = [{ event_id: '$a' }, { event_id: '$b' }];

class RecordingHandlers implements AppserviceHandlers {
  readonly transactions: { txnId: string; events: readonly unknown[] }[] = [];
  readonly ephemeral: (readonly unknown[])[] = [];
  outcome: TransactionOutcome = 'ack';
  gate?: Promise<void>;
  users = new Set<string>();
  aliases = new Set<string>();

  async onTransaction(
    txnId: string,
    events: readonly unknown[],
    ephemeral: readonly unknown[],
  ): Promise<TransactionOutcome> {
    this.transactions.push({ txnId, events });
    this.ephemeral.push(ephemeral);
    if (this.gate) await this.gate;
    return this.outcome;
  }

  async onUserQuery(userId: string): Promise<boolean> {
    return this.users.has(userId);
  }

  async onAliasQuery(alias: string): Promise<boolean> {
    return this.aliases.has(alias);
  }
}

describe('checkHomeserverAuth', () => {
  it.each([
    ['the right bearer token', BEARER, undefined, 'ok'],
    ['a lower-case scheme', `bearer ${HS_TOKEN}`, undefined, 'ok'],
    ['header and matching query token', BEARER, HS_TOKEN, 'ok'],
    ['no header', undefined, undefined, 'missing'],
    ['a query token only', undefined, HS_TOKEN, 'missing'],
    ['a wrong token', 'Bearer nope', undefined, 'forbidden'],
    ['a token without scheme', HS_TOKEN, undefined, 'forbidden'],
    ['another scheme', `Basic ${HS_TOKEN}`, undefined, 'forbidden'],
    ['a prefix of the token', `Bearer ${HS_TOKEN.slice(0, -1)}`, undefined, 'forbidden'],
    ['a mismatching query token', BEARER, 'other', 'forbidden'],
    ['two query tokens', BEARER, [HS_TOKEN, HS_TOKEN], 'forbidden'],
  ])('answers %s with %s', (_what, header, query, expected) => {
    expect(checkHomeserverAuth(header, query, HS_TOKEN)).toBe(expected);
  });

  it('compares tokens of any length', () => {
    expect(tokensEqual('a', 'a')).toBe(true);
    expect(tokensEqual('a', 'ab')).toBe(false);
  });
});

describe('AppserviceServer', () => {
  let handlers: RecordingHandlers;
  let server: AppserviceServer;
  let base: string;

  beforeEach(async () => {
    handlers = new RecordingHandlers();
    server = new AppserviceServer({ hsToken: HS_TOKEN, handlers, maxBodyBytes: 4096, rememberTransactions: 2 });
    base = `http://127.0.0.1:${await server.listen(0, '127.0.0.1')}`;
  });

  afterEach(() => server.close());

  const put = (txnId: string, body: unknown, auth: string | null = BEARER, query = '') =>
    fetch(`${base}/_matrix/app/v1/transactions/${txnId}${query}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  /** Resolves once the handler has been given `n` transactions. */
  const handedOver = (n: number) =>
    new Promise<void>((resolve) => {
      const check = (): void => (handlers.transactions.length >= n ? resolve() : void setImmediate(check));
      check();
    });

  it('hands the events over and answers 200 afterwards', async () => {
    const res = await put('t1', { events: EVENTS });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
    expect(handlers.transactions).toEqual([{ txnId: 't1', events: EVENTS }]);
  });

  it('hands the ephemeral events over (stable key, else MSC2409), each list once', async () => {
    const receipt = { type: 'm.receipt', room_id: '!r', content: {} };
    await put('t1', { events: [], ephemeral: [receipt], 'de.sorunome.msc2409.ephemeral': [receipt] });
    await put('t2', { events: [], 'de.sorunome.msc2409.ephemeral': [receipt] });
    await put('t3', { events: EVENTS });
    expect(handlers.ephemeral).toEqual([[receipt], [receipt], []]);
  });

  it('answers a replayed transaction without handling it again', async () => {
    await put('t1', { events: EVENTS });
    expect((await put('t1', { events: EVENTS })).status).toBe(200);
    expect(handlers.transactions).toHaveLength(1);
  });

  it('processes a reused transaction ID that carries different events (T03: homeserver database reset)', async () => {
    await put('t1', { events: EVENTS });
    const fresh = [{ event_id: '$c' }];
    expect((await put('t1', { events: fresh })).status).toBe(200);
    expect(handlers.transactions).toEqual([
      { txnId: 't1', events: EVENTS },
      { txnId: 't1', events: fresh },
    ]);
    // The new content is what is remembered now: its replay is idempotent again.
    expect((await put('t1', { events: fresh })).status).toBe(200);
    expect(handlers.transactions).toHaveLength(2);
  });

  it('treats a replay whose events differ only outside their IDs (unsigned.age) as the same transaction', async () => {
    await put('t1', { events: [{ event_id: '$a', unsigned: { age: 1 } }] });
    expect((await put('t1', { events: [{ event_id: '$a', unsigned: { age: 900 } }] })).status).toBe(200);
    expect(handlers.transactions).toHaveLength(1);
  });

  it('does not let a reused ID with different events wait on the one in flight', async () => {
    let open!: () => void;
    handlers.gate = new Promise<void>((r) => (open = r));
    const first = put('t2', { events: EVENTS });
    await handedOver(1);
    const second = put('t2', { events: [{ event_id: '$z' }] });
    await handedOver(2);
    open();
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    expect(handlers.transactions.map((t) => t.events)).toEqual([EVENTS, [{ event_id: '$z' }]]);
  }, 5000);

  it('lets a duplicate of a transaction in flight wait for the first', async () => {
    let open!: () => void;
    handlers.gate = new Promise<void>((r) => (open = r));
    const first = put('t2', { events: EVENTS });
    const second = put('t2', { events: EVENTS });
    await handedOver(1);
    open();
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    expect(handlers.transactions).toHaveLength(1);
  });

  it('answers 503 for a transaction to retry, and handles the retry', async () => {
    handlers.outcome = 'retry';
    const res = await put('t3', { events: EVENTS });
    expect(res.status).toBe(503);
    handlers.outcome = 'ack';
    expect((await put('t3', { events: EVENTS })).status).toBe(200);
    expect(handlers.transactions).toHaveLength(2);
  });

  it('forgets the oldest transaction IDs beyond its memory', async () => {
    for (const id of ['a', 'b', 'c']) await put(id, { events: [] });
    expect(server.hasCompleted('a')).toBe(false);
    expect(server.hasCompleted('c')).toBe(true);
  });

  it.each([
    ['a wrong token', 'Bearer wrong', '', 403, 'M_FORBIDDEN'],
    ['no token', null, '', 401, 'M_UNAUTHORIZED'],
    ['only a query token', null, `?access_token=${HS_TOKEN}`, 401, 'M_UNAUTHORIZED'],
    ['a mismatching query token', BEARER, '?access_token=wrong', 403, 'M_FORBIDDEN'],
  ])('refuses %s', async (_what, auth, query, status, errcode) => {
    const res = await put('t4', { events: EVENTS }, auth, query);
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ errcode });
    expect(handlers.transactions).toHaveLength(0);
  });

  it.each([
    ['a body that is not JSON', '{', 400],
    ['events that are not a list', { events: {} }, 400],
    ['a body over the limit', { events: ['x'.repeat(5000)] }, 413],
  ])('rejects %s', async (_what, body, status) => {
    expect((await put('t5', body)).status).toBe(status);
    expect(handlers.transactions).toHaveLength(0);
  });

  it('answers user and alias queries', async () => {
    handlers.users.add('@_mimi_a_b:hs.test');
    handlers.aliases.add('#_mimi_a_b:hs.test');
    const get = (path: string) => fetch(`${base}${path}`, { headers: { authorization: BEARER } });
    expect((await get('/_matrix/app/v1/users/%40_mimi_a_b%3Ahs.test')).status).toBe(200);
    expect((await get('/_matrix/app/v1/users/%40other%3Ahs.test')).status).toBe(404);
    expect((await get('/_matrix/app/v1/rooms/%23_mimi_a_b%3Ahs.test')).status).toBe(200);
    const missing = await get('/_matrix/app/v1/rooms/%23nope%3Ahs.test');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ errcode: 'M_NOT_FOUND' });
  });

  it('answers pings, unknown routes and wrong methods as the spec says', async () => {
    const ping = await fetch(`${base}/_matrix/app/v1/ping`, {
      method: 'POST',
      headers: { authorization: BEARER },
      body: '{}',
    });
    expect(ping.status).toBe(200);
    const unknown = await fetch(`${base}/_matrix/app/v1/nope`, { headers: { authorization: BEARER } });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ errcode: 'M_UNRECOGNIZED' });
    const wrong = await fetch(`${base}/_matrix/app/v1/transactions/t`, {
      method: 'POST',
      headers: { authorization: BEARER },
    });
    expect(wrong.status).toBe(405);
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });
});

describe('AppserviceServer with the default body limit (16 MiB)', () => {
  /** A server with the default options, started before each test and closed after it. */
  const at = { handlers: new RecordingHandlers(), server: undefined as AppserviceServer | undefined, base: '' };
  beforeEach(async () => {
    at.handlers = new RecordingHandlers();
    at.server = new AppserviceServer({ hsToken: HS_TOKEN, handlers: at.handlers });
    at.base = `http://127.0.0.1:${await at.server.listen(0, '127.0.0.1')}`;
  });
  afterEach(() => at.server?.close());
  const handlers = {
    get transactions() {
      return at.handlers.transactions;
    },
    get ephemeral() {
      return at.handlers.ephemeral;
    },
  };

  const put = (txnId: string, body: string) =>
    fetch(`${at.base}/_matrix/app/v1/transactions/${txnId}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: BEARER },
      body,
    });

  /** An m.room.message event of about `bytes` bytes of JSON. */
  const message = (i: number, bytes: number) => ({
    event_id: `$big${i}`,
    type: 'm.room.message',
    room_id: '!r:hs.test',
    sender: '@u:hs.test',
    content: { msgtype: 'm.text', body: 'x'.repeat(bytes - 200) },
  });

  it('accepts a legal 6.5 MB transaction (100 events of 64 KiB) and hands every event over (T28)', async () => {
    const events = Array.from({ length: 100 }, (_, i) => message(i, 65_536));
    const body = JSON.stringify({ events });
    expect(body.length).toBeGreaterThan(6_500_000);
    const res = await put('big', body);
    expect(res.status).toBe(200);
    expect(handlers.transactions).toHaveLength(1);
    expect(handlers.transactions[0]!.events).toHaveLength(100);
    expect(handlers.transactions[0]!.events).toEqual(events);
  });

  it.each([
    ['a NaN token', '{"events":[{"event_id":"$n","content":{"n":NaN}}]}'],
    ['an Infinity token', '{"events":[{"event_id":"$i","content":{"n":Infinity}}]}'],
    ['a -Infinity token', '{"events":[{"event_id":"$i","content":{"n":-Infinity}}]}'],
    ['a trailing comma', '{"events":[{"event_id":"$t"},]}'],
  ])('answers 400 M_NOT_JSON for %s and hands nothing over (T31)', async (_what, body) => {
    const res = await put('nan', body);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ errcode: 'M_NOT_JSON', error: 'body is not JSON' });
    expect(handlers.transactions).toHaveLength(0);
  });

  it('takes the last of duplicate keys, as Synapse’s JSON decoder does (T31)', async () => {
    const res = await put('dup', '{"events":[{"event_id":"$first"}],"events":[{"event_id":"$x","event_id":"$last"}]}');
    expect(res.status).toBe(200);
    expect(handlers.transactions).toEqual([{ txnId: 'dup', events: [{ event_id: '$last' }] }]);
  });

  it('hands integers past 2^53 over as the nearest double, without failing the transaction (T31)', async () => {
    const body =
      '{"events":[{"event_id":"$big","origin_server_ts":18446744073709551617,"content":{"n":9007199254740993}}]}';
    expect((await put('ints', body)).status).toBe(200);
    expect(handlers.transactions[0]!.events).toEqual([
      { event_id: '$big', origin_server_ts: 2 ** 64, content: { n: 2 ** 53 } },
    ]);
  });

  it('drops events nested deeper than the limit (a 1 MB nesting bomb), acknowledges and hands over the rest (T31)', async () => {
    const bomb = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);
    const deep = 500_000;
    const body =
      `{"events":[{"event_id":"$ok"},{"event_id":"$bomb","content":{"x":${bomb(deep)}}}],` +
      `"ephemeral":[{"type":"m.receipt","content":${bomb(deep)}},{"type":"m.typing","content":{}}]}`;
    expect(body.length).toBeGreaterThan(1_000_000);
    const res = await put('bomb', body);
    expect(res.status).toBe(200);
    expect(handlers.transactions).toEqual([{ txnId: 'bomb', events: [{ event_id: '$ok' }] }]);
    expect(handlers.ephemeral).toEqual([[{ type: 'm.typing', content: {} }]]);
    // Its replay is recognised and has no second effect.
    expect((await put('bomb', body)).status).toBe(200);
    expect(handlers.transactions).toHaveLength(1);
  });
});
