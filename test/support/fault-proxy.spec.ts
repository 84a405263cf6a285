import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, Server, Socket, connect, createServer } from 'node:net';
import { FaultProxy } from './fault-proxy';

/** An upstream that answers every chunk with `echo:<chunk>` and records what it received. */
async function echoServer(): Promise<{ server: Server; port: number; received: Buffer[] }> {
  const received: Buffer[] = [];
  const server = createServer((s) => {
    s.on('data', (d: Buffer) => {
      received.push(d);
      s.write(Buffer.concat([Buffer.from('echo:'), d]));
    });
    s.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, received };
}

interface Conversation {
  readonly socket: Socket;
  readonly data: () => string;
  /** Resolves with how the connection ended. */
  readonly ended: Promise<{ error?: NodeJS.ErrnoException }>;
}

async function dial(port: number): Promise<Conversation> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  const ended = new Promise<{ error?: NodeJS.ErrnoException }>((resolve) => {
    let error: NodeJS.ErrnoException | undefined;
    socket.on('error', (e) => (error = e));
    socket.on('close', () => resolve({ error }));
  });
  await once(socket, 'connect');
  return { socket, data: () => Buffer.concat(chunks).toString(), ended };
}

/** Wait until `pred` holds (a few seconds at most). */
async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('FaultProxy', () => {
  let upstream: Awaited<ReturnType<typeof echoServer>>;
  let proxy: FaultProxy;

  beforeEach(async () => {
    upstream = await echoServer();
    proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: upstream.port }, seed: 7 });
  });

  afterEach(async () => {
    await proxy.close();
    await new Promise((r) => upstream.server.close(r));
  });

  it('forwards both ways untouched when no fault is set', async () => {
    const c = await dial(proxy.port);
    c.socket.write('hello');
    await until(() => c.data() === 'echo:hello', 'the echo');
    c.socket.end();
    expect(await c.ended).toEqual({ error: undefined });
    expect(Object.values(proxy.stats).every((n) => n === 0)).toBe(true);
  });

  it('drop: the connection is closed before anything reaches the target', async () => {
    proxy.set({ dropRate: 1 });
    const c = await dial(proxy.port);
    c.socket.write('lost');
    await c.ended;
    expect(c.data()).toBe('');
    expect(upstream.received).toEqual([]);
    expect(proxy.stats.drop).toBe(1);
  });

  it('delay: bytes arrive after the delay, in order', async () => {
    proxy.set({ down: { delayMs: 300 } });
    const c = await dial(proxy.port);
    const sent = Date.now();
    c.socket.write('a');
    await until(() => upstream.received.length === 1, 'the target to receive');
    expect(c.data()).toBe('');
    await until(() => c.data() === 'echo:a', 'the delayed echo');
    expect(Date.now() - sent).toBeGreaterThanOrEqual(290);
    c.socket.write('b');
    c.socket.write('c');
    await until(() => c.data().replace(/echo:/g, '') === 'abc', 'the rest, in order');
    expect(proxy.stats.delay).toBeGreaterThanOrEqual(2);
    c.socket.destroy();
  });

  it('reset: the client sees ECONNRESET and nothing is forwarded', async () => {
    proxy.set({ up: { resetRate: 1 } });
    const c = await dial(proxy.port);
    c.socket.write('boom');
    const { error } = await c.ended;
    expect(error?.code).toBe('ECONNRESET');
    expect(upstream.received).toEqual([]);
    expect(proxy.stats.reset).toBe(1);
  });

  it('truncate: half of the chunk arrives, then the connection ends', async () => {
    proxy.set({ down: { truncateRate: 1 } });
    const c = await dial(proxy.port);
    c.socket.write('12345678');
    await c.ended;
    expect(c.data()).toBe('echo:1'); // 6 of the 13 bytes of 'echo:12345678'
    expect(proxy.stats.truncate).toBe(1);
  });

  it('stall: the direction goes silent while the connection stays open', async () => {
    proxy.set({ down: { stallRate: 1 } });
    const c = await dial(proxy.port);
    c.socket.write('x');
    await until(() => upstream.received.length === 1, 'the target to receive');
    proxy.heal(); // healing does not revive a stalled connection
    c.socket.write('y');
    await until(() => upstream.received.length === 2, 'the second chunk upstream');
    await sleep(200);
    expect(c.data()).toBe('');
    expect(c.socket.destroyed).toBe(false);
    expect(proxy.stats.stall).toBe(1);
    proxy.cutAll();
    expect((await c.ended).error?.code).toBe('ECONNRESET');
  });

  it('rates are per direction: faults on the way back leave the way there alone', async () => {
    proxy.set({ down: { stallRate: 1 } });
    const c = await dial(proxy.port);
    for (const s of ['1', '2', '3']) c.socket.write(s);
    await until(() => Buffer.concat(upstream.received).toString() === '123', 'all three upstream');
    expect(c.data()).toBe('');
    c.socket.destroy();
  });

  it('is switchable at runtime: the same connection passes again once healed', async () => {
    proxy.set({ up: { delayMs: 50 } });
    const c = await dial(proxy.port);
    c.socket.write('a');
    await until(() => c.data() === 'echo:a', 'the delayed echo');
    const delays = proxy.stats.delay;
    proxy.heal();
    c.socket.write('b');
    await until(() => c.data() === 'echo:aecho:b', 'the undelayed echo');
    expect(proxy.stats.delay).toBe(delays);
    c.socket.destroy();
  });

  it('http: a request is answered with the injected status and Retry-After, without reaching the target', async () => {
    proxy.set({ http: { rate: 1, status: 429, retryAfterS: 2 } });
    const c = await dial(proxy.port);
    // A request line longer than a first look at the chunk (Matrix paths are long).
    c.socket.write(`PUT /_matrix/client/v3/rooms/${'x'.repeat(200)}/send/m.room.message/1 HTTP/1.1\r\nhost: x\r\n\r\n`);
    await c.ended;
    const [head, body] = c.data().split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 429 /);
    expect(head).toContain('retry-after: 2');
    expect(JSON.parse(body!)).toMatchObject({ errcode: 'M_LIMIT_EXCEEDED', retry_after_ms: 2000 });
    expect(upstream.received).toEqual([]);
  });

  it('a seed gives the same faults again', async () => {
    const pattern = async (seed: number): Promise<string> => {
      const p = await FaultProxy.start({ target: { host: '127.0.0.1', port: upstream.port }, seed });
      p.set({ dropRate: 0.5 });
      let out = '';
      for (let i = 0; i < 16; i++) {
        const c = await dial(p.port);
        c.socket.write('p');
        await until(() => c.data() !== '' || c.socket.destroyed, 'an answer or a close');
        out += c.data() === '' ? 'x' : '.';
        c.socket.destroy();
      }
      await p.close();
      return out;
    };
    const first = await pattern(42);
    expect(first).toMatch(/x/);
    expect(first).toMatch(/\./);
    expect(await pattern(42)).toBe(first);
  });
});

describe('FaultProxy on an HTTP link', () => {
  it('records each exchange, and loses exactly the answer to the request it was told to (the target handled it)', async () => {
    const handled: string[] = [];
    const server = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        handled.push(`${req.url} ${body}`);
        res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const proxy = await FaultProxy.start({
      target: { host: '127.0.0.1', port: (server.address() as AddressInfo).port },
    });
    const put = (path: string, body: string) =>
      fetch(`http://127.0.0.1:${proxy.port}${path}`, { method: 'PUT', body }).then(
        async (r) => ({ status: r.status, text: await r.text() }),
        (e: Error) => ({ error: (e.cause as NodeJS.ErrnoException | undefined)?.code ?? e.message }),
      );
    try {
      expect(await put('/txn/1', 'first')).toEqual({ status: 200, text: 'ok' });
      const lost = proxy.loseResponse('the one to lose');
      expect(await put('/txn/2', 'this is the one to lose')).toEqual({
        error: expect.stringMatching(/ECONNRESET|other side closed|SocketError/),
      });
      expect(await lost).toEqual({ request: 'PUT /txn/2 HTTP/1.1', status: 200, lost: true });
      // The client's retry of the same request goes through: the order was one-shot.
      expect(await put('/txn/2', 'this is the one to lose')).toEqual({ status: 200, text: 'ok' });
      expect(await put('/missing', 'x')).toEqual({ status: 404, text: 'ok' });
      expect(handled).toEqual([
        '/txn/1 first',
        '/txn/2 this is the one to lose',
        '/txn/2 this is the one to lose',
        '/missing x',
      ]);
      expect(proxy.exchanges).toEqual([
        { request: 'PUT /txn/1 HTTP/1.1', status: 200 },
        { request: 'PUT /txn/2 HTTP/1.1', status: 200, lost: true },
        { request: 'PUT /txn/2 HTTP/1.1', status: 200 },
        { request: 'PUT /missing HTTP/1.1', status: 404 },
      ]);
      expect(proxy.stats.lose).toBe(1);
    } finally {
      await proxy.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
