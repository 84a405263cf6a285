import type { ProviderDomain, RoomUri, UserUri } from '../../common/ids';
import { buildTextMessage } from '../../mimi/content/content-builders';
import { encodeMimiContentWithId, toHex } from '../../mimi/content';
import type { AbuseReport } from '../../mimi/wire';
import type { RoomEventRepository } from '../../persistence/repositories/room-event.repository';
import type { RoomRepository } from '../../persistence/repositories/room.repository';
import type { RoomLocks } from '../room-locks';
import type { RoomSupport } from '../room-support';
import { AbuseReports } from './abuse-reports';

const B = 'b.example' as ProviderDomain;
const ROOM = 'mimi://a.example/r/club' as RoomUri;
const EVE = 'mimi://a.example/u/memory:eve' as UserUri;
const BOB = 'mimi://b.example/u/memory:bob';
const FRANK = {
  serverFrank: new Uint8Array(32),
  frankingSignatureCiphersuite: 1,
  frankingIntegritySignature: new Uint8Array(0),
};

function setup(role: 'hub' | 'follower' = 'hub') {
  const delivered: unknown[] = [];
  const bridge = { platform: 'memory', reportAbuse: async (...a: unknown[]) => void delivered.push(a) };
  const spam = encodeMimiContentWithId(buildTextMessage({ senderUri: EVE, roomUri: ROOM, text: 'spam' }), EVE, ROOM);
  const support = {
    bridge: () => bridge,
    legacyRoom: () => ({ platform: 'memory', roomId: '!club' }),
    groupView: async () => ({ participants: [{ user: BOB, roleIndex: 3 }] }),
  } as unknown as RoomSupport;
  const rooms = { findByUri: async () => ({ roomUri: ROOM, role, platform: 'memory' }) } as unknown as RoomRepository;
  const events = {
    findPlatformEventId: async (_tx: unknown, _room: unknown, _p: unknown, id: string) =>
      id === toHex(spam.messageId) ? '$spam' : undefined,
  } as unknown as RoomEventRepository;
  const locks = { run: <T>(_: unknown, f: () => Promise<T>) => f() } as unknown as RoomLocks;
  return { abuse: new AbuseReports(support, rooms, events, locks), delivered, spam: spam.bytes };
}

const report = (over: Partial<AbuseReport> = {}): AbuseReport => ({
  reportingUser: BOB,
  allegedAbuserUri: EVE,
  reasonCode: 3,
  note: 'spam',
  messages: [],
  abuseExtensions: { componentData: [] },
  ...over,
});

describe('AbuseReports.report', () => {
  it('finds the reported message by its MIMI message ID and delivers the report to the moderators', async () => {
    const { abuse, delivered, spam } = setup();
    const other = encodeMimiContentWithId(buildTextMessage({ senderUri: BOB, roomUri: ROOM, text: 'x' }), BOB, ROOM);
    await abuse.report(
      B,
      ROOM,
      report({
        messages: [
          { messageContent: spam, frank: FRANK, acceptedTimestamp: 1n },
          // not a message of the alleged abuser: skipped
          { messageContent: other.bytes, frank: FRANK, acceptedTimestamp: 2n },
        ],
      }),
    );
    expect(delivered).toEqual([
      [
        { platform: 'memory', roomId: '!club' },
        { reporter: BOB, reportedVia: B, abuser: EVE, reasonCode: 3, note: 'spam', platformEventIds: ['$spam'] },
      ],
    ]);
  });

  it('refuses rooms not hubbed here, strangers and non-participants as reporters, non-user abusers', async () => {
    await expect(setup('follower').abuse.report(B, ROOM, report())).rejects.toMatchObject({ code: 'MIMI_NOT_FOUND' });
    const { abuse, delivered } = setup();
    await expect(abuse.report(B, ROOM, report({ reportingUser: EVE }))).rejects.toMatchObject({
      code: 'MIMI_FORBIDDEN',
    });
    await expect(
      abuse.report(B, ROOM, report({ reportingUser: 'mimi://b.example/u/memory:erin' })),
    ).rejects.toMatchObject({ code: 'MIMI_FORBIDDEN' });
    await expect(abuse.report(B, ROOM, report({ allegedAbuserUri: ROOM }))).rejects.toMatchObject({
      code: 'MIMI_BAD_VALUE',
    });
    expect(delivered).toEqual([]);
    // An anonymous report is taken.
    await abuse.report(B, ROOM, report({ reportingUser: '' }));
    expect(delivered).toHaveLength(1);
  });
});
