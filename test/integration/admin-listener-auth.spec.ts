/**
 * RELIABILITY T47: the admin listener (health, metrics, provisioning) of a real gateway. Every
 * route its Express router holds is called without the token: all are refused (401/403) except the
 * read-only health and metrics routes, which are open on purpose (probes and Prometheus scrape them
 * without a token; the listener stays on loopback). And every listener binds only where the config
 * says, loopback by default.
 */
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { type RunningGateway, startGateway } from '../../src/main';
import { validateConfig } from '../../src/config/load-config';
import { DOMAIN_A, PemDir, createTestPki, providerConfig } from '../kits/mimi/transport-fixtures';
import { MemoryPlatform } from '../fakes/memory-platform';
import { MatrixConfig } from '../../bridges/matrix/matrix.config';

const TOKEN = 'admin-listener-auth-token';
/** The routes that answer without a token: read-only, no room data. Anything else needs the token. */
const OPEN_ROUTES = ['GET /health', 'GET /health/ingress', 'GET /metrics'];
const REFUSED = [401, 403];

interface Route {
  readonly method: string;
  readonly path: string;
}

/** Every route of `app`'s Express router (Express 5: `router.stack`), as `METHOD /path`. */
function routesOf(app: INestApplication): Route[] {
  const express = app.getHttpAdapter().getInstance() as {
    router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] };
  };
  return express.router.stack.flatMap((layer) =>
    layer.route === undefined
      ? []
      : Object.keys(layer.route.methods)
          .filter((m) => layer.route!.methods[m] && m !== '_all')
          .map((m) => ({ method: m.toUpperCase(), path: layer.route!.path })),
  );
}

/** `path` with every `:param` filled in (a URL-encoded MIMI room URI, which the routes take). */
const concrete = (path: string): string =>
  path.replace(/:[A-Za-z]+/g, encodeURIComponent('mimi://a.example/r/anything'));

describe('admin listener authentication and binding (T47)', () => {
  let dir: PemDir;
  let gateway: RunningGateway;
  let platform: MemoryPlatform;

  beforeAll(async () => {
    const pki = await createTestPki();
    dir = new PemDir();
    const tokenFile = dir.write('admin.token', `${TOKEN}\n`);
    // No host for either listener: the defaults apply.
    const config = providerConfig(dir, DOMAIN_A, pki.a, pki.ca, {
      listen: { port: 0 },
      database: { type: 'better-sqlite3', path: 'a.sqlite' },
      admin: { enabled: true, port: 0, tokenFile },
      logging: { level: 'error' },
    });
    platform = new MemoryPlatform();
    platform.createRoom('!room:a.example', 'Room');
    gateway = await startGateway(config, { bridges: [platform] });
  }, 60_000);

  afterAll(async () => {
    await gateway?.close();
    dir?.cleanup();
  });

  const call = (route: Route, headers: Record<string, string> = {}) =>
    fetch(`${gateway.adminUrl}${concrete(route.path)}`, {
      method: route.method,
      headers: { 'content-type': 'application/json', ...headers },
      body:
        route.method === 'GET' || route.method === 'HEAD'
          ? undefined
          : JSON.stringify({ platform: 'memory', roomId: '!room:a.example', userUri: 'mimi://b.example/u/x' }),
    });

  it('refuses every route of the admin router without the token or with a wrong one, except health and metrics', async () => {
    const routes = routesOf(gateway.admin!);
    const names = routes.map((r) => `${r.method} ${r.path}`);
    // The enumeration found the provisioning routes (it is not vacuous) and the open ones.
    expect(names).toEqual(
      expect.arrayContaining([...OPEN_ROUTES, 'POST /provisioning/rooms', 'GET /provisioning/rooms']),
    );
    const guarded = routes.filter((r) => !OPEN_ROUTES.includes(`${r.method} ${r.path}`));
    expect(guarded.length).toBe(routes.length - OPEN_ROUTES.length);
    const answers: { route: string; headers: Record<string, string>; status: number; errcode?: string }[] = [];
    for (const route of guarded) {
      const tries: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-token' }, { authorization: TOKEN }];
      for (const headers of tries) {
        const res = await call(route, headers);
        const body = (await res.json()) as { errcode?: string };
        answers.push({ route: `${route.method} ${route.path}`, headers, status: res.status, errcode: body.errcode });
      }
    }
    expect(answers).toHaveLength(guarded.length * 3);
    expect(answers.filter((a) => !REFUSED.includes(a.status))).toEqual([]);
    expect(answers.filter((a) => !['MIMI_UNAUTHENTICATED', 'MIMI_FORBIDDEN'].includes(a.errcode ?? ''))).toEqual([]);
    // Nothing was done: no room is linked.
    const rooms = await fetch(`${gateway.adminUrl}/provisioning/rooms`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(rooms.status).toBe(200);
    expect(await rooms.json()).toEqual([]);
  });

  it('serves the open routes (health, metrics) without a token', async () => {
    for (const name of OPEN_ROUTES) {
      const [method, path] = name.split(' ') as [string, string];
      const res = await call({ method, path });
      expect({ name, status: res.status }).toEqual({ name, status: 200 });
    }
  });

  it('answers malformed provisioning JSON with 400/413 and a clear code, and takes the last of duplicate keys (T31)', async () => {
    const send = async (body: string) => {
      const res = await fetch(`${gateway.adminUrl}/provisioning/rooms`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body,
      });
      return { status: res.status, body: (await res.json()) as unknown };
    };
    const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
    const refusals = [
      ['{"platform":"memory","roomId":NaN}', 400, 'MIMI_BAD_VALUE'],
      ['{"platform":"memory","roomId":Infinity}', 400, 'MIMI_BAD_VALUE'],
      ['{"platform":"memory","roomId":18446744073709551617}', 400, 'MIMI_BAD_VALUE'],
      [`{"platform":"memory","roomId":${nested(20_000)}}`, 400, 'MIMI_BAD_VALUE'],
      // A 1 MB nesting bomb: refused by the body limit before it is parsed.
      [nested(500_000), 413, 'MIMI_PAYLOAD_TOO_LARGE'],
    ] as const;
    for (const [body, status, errcode] of refusals) {
      expect(await send(body)).toEqual({ status, body: { errcode, error: expect.any(String) } });
    }
    const linked = await send('{"platform":"memory","roomId":"!nope:a.example","roomId":"!room:a.example"}');
    expect(linked).toMatchObject({
      status: 201,
      body: { roomUri: expect.stringMatching(/^mimi:\/\/a\.example\/r\//) },
    });
    const rooms = await fetch(`${gateway.adminUrl}/provisioning/rooms`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(((await rooms.json()) as { roomId: string }[]).map((r) => r.roomId)).toEqual(['!room:a.example']);
  });

  it('binds the MIMI and admin listeners to loopback by default, and nothing to another address', () => {
    const mimi = gateway.app.getHttpServer().address() as AddressInfo;
    const admin = gateway.admin!.getHttpServer().address() as AddressInfo;
    expect([mimi.address, admin.address]).toEqual(['127.0.0.1', '127.0.0.1']);
    expect(gateway.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // The defaults of every listener's host in the config, the Matrix appservice's included.
    const defaults = validateConfig(
      { provider: { domain: DOMAIN_A }, tls: { certFile: 'c', keyFile: 'k' } },
      { baseDir: dir.path, env: {} },
    );
    expect([defaults.listen.host, defaults.admin.host, new MatrixConfig().appserviceHost]).toEqual([
      '127.0.0.1',
      '127.0.0.1',
      '127.0.0.1',
    ]);
  });
});
