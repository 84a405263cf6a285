import { request as httpRequest } from 'node:http';
import { INestApplication, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ErrorCode, GatewayError } from '../../common/errors';
import type { RoomUri } from '../../common/ids';
import { MetricsRegistry } from '../../common/metrics';
import type { ProvisioningAuth } from '../../config/provisioning-token';
import type { RoomInfo, RoomsService } from '../../rooms';
import { adminHostNames } from './admin-hosts';
import { AdminModule } from './admin.module';

const TOKEN = 'provisioning-secret';
const ROOM_URI = 'mimi://gw.test/r/abc' as RoomUri;
const UNKNOWN_ROOM_URI = 'mimi://gw.test/r/unknown' as RoomUri;
const LINK = { platform: 'memory', roomId: '!club' };
const ROOM_INFO: RoomInfo = {
  roomUri: ROOM_URI,
  role: 'hub',
  hub: 'gw.test' as RoomInfo['hub'],
  platform: 'memory',
  roomId: '!club',
  epoch: 0,
  participants: [],
  members: [],
  localMembers: [],
};

/** A RoomsService stand-in recording calls; `unlink`/`history` of an unknown room fail like the real one. */
class FakeRooms {
  readonly linked: { platform: string; roomId: string }[] = [];
  readonly unlinked: string[] = [];
  async link(platform: string, roomId: string): Promise<RoomUri> {
    this.linked.push({ platform, roomId });
    return ROOM_URI;
  }
  async list(): Promise<RoomInfo[]> {
    return [ROOM_INFO];
  }
  async unlink(roomUri: RoomUri): Promise<void> {
    if (roomUri !== ROOM_URI) throw new GatewayError(ErrorCode.NotFound, `no room ${roomUri}`);
    this.unlinked.push(roomUri);
  }
  async history(roomUri: RoomUri): Promise<unknown[]> {
    if (roomUri !== ROOM_URI) throw new GatewayError(ErrorCode.NotFound, `no room ${roomUri}`);
    return [];
  }
}

describe('provisioning API', () => {
  let app: INestApplication;
  let base: string;
  let rooms: FakeRooms;

  let port: number;

  async function start(auth: ProvisioningAuth = { kind: 'open' }): Promise<void> {
    rooms = new FakeRooms();
    app = await NestFactory.create(
      AdminModule.forRoot({
        metrics: new MetricsRegistry(),
        checks: [],
        provisioning: { rooms: rooms as unknown as RoomsService, auth, hostNames: adminHostNames('127.0.0.1') },
      }),
      { logger: false },
    );
    await app.listen(0, '127.0.0.1');
    port = (app.getHttpServer().address() as { port: number }).port;
    base = `http://127.0.0.1:${port}/provisioning`;
  }

  beforeAll(() => Logger.overrideLogger(false));
  afterEach(async () => app?.close());

  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  };

  it('links, lists, reads and unlinks rooms (room URIs percent-encoded in the path)', async () => {
    await start();
    expect(await call('POST', '/rooms', LINK)).toEqual({ status: 201, body: { roomUri: ROOM_URI } });
    expect(rooms.linked).toEqual([LINK]);
    expect(await call('GET', '/rooms')).toEqual({ status: 200, body: [ROOM_INFO] });
    expect(await call('GET', `/rooms/${encodeURIComponent(ROOM_URI)}/events`)).toEqual({ status: 200, body: [] });
    expect((await call('DELETE', `/rooms/${encodeURIComponent(ROOM_URI)}`)).status).toBe(204);
    expect(rooms.unlinked).toEqual([ROOM_URI]);
  });

  it('answers errors as { errcode, error } with the status of the error code', async () => {
    await start();
    expect(await call('POST', '/rooms', { platform: 'memory' })).toMatchObject({
      status: 400,
      body: { errcode: ErrorCode.BadValue },
    });
    expect(await call('DELETE', `/rooms/${encodeURIComponent(UNKNOWN_ROOM_URI)}`)).toMatchObject({
      status: 404,
      body: { errcode: ErrorCode.NotFound },
    });
    expect(await call('GET', `/rooms/${encodeURIComponent('mimi://gw.test/u/alice')}/events`)).toMatchObject({
      status: 400,
      body: { errcode: ErrorCode.BadValue },
    });
  });

  it('requires the bearer token when one is configured', async () => {
    await start({ kind: 'token', token: TOKEN });
    expect(await call('GET', '/rooms')).toMatchObject({ status: 401, body: { errcode: ErrorCode.Unauthenticated } });
    expect(await call('GET', '/rooms', undefined, 'wrong')).toMatchObject({ status: 401 });
    expect(await call('GET', '/rooms', undefined, TOKEN)).toMatchObject({ status: 200 });
  });

  it('refuses every call when no token is configured (the default), with a clear error', async () => {
    await start({ kind: 'disabled' });
    const res = await call('POST', '/rooms', LINK, 'anything');
    expect(res).toMatchObject({ status: 403, body: { errcode: ErrorCode.Forbidden } });
    expect(JSON.stringify(res.body)).toContain('admin.tokenFile');
    expect(rooms.linked).toEqual([]);
  });

  /** A raw HTTP request with the headers a browser or a rebound name would send (fetch will not set Host). */
  const raw = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    new Promise<{ status: number; body: { errcode?: string } }>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, method, path: `/provisioning${path}`, headers, setHost: false },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const FORM = 'platform=memory&roomId=%21club';
  const formHeaders = { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(FORM.length) };

  it('refuses a cross-origin form POST (foreign Origin and Host), even with the token', async () => {
    await start({ kind: 'token', token: TOKEN });
    const bearer = { authorization: `Bearer ${TOKEN}` };
    const crossOrigin = await raw(
      'POST',
      '/rooms',
      { ...formHeaders, ...bearer, origin: 'http://evil.example', host: 'evil.example' },
      FORM,
    );
    expect(crossOrigin).toMatchObject({ status: 403, body: { errcode: ErrorCode.Forbidden } });
    // A foreign Origin with our own Host (a page posting to http://127.0.0.1:port).
    const foreignOrigin = await raw(
      'POST',
      '/rooms',
      { ...formHeaders, ...bearer, origin: 'http://evil.example', host: `127.0.0.1:${port}` },
      FORM,
    );
    expect(foreignOrigin).toMatchObject({ status: 403, body: { errcode: ErrorCode.Forbidden } });
    const nullOrigin = await raw('GET', '/rooms', { ...bearer, origin: 'null', host: `127.0.0.1:${port}` });
    expect(nullOrigin.status).toBe(403);
    const crossSite = await raw('GET', '/rooms', {
      ...bearer,
      'sec-fetch-site': 'cross-site',
      host: `127.0.0.1:${port}`,
    });
    expect(crossSite.status).toBe(403);
    expect(rooms.linked).toEqual([]);
  });

  it('refuses a Host that is not the listener (DNS rebinding), even with the token check off', async () => {
    await start({ kind: 'open' });
    expect(await raw('GET', '/rooms', { host: `rebound.evil.example:${port}` })).toMatchObject({
      status: 403,
      body: { errcode: ErrorCode.Forbidden },
    });
    // No Host at all: Node's server refuses an HTTP/1.1 request without one before we see it.
    expect((await raw('GET', '/rooms', {})).status).toBe(400);
    expect((await raw('GET', '/rooms', { host: `localhost:${port}` })).status).toBe(200);
    expect((await raw('GET', '/rooms', { host: `127.0.0.1:${port}`, origin: `http://localhost:${port}` })).status).toBe(
      200,
    );
  });
});
