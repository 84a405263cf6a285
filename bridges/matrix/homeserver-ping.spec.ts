import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import { HomeserverPing } from './homeserver-ping';

type Answer = readonly [number, Record<string, unknown>];

describe(HomeserverPing.name, () => {
  let server: Server;
  let url: string;
  let answers: Answer[];
  let seen: { path: string; authorization?: string }[];
  let ping: HomeserverPing | undefined;

  beforeAll(() => Logger.overrideLogger(false));
  beforeEach(async () => {
    answers = [];
    seen = [];
    server = createServer((req, res) => {
      seen.push({ path: req.url ?? '', authorization: req.headers.authorization });
      const [status, body] = answers.shift() ?? [200, {}];
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    ping?.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const start = (initialBackoffMs = 10) => {
    ping = new HomeserverPing({ homeserverUrl: url, appserviceId: 'mimi gw', asToken: 'as-token', initialBackoffMs });
    ping.start();
    return ping;
  };
  const until = async (pred: () => boolean): Promise<void> => {
    while (!pred()) await new Promise((r) => setTimeout(r, 5));
  };

  it('pings with the as_token and retries with backoff until the homeserver reaches us', async () => {
    answers = [
      [502, { errcode: 'M_CONNECTION_FAILED', error: 'connection refused' }],
      [502, { errcode: 'M_BAD_STATUS', error: 'ping failed' }],
    ];
    const p = start();
    expect(p.health().state).toBe('pending');
    await until(() => p.health().state === 'ok');
    expect(seen).toEqual(
      Array(3).fill({ path: '/_matrix/client/v1/appservice/mimi%20gw/ping', authorization: 'Bearer as-token' }),
    );
  });

  it('reports the failure with the attempt and the next delay while it fails', async () => {
    answers = [[502, { errcode: 'M_CONNECTION_FAILED', error: 'x' }]];
    const p = start(60_000);
    await until(() => p.health().state !== 'pending');
    expect(p.health()).toEqual({
      state: 'failing',
      detail: 'homeserver ping: 502 {"errcode":"M_CONNECTION_FAILED","error":"x"} (attempt 1, next in 60 s)',
    });
  });

  it('counts a homeserver without the endpoint (M_UNRECOGNIZED) as ok, without retrying', async () => {
    answers = [[404, { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' }]];
    const p = start();
    await until(() => p.health().state !== 'pending');
    expect(p.health().state).toBe('ok');
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toHaveLength(1);
  });

  it('stops retrying after stop()', async () => {
    answers = Array(100).fill([502, { errcode: 'M_CONNECTION_FAILED' }]);
    const p = start(20);
    await until(() => seen.length >= 2);
    p.stop();
    const count = seen.length;
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.length).toBeLessThanOrEqual(count + 1);
  });
});
