/**
 * Issue 10 item 5: protocol-06 §5.7 consent and §5.9 abuse reports between two in-process
 * gateways (A hubs a memory room, B follows with bob), mutual TLS; the directory lists every
 * endpoint we serve, and each of them is routed. Refusals come with their status and errcode.
 */
import { request } from 'undici';
import { Platform, type RoomUri } from '../../src/common/ids';
import {
  type AbuseReport,
  type ConsentEntry,
  abuseReportCodec,
  consentEntryCodec,
  encodeValue,
} from '../../src/mimi/wire';
import { RoomEventRepository } from '../../src/persistence/repositories/room-event.repository';
import { type LegacyUserRef, ParticipantRole } from '../../src/ports';
import { ConsentService, type RoomInfo, legacyUserUri } from '../../src/rooms';
import { MIRROR_PREFIX } from '../fakes/memory-platform';
import { DOMAIN_A, DOMAIN_B } from '../kits/mimi/transport-fixtures';
import { GatewayPair, admin, eventually, linkMemoryRoom, mimiGet, mimiPost, inviteOnA } from './gateway-pair';

const ROOM_ID = '!consent:a.example';
const ALICE: LegacyUserRef = { platform: Platform.Memory, userId: 'alice' };
const MOD: LegacyUserRef = { platform: Platform.Memory, userId: 'mod' };
const ALICE_URI = legacyUserUri(DOMAIN_A, 'memory', 'alice');
const BOB_URI = legacyUserUri(DOMAIN_B, 'memory', 'bob');
const ERIN_URI = legacyUserUri(DOMAIN_B, 'memory', 'erin');

let pair: GatewayPair;
let roomUri: RoomUri;

const fromB = () => ({ domain: DOMAIN_B, identity: pair.pki.b, ca: pair.pki.ca });
const post = (path: string, body: Uint8Array) => mimiPost(pair.a, fromB(), path, body);
const errcode = (res: { body: Buffer }): unknown => (JSON.parse(res.body.toString()) as { errcode?: string }).errcode;

function consent(op: ConsentEntry['consentOperation'], over: Partial<ConsentEntry> = {}): Uint8Array {
  const base = { requesterUri: BOB_URI, targetUri: ALICE_URI, consentExtensions: { componentData: [] } };
  const entry = (
    op === 'grant'
      ? { ...base, consentOperation: op, clientKeyPackages: [], ...over }
      : { ...base, consentOperation: op, ...over }
  ) as ConsentEntry;
  return encodeValue(entry, consentEntryCodec);
}

function abuse(over: Partial<AbuseReport> = {}): Uint8Array {
  return encodeValue(
    {
      reportingUser: BOB_URI,
      allegedAbuserUri: ALICE_URI,
      reasonCode: 0,
      note: 'spam',
      messages: [],
      abuseExtensions: { componentData: [] },
      ...over,
    },
    abuseReportCodec,
  );
}

async function roomInfo(gw: GatewayPair['a']): Promise<RoomInfo | undefined> {
  return (await admin<RoomInfo[]>(gw, 'GET', '/provisioning/rooms')).body.find((r) => r.roomUri === roomUri);
}

describe('consent and abuse reports (protocol-06 §5.7, §5.9)', () => {
  beforeAll(async () => {
    pair = await GatewayPair.start('sqlite');
    const room = pair.a.platform.createRoom(ROOM_ID, 'Consent');
    room.members.set(ALICE.userId, { user: ALICE, role: ParticipantRole.Owner });
    room.members.set(MOD.userId, { user: MOD, role: ParticipantRole.Moderator });
    roomUri = await linkMemoryRoom(pair.a, ROOM_ID);
    await inviteOnA(pair, ROOM_ID, ALICE, BOB_URI, '$invite-bob');
    await eventually(async () => expect((await roomInfo(pair.b))?.localMembers).toContain(BOB_URI));
  }, 60_000);

  afterAll(async () => {
    await pair?.stop();
  });

  it('lists every endpoint it serves in its directory, and routes each of them', async () => {
    const res = await request(`https://127.0.0.1:${pair.a.port}/.well-known/mimi-protocol-directory`, {
      dispatcher: new (await import('undici')).Agent({
        connect: { key: pair.pki.b.keyPem, cert: pair.pki.b.certPem, ca: pair.pki.ca.certPem, servername: DOMAIN_A },
      }),
      headers: { host: DOMAIN_A, from: `mimi@${DOMAIN_B}` },
    });
    const directory = (await res.body.json()) as Record<string, string>;
    expect(Object.keys(directory).sort()).toEqual(
      [
        'groupInfo',
        'identifierQuery',
        'keyMaterial',
        'notify',
        'proxyDownload',
        'reportAbuse',
        'requestConsent',
        'submitMessage',
        'update',
        'updateConsent',
      ].sort(),
    );
    for (const [endpoint, template] of Object.entries(directory)) {
      if (endpoint === 'proxyDownload') {
        // A GET (protocol-06 §5.10.2); a URL that is not https: 400, never 404.
        const path = new URL(template.replace('{downloadUrl}', encodeURIComponent('http://x.example/f'))).pathname;
        expect({ endpoint, status: (await mimiGet(pair.a, fromB(), path)).status }).toEqual({ endpoint, status: 400 });
        continue;
      }
      const path = new URL(
        template.replace(
          /\{[a-zA-Z]+\}/,
          endpoint.endsWith('Consent') || endpoint === 'identifierQuery' ? DOMAIN_A : encodeURIComponent(roomUri),
        ),
      ).pathname;
      const answer = await post(path, new Uint8Array([0xff]));
      // A body nobody can decode: 400, never 404 (the route exists).
      expect({ endpoint, status: answer.status }).toEqual({ endpoint, status: 400 });
    }
  });

  it('grants at once within a linked room where the requester is a participant (updateConsent to B)', async () => {
    const res = await post(`/requestConsent/${DOMAIN_A}`, consent('request', { roomId: roomUri }));
    expect(res.status).toBe(201);
    await pair.a.running.app.get(ConsentService).settled();
    expect(
      pair.b.running.app
        .get(ConsentService)
        .consentOf({ requesterUri: BOB_URI, targetUri: ALICE_URI, roomId: roomUri }),
    ).toBe('grant');
    expect(pair.a.platform.consentAsks).toEqual([]);
  });

  it('asks the user through the bridge otherwise, and sends the answer', async () => {
    pair.a.platform.consentAnswer = 'deny';
    const res = await post(`/requestConsent/${DOMAIN_A}`, consent('request'));
    expect(res.status).toBe(201);
    await pair.a.running.app.get(ConsentService).settled();
    expect(pair.a.platform.consentAsks).toEqual([{ user: 'alice', requester: BOB_URI }]);
    expect(pair.b.running.app.get(ConsentService).consentOf({ requesterUri: BOB_URI, targetUri: ALICE_URI })).toBe(
      'revoke',
    );
    pair.a.platform.consentAnswer = 'grant';
    await post(`/requestConsent/${DOMAIN_A}`, consent('request'));
    await pair.a.running.app.get(ConsentService).settled();
    expect(pair.b.running.app.get(ConsentService).consentOf({ requesterUri: BOB_URI, targetUri: ALICE_URI })).toBe(
      'grant',
    );
  });

  it('refuses consent requests and updates that are not its business', async () => {
    const cases: [string, Uint8Array, number, string][] = [
      [`/requestConsent/${DOMAIN_B}`, consent('request'), 400, 'MIMI_BAD_VALUE'],
      [`/requestConsent/${DOMAIN_A}`, consent('grant'), 400, 'MIMI_BAD_VALUE'],
      [`/requestConsent/${DOMAIN_A}`, consent('request', { requesterUri: ALICE_URI }), 403, 'MIMI_FORBIDDEN'],
      [
        `/requestConsent/${DOMAIN_A}`,
        consent('request', { targetUri: 'mimi://a.example/u/xmpp:nobody' }),
        404,
        'MIMI_NOT_FOUND',
      ],
      [`/requestConsent/not_a_domain`, consent('request'), 400, 'MIMI_BAD_VALUE'],
      [
        `/updateConsent/${DOMAIN_A}`,
        consent('request', { requesterUri: ALICE_URI, targetUri: BOB_URI }),
        400,
        'MIMI_BAD_VALUE',
      ],
      [
        `/updateConsent/${DOMAIN_A}`,
        consent('grant', { requesterUri: ALICE_URI, targetUri: ALICE_URI }),
        403,
        'MIMI_FORBIDDEN',
      ],
    ];
    for (const [path, body, status, code] of cases) {
      const res = await post(path, body);
      expect({ path, status: res.status, errcode: errcode(res) }).toEqual({ path, status, errcode: code });
    }
    // A grant from B for one of our users is recorded.
    expect(
      (await post(`/updateConsent/${DOMAIN_A}`, consent('grant', { requesterUri: ALICE_URI, targetUri: ERIN_URI })))
        .status,
    ).toBe(201);
    expect(pair.a.running.app.get(ConsentService).consentOf({ requesterUri: ALICE_URI, targetUri: ERIN_URI })).toBe(
      'grant',
    );
  });

  it("delivers an abuse report to the room's moderators with the reported message's event", async () => {
    await pair.a.platform.emitLocal(ROOM_ID, ALICE, { type: 'post', body: { kind: 'text', text: 'buy now!!!' } });
    const logged = await eventually(async () => {
      const events = await pair.a.running.app.get(RoomEventRepository).list(roomUri);
      const e = events.find((x) => x.senderUri === ALICE_URI);
      if (!e) throw new Error('not logged yet');
      return e;
    });
    const posted = pair.a.platform.rooms
      .get(ROOM_ID)!
      .timeline.find((e) => e.kind === 'message' && e.action.type === 'post' && e.action.body.text === 'buy now!!!')!;
    const frank = {
      serverFrank: new Uint8Array(32),
      frankingSignatureCiphersuite: 1,
      frankingIntegritySignature: new Uint8Array(0),
    };
    const res = await post(
      `/reportAbuse/${encodeURIComponent(roomUri)}`,
      abuse({ messages: [{ messageContent: logged.content, frank, acceptedTimestamp: 1n }] }),
    );
    expect(res.status).toBe(201);
    expect(pair.a.platform.abuseReports).toEqual([
      {
        room: ROOM_ID,
        report: {
          reporter: BOB_URI,
          reportedVia: DOMAIN_B,
          abuser: ALICE_URI,
          reasonCode: 0,
          note: 'spam',
          platformEventIds: [posted.platformEventId],
        },
      },
    ]);
  });

  it('refuses abuse reports for rooms it does not hub, from strangers, and about non-users', async () => {
    const before = pair.a.platform.abuseReports.length;
    const cases: [string, Uint8Array, number, string][] = [
      [`/reportAbuse/${encodeURIComponent('mimi://a.example/r/nope')}`, abuse(), 404, 'MIMI_NOT_FOUND'],
      [`/reportAbuse/${encodeURIComponent(roomUri)}`, abuse({ reportingUser: ALICE_URI }), 403, 'MIMI_FORBIDDEN'],
      [`/reportAbuse/${encodeURIComponent(roomUri)}`, abuse({ reportingUser: ERIN_URI }), 403, 'MIMI_FORBIDDEN'],
      [
        `/reportAbuse/${encodeURIComponent(roomUri)}`,
        abuse({ allegedAbuserUri: 'mimi://a.example/r/x' }),
        400,
        'MIMI_BAD_VALUE',
      ],
    ];
    for (const [path, body, status, code] of cases) {
      const res = await post(path, body);
      expect({ path, status: res.status, errcode: errcode(res) }).toEqual({ path, status, errcode: code });
    }
    expect(pair.a.platform.abuseReports).toHaveLength(before);
    // B's mirror exists; a follower does not take reports for a room it does not hub.
    const onB = await mimiPost(
      pair.b,
      { domain: DOMAIN_A, identity: pair.pki.a, ca: pair.pki.ca },
      `/reportAbuse/${encodeURIComponent(roomUri)}`,
      abuse({ reportingUser: '' }),
    );
    expect(onB.status).toBe(404);
    expect(pair.b.platform.rooms.has(`${MIRROR_PREFIX}${roomUri}`)).toBe(true);
  });
});
