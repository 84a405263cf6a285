import { Platform, type UserUri } from '../../src/common/ids';
import type { MentionResolver } from './html-markdown';
import type { MapperContext } from './matrix-event.mapper';
import { MatrixIds } from './matrix-ids';
import { readEventsOf, receiptEventId, sendReadReceipt } from './read-receipts';

const HS = 'hs.test';
const ROOM = '!room:hs.test';
const ALICE = '@alice:hs.test';
const BOT = '@mimibot:hs.test';
const ids = new MatrixIds('_mimi_', HS, 'mimibot');
const GHOST = ids.ghostUserId('mimi://follower.example/u/carol' as UserUri)!;
const mentions: MentionResolver = { userUriOf: () => undefined, mxidOf: () => undefined };
const ctx: MapperContext = { ids, homeserverUrl: 'http://127.0.0.1:8008', mentions };

function receipt(content: Record<string, unknown>, roomId = ROOM): unknown {
  return { type: 'm.receipt', room_id: roomId, content };
}

describe(readEventsOf.name, () => {
  it("turns a native user's public m.read receipt into a read action on the event", () => {
    const events = readEventsOf([receipt({ $e1: { 'm.read': { [ALICE]: { ts: 1234 } } } })], ctx, BOT);
    expect(events).toEqual([
      {
        kind: 'message',
        room: { platform: Platform.Matrix, roomId: ROOM },
        platformEventId: receiptEventId(ALICE, '$e1'),
        sender: { platform: Platform.Matrix, userId: ALICE },
        action: { type: 'read', target: { platformEventId: '$e1' } },
        timestamp: 1234,
      },
    ]);
  });

  it("drops ghosts' and the bot's receipts (our renders), private, threaded and non-receipt events", () => {
    const events = readEventsOf(
      [
        receipt({ $e1: { 'm.read': { [GHOST]: { ts: 1 }, [BOT]: { ts: 1 } } } }),
        receipt({ $e2: { 'm.read.private': { [ALICE]: { ts: 1 } } } }),
        receipt({ $e3: { 'm.read': { [ALICE]: { ts: 1, thread_id: '$root' } } } }),
        { type: 'm.typing', room_id: ROOM, content: { user_ids: [ALICE] } },
        { type: 'm.receipt', content: {} },
        'garbage',
      ],
      ctx,
      BOT,
    );
    expect(events).toEqual([]);
  });

  it('keeps a receipt on the main timeline', () => {
    const events = readEventsOf([receipt({ $e1: { 'm.read': { [ALICE]: { ts: 1, thread_id: 'main' } } } })], ctx, BOT);
    expect(events.map((e) => e.platformEventId)).toEqual([receiptEventId(ALICE, '$e1')]);
  });
});

describe(sendReadReceipt.name, () => {
  it("posts the ghost's m.read receipt on the event", async () => {
    const doRequest = jest.fn().mockResolvedValue({});
    const intent = { matrixClient: { doRequest } } as unknown as Parameters<typeof sendReadReceipt>[0]['intent'];
    const id = await sendReadReceipt({ id: GHOST, intent }, ROOM, '$e1');
    expect(doRequest).toHaveBeenCalledWith(
      'POST',
      `/_matrix/client/v3/rooms/${encodeURIComponent(ROOM)}/receipt/m.read/${encodeURIComponent('$e1')}`,
      null,
      {},
    );
    expect(id).toBe(receiptEventId(GHOST, '$e1'));
  });
});
