/**
 * RELIABILITY T27: SSRF through media URLs, between two gateways over mutual TLS. A canary
 * listener on loopback counts every connection. MIMI content whose attachments name the canary,
 * loopback, link-local and private addresses or `file:` travels A → B and B → A: each side posts
 * it as a link and never fetches it. And A's `/proxyDownload` (protocol-06 §5.10.2), asked by B for
 * such URLs, refuses every one that is not on a peer's own origin: 403, or 400 when not https.
 * The canary sees nothing.
 */
import type { RoomUri } from '../../src/common/ids';
import { ErrorCode } from '../../src/common/errors';
import type { MessageAction } from '../../src/ports';
import { MIRROR_PREFIX } from '../fakes/memory-platform';
import { DOMAIN_B } from '../kits/mimi/transport-fixtures';
import { CanaryServer } from '../support/canary-server';
import * as pairs from './gateway-pair';

const { GatewayPair, eventually, linkWithBobInvited, mimiGet, postedBody } = pairs;
const [ALICE, BOB] = [pairs.ALICE_ON_A, pairs.BOB_ON_B];
const CLUB = '!ssrf:a.example';

describe('T27: media URLs are never fetched (canary)', () => {
  let pair: pairs.GatewayPair;
  let canary: CanaryServer;
  let club: RoomUri;

  /** URLs the gateways must not fetch: the canary itself, and addresses it stands for. */
  const hostile = (): string[] => [
    canary.url('/a.png'),
    canary.url('/b.png', 'https'),
    `http://localhost:${canary.port}/c.png`,
    `https://[::1]:${canary.port}/d.png`,
    'http://169.254.169.254/latest/meta-data/iam/e.png',
    'https://10.0.0.1/f.png',
    'https://192.168.1.1/g.png',
    'file:///etc/passwd',
  ];
  /** A post of `text` with one attachment at `url`. */
  const post = (text: string, url: string): MessageAction => ({
    type: 'post',
    body: { kind: 'text', text, attachments: [{ url, contentType: 'image/png', filename: 'f.png' }] },
  });

  /** The post `text` in `roomId` on `gw`'s platform. */
  const posted = (gw: pairs.GatewayUnderTest, roomId: string, text: string) =>
    postedBody(gw, roomId, (body) => body.text.startsWith(text));

  beforeAll(async () => {
    canary = await CanaryServer.start();
    pair = await GatewayPair.start('sqlite');
    club = await linkWithBobInvited(pair, CLUB, 'SSRF');
  }, 60_000);

  afterAll(async () => {
    await pair?.stop();
    await canary?.close();
  });

  it('passes attachment links of MIMI content on as links in both directions, fetching none', async () => {
    const mirror = `${MIRROR_PREFIX}${club}`;
    for (const [i, url] of hostile().entries()) {
      await pair.a.platform.emitLocal(CLUB, ALICE, post(`from alice ${i}`, url));
      await pair.b.platform.emitLocal(mirror, BOB, post(`from bob ${i}`, url));
    }
    // Each side shows every link as a link (the URL as it was sent): nothing fetched, nothing minted.
    for (const [gw, roomId, from] of [
      [pair.b, mirror, 'from alice'],
      [pair.a, CLUB, 'from bob'],
    ] as const) {
      for (const [i, url] of hostile().entries()) {
        const body = await eventually(async () => {
          const found = posted(gw, roomId, `${from} ${i}`);
          expect(found).toBeDefined();
          return found!;
        });
        expect({ text: body.text, urls: body.attachments?.map((a) => a.url) }).toEqual({
          text: `${from} ${i}`,
          urls: [url],
        });
      }
    }
    expect(canary.requests).toEqual([]);
    expect(canary.hits).toBe(0);
  });

  it('refuses proxyDownload of any URL not on a peer’s own origin (403, or 400 when not https), fetching none', async () => {
    const asB = { domain: DOMAIN_B, identity: pair.pki.b, ca: pair.pki.ca };
    const answers: { url: string; status: number; errcode: string }[] = [];
    for (const url of hostile()) {
      const res = await mimiGet(pair.a, asB, `/proxyDownload/${encodeURIComponent(url)}`);
      answers.push({
        url,
        status: res.status,
        errcode: (JSON.parse(res.body.toString()) as { errcode: string }).errcode,
      });
    }
    expect(answers).toEqual(
      hostile().map((url) =>
        url.startsWith('https:')
          ? { url, status: 403, errcode: ErrorCode.Forbidden }
          : { url, status: 400, errcode: ErrorCode.BadValue },
      ),
    );
    expect(canary.requests).toEqual([]);
    expect(canary.hits).toBe(0);
  });
});
