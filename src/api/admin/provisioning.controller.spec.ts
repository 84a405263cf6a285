import { INestApplication, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ErrorCode, GatewayError } from '../../common/errors';
import type { RoomUri } from '../../common/ids';
import { MetricsRegistry } from '../../common/metrics';
import type { RoomInfo, RoomsService } from '../../rooms';
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

  async function start(token?: string): Promise<void> {
    rooms = new FakeRooms();
    app = await NestFactory.create(
      AdminModule.forRoot({
        metrics: new MetricsRegistry(),
        checks: [],
        provisioning: { rooms: rooms as unknown as RoomsService, token },
      }),
      { logger: false },
    );
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}/provisioning`;
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
    await start(TOKEN);
    expect(await call('GET', '/rooms')).toMatchObject({ status: 401, body: { errcode: ErrorCode.Unauthenticated } });
    expect(await call('GET', '/rooms', undefined, 'wrong')).toMatchObject({ status: 401 });
    expect(await call('GET', '/rooms', undefined, TOKEN)).toMatchObject({ status: 200 });
  });
});
