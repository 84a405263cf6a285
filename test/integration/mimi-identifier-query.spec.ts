/**
 * protocol-06 §5.8 `/identifierQuery/{domain}` between two gateways over mutual TLS: the answers
 * (success, notFound, unsupportedField, forbidden), the refusals (another provider's domain in the
 * path: 404; a body that is no IdentifierRequest: 400; past the peer's rate limit: 429 with
 * Retry-After), the directory entry, and the client side: an invite by address resolved through
 * the peer's endpoint, and an unknown user refused with the peer's answer.
 */
import { ErrorCode, type GatewayError } from '../../src/common/errors';
import { Platform, type RoomUri } from '../../src/common/ids';
import {
  type IdentifierResponse,
  type QueryElement,
  decodeAll,
  encodeValue,
  identifierRequestCodec,
  identifierResponseCodec,
} from '../../src/mimi/wire';
import { ParticipantRole } from '../../src/ports';
import { legacyUserUri } from '../../src/rooms';
import { DOMAIN_A, DOMAIN_B } from '../kits/mimi/transport-fixtures';
import { GatewayPair, admin, found, mimiPost } from './gateway-pair';

const BURST = 8;
const LIMITS = { limits: { requests: { identifierQuery: { perSecond: 0.01, burst: BURST } } } };
const ALICE_URI = legacyUserUri(DOMAIN_A, 'memory', 'alice');
const ROOM_ID = '!lounge:b';
const BOB = { platform: Platform.Memory, userId: 'bob' };

const query = (...queryElements: QueryElement[]): Uint8Array =>
  encodeValue({ queryElements, idRequestExtensions: { componentData: [] } }, identifierRequestCodec);
const handle = (searchValue: string): QueryElement => ({ searchType: 'handle', searchValue });

describe('/identifierQuery between two gateways', () => {
  let pair: GatewayPair;
  let asB: Parameters<typeof mimiPost>[1];
  const ask = async (body: Uint8Array, domain = DOMAIN_A) => mimiPost(pair.a, asB, `/identifierQuery/${domain}`, body);
  const answer = async (body: Uint8Array): Promise<IdentifierResponse> => {
    const res = await ask(body);
    expect(res.status).toBe(200);
    return decodeAll(res.body, identifierResponseCodec);
  };

  beforeAll(async () => {
    pair = await GatewayPair.start('sqlite', LIMITS);
    asB = { domain: DOMAIN_B, identity: pair.pki.b, ca: pair.pki.ca };
    pair.a.platform.users.set('alice@a.example', 'alice');
    pair.a.platform.users.set('memory:alice', 'alice');
  }, 60_000);
  afterAll(async () => pair?.stop());

  it('answers a handle of one of its users with the user’s MIMI URI', async () => {
    expect(await answer(query(handle('memory:alice')))).toMatchObject({ responseCode: 'success', uri: [ALICE_URI] });
  });

  it('answers notFound, unsupportedField and forbidden in the body (HTTP 200)', async () => {
    expect((await answer(query(handle('memory:nobody')))).responseCode).toBe('notFound');
    expect((await answer(query({ searchType: 'phone', searchValue: '+12125551212' }))).responseCode).toBe(
      'unsupportedField',
    );
    expect((await answer(query())).responseCode).toBe('forbidden');
  });

  it('refuses a query for another provider (404) and a body that is no IdentifierRequest (400)', async () => {
    const other = await ask(query(handle('memory:alice')), DOMAIN_B);
    expect(other.status).toBe(404);
    expect(JSON.parse(other.body.toString()).errcode).toBe(ErrorCode.NotFound);
    const bad = await ask(new Uint8Array([1, 2, 3]));
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body.toString()).errcode).toMatch(/^MIMI_(MALFORMED|BAD_VALUE)$/);
  });

  it('the client side: an invite by address is resolved through the peer, an unknown user refused with its answer', async () => {
    pair.b.platform.createRoom(ROOM_ID, 'Lounge').members.set('bob', { user: BOB, role: ParticipantRole.Owner });
    const roomUri = (
      await admin<{ roomUri: RoomUri }>(pair.b, 'POST', '/provisioning/rooms', { platform: 'memory', roomId: ROOM_ID })
    ).body.roomUri;
    const host = pair.b.platform.host!;
    const room = { platform: Platform.Memory, roomId: ROOM_ID };
    await expect(host.invite!(room, 'alice@a.example', BOB)).resolves.toBe(ALICE_URI);
    await found(async () => {
      const rooms = await admin<{ roomUri: string; localMembers: string[] }[]>(pair.a, 'GET', '/provisioning/rooms');
      return rooms.body.find((r) => r.roomUri === roomUri && r.localMembers.includes(ALICE_URI));
    }, 'alice following the room on A');
    const refused = (await host.invite!(room, 'nobody@a.example', BOB).catch((e: unknown) => e)) as GatewayError;
    expect(refused.code).toBe(ErrorCode.NotFound);
    expect(refused.message).toBe(`${DOMAIN_A} has no user nobody@a.example (notFound)`);
  });

  it('limits each peer: past the burst, 429 MIMI_RATE_LIMITED with Retry-After', async () => {
    let limited: Awaited<ReturnType<typeof ask>> | undefined;
    for (let i = 0; i < BURST + 2 && limited === undefined; i++) {
      const res = await ask(query(handle('memory:alice')));
      if (res.status === 429) limited = res;
      else expect(res.status).toBe(200);
    }
    expect(limited?.status).toBe(429);
    expect(Number(limited?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(limited!.body.toString()).errcode).toBe(ErrorCode.RateLimited);
  });
});
