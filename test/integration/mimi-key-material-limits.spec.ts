/**
 * Issue 14's hostile run: one signed `/keyMaterial` request replayed over and over got a 200 and a
 * freshly stored KeyPackage every time. Now a replay gets the same KeyPackage back (at most
 * `limits.keyPackagesPerRequester` stored per requesting provider and user), and past the
 * provider's rate limit a 429 with Retry-After; another provider is not affected.
 */
import type { ProviderDomain, UserUri } from '../../src/common/ids';
import { ErrorCode } from '../../src/common/errors';
import { HubExternalSender } from '../../src/mls';
import { MlsGroups, legacyUserUri } from '../../src/rooms';
import { hubKeyMaterialRequest } from '../../src/rooms/wire-support';
import { decodeAll, encodeValue, keyMaterialRequestCodec, keyMaterialResponseCodec } from '../../src/mimi/wire';
import { DOMAIN_A, DOMAIN_B, DOMAIN_C } from '../kits/mimi/transport-fixtures';
import { GatewayPair, mimiPost } from './gateway-pair';

const BURST = 12;
const BOUND = 2;
const LIMITS = {
  limits: { requests: { keyMaterial: { perSecond: 0.01, burst: BURST } }, keyPackagesPerRequester: BOUND },
};
const ALICE = legacyUserUri(DOMAIN_A, 'memory', 'alice') as UserUri;
const path = (user: string): string => `/keyMaterial/${encodeURIComponent(user)}`;

describe('/keyMaterial replays and rate limits', () => {
  let pair: GatewayPair;
  beforeAll(async () => {
    pair = await GatewayPair.start('sqlite', LIMITS);
  });
  afterAll(async () => pair?.stop());

  const storedKeyPackages = (): Promise<string[]> =>
    pair.a.running.app.get(MlsGroups).store.identities.keyPackageRefs(ALICE);

  async function requestBody(sender: HubExternalSender, from: string, room: string): Promise<Uint8Array> {
    const request = hubKeyMaterialRequest(sender, {
      requestingUser: `mimi://${from}/u/hub`,
      targetUser: ALICE,
      roomId: `mimi://${from}/r/${room}`,
    });
    return encodeValue(request, keyMaterialRequestCodec);
  }

  it('stores at most the bound of KeyPackages, then answers 429 with Retry-After; another provider still gets 200', async () => {
    const asB = { domain: DOMAIN_B, identity: pair.pki.b, ca: pair.pki.ca };
    const senderB = await pair.b.running.app.get(MlsGroups).hub();
    const replayed = await requestBody(senderB, DOMAIN_B, 'club');

    const statuses: number[] = [];
    const keyPackages = new Set<string>();
    let limited: Awaited<ReturnType<typeof mimiPost>> | undefined;
    for (let i = 0; i < BURST + 5; i++) {
      // Mostly the one replayed request, and some naming other rooms to push against the bound.
      const body = i % 3 === 2 ? await requestBody(senderB, DOMAIN_B, `room-${i}`) : replayed;
      const res = await mimiPost(pair.a, asB, path(ALICE), body);
      statuses.push(res.status);
      if (res.status === 200) {
        const answer = decodeAll(res.body, keyMaterialResponseCodec);
        const client = answer.clients[0]!;
        if (client.clientStatus !== 'success') throw new Error(`no KeyPackage: ${client.clientStatus}`);
        keyPackages.add(Buffer.from(client.keyPackage).toString('hex'));
      } else {
        limited ??= res;
      }
    }
    expect(keyPackages.size).toBeLessThanOrEqual(BOUND);
    expect((await storedKeyPackages()).length).toBeLessThanOrEqual(BOUND);
    expect(statuses.slice(0, BURST)).toEqual(new Array(BURST).fill(200));
    expect(statuses.slice(BURST)).toContain(429);
    expect(limited?.status).toBe(429);
    expect(Number(limited?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(limited!.body.toString()).errcode).toBe(ErrorCode.RateLimited);

    // A legitimate second provider (C, certified by the same CA) is served while B is limited.
    const senderC = HubExternalSender.generate(DOMAIN_C as ProviderDomain);
    const fromC = await mimiPost(
      pair.a,
      { domain: DOMAIN_C, identity: pair.pki.cByCa, ca: pair.pki.ca },
      path(ALICE),
      await requestBody(senderC, DOMAIN_C, 'lounge'),
    );
    expect(fromC.status).toBe(200);
    expect(decodeAll(fromC.body, keyMaterialResponseCodec).userStatus).toBe('success');
    expect((await mimiPost(pair.a, asB, path(ALICE), replayed)).status).toBe(429);
  });
});
