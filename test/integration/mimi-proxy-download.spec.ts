/**
 * protocol-06 §5.10.2 `GET /proxyDownload/{downloadUrl}` between two gateways over mutual TLS, and
 * room-policy-03 §6.4 `asset_policy` in a linked room's GroupContext.
 *
 * A is asked by B. A fetches only from the origin of a configured peer (B's MIMI listener here:
 * its directory document stands in for a file on B's asset server), never from anywhere else: a
 * foreign origin is 403, a URL that is not https is 400, a type outside `media.allowedContentTypes`
 * is 415, and past the peer's budget 429 with Retry-After. A lists the endpoint in its directory.
 */
import { ErrorCode } from '../../src/common/errors';
import { Platform, type RoomUri } from '../../src/common/ids';
import { RoomStateComponentId, decodeAssetPolicy } from '../../src/mimi/room-state';
import { appDataFromExtensions } from '../../src/mls';
import { ParticipantRole } from '../../src/ports';
import { MlsGroups } from '../../src/rooms/mls-groups';
import { DOMAIN_B, LOOPBACK_HOST } from '../kits/mimi/transport-fixtures';
import { GatewayPair, admin, mimiGet } from './gateway-pair';

const BURST = 10;
const EXTRA = {
  limits: { requests: { proxyDownload: { perSecond: 0.01, burst: BURST } } },
  media: { maxBytes: 65_536, allowedContentTypes: ['application/json', 'image/png'] },
};

describe('/proxyDownload between two gateways (protocol-06 §5.10.2)', () => {
  let pair: GatewayPair;
  let asB: Parameters<typeof mimiGet>[1];
  const proxy = async (url: string) => mimiGet(pair.a, asB, `/proxyDownload/${encodeURIComponent(url)}`);
  const errcode = (body: Buffer): string => (JSON.parse(body.toString()) as { errcode: string }).errcode;

  beforeAll(async () => {
    pair = await GatewayPair.start('sqlite', EXTRA);
    asB = { domain: DOMAIN_B, identity: pair.pki.b, ca: pair.pki.ca };
  }, 60_000);
  afterAll(async () => pair?.stop());

  it('is listed in the hub’s directory', async () => {
    const res = await mimiGet(pair.a, asB, '/.well-known/mimi-protocol-directory');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString()).proxyDownload).toMatch(/\/proxyDownload\/\{downloadUrl\}$/);
  });

  it('fetches a URL on a peer’s own origin over mutual TLS and answers its bytes', async () => {
    const onB = `https://${LOOPBACK_HOST}:${pair.b.port}/.well-known/mimi-protocol-directory`;
    const res = await proxy(onB);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const direct = await mimiGet(pair.b, asB, '/.well-known/mimi-protocol-directory');
    expect(res.body.equals(direct.body)).toBe(true);
  });

  it('is no open proxy: another origin is refused (403), a URL that is not https too (400)', async () => {
    for (const url of [
      `https://${LOOPBACK_HOST}:1/x`,
      `https://${LOOPBACK_HOST}:${pair.a.port}/x`,
      'https://b.example/x',
    ]) {
      const res = await proxy(url);
      expect({ url, status: res.status, errcode: errcode(res.body) }).toEqual({
        url,
        status: 403,
        errcode: ErrorCode.Forbidden,
      });
    }
    const plain = await proxy(`http://${LOOPBACK_HOST}:${pair.b.port}/x`);
    expect(plain.status).toBe(400);
  });

  it('passes on a peer’s refusal, and refuses an asset of a room the requester is not in', async () => {
    const missing = await proxy(`https://${LOOPBACK_HOST}:${pair.b.port}/no/such/file`);
    expect(missing.status).toBe(404);
    const notOurs = await proxy(
      `https://${LOOPBACK_HOST}:${pair.a.port}/mimiAsset/${encodeURIComponent('mimi://a.example/r/none')}/a.example/${'A'.repeat(43)}`,
    );
    expect(notOurs.status).toBe(404);
  });

  it('puts an asset_policy saying hubProxy downloads and the configured limits into a linked room', async () => {
    const roomId = '!assets:a';
    pair.a.platform
      .createRoom(roomId, 'Assets')
      .members.set('alice', { user: { platform: Platform.Memory, userId: 'alice' }, role: ParticipantRole.Owner });
    const { body } = await admin<{ roomUri: RoomUri }>(pair.a, 'POST', '/provisioning/rooms', {
      platform: 'memory',
      roomId,
    });
    const group = await pair.a.running.app.get(MlsGroups).requireGroup(body.roomUri);
    const data = appDataFromExtensions(group.coreState.context.extensions).find(
      (c) => c.componentId === RoomStateComponentId.assetPolicy,
    );
    expect(data).toBeDefined();
    expect(decodeAssetPolicy(data!.data)).toMatchObject({
      allowedDownloadTypes: ['hubProxy'],
      defaultDownloadType: 'hubProxy',
      maxAttachment: 65_536n,
      permittedMediaTypes: [
        { mediaType: 'application/json', parameters: [] },
        { mediaType: 'image/png', parameters: [] },
      ],
    });
  });

  it('counts against the peer’s proxyDownload budget: 429 with Retry-After past it', async () => {
    let res = await proxy(`https://${LOOPBACK_HOST}:1/x`);
    for (let i = 0; i < BURST && res.status !== 429; i++) res = await proxy(`https://${LOOPBACK_HOST}:1/x`);
    expect(res.status).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });
});
