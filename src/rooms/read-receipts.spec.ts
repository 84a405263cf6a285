import { Platform } from '../common/ids';
import type { InboundEvent } from '../ports';
import { isReadWithoutClient, ReadCoalescer, readKey } from './read-receipts';

function read(userId: string, target: string, roomId = '!room'): Extract<InboundEvent, { kind: 'message' }> {
  return {
    kind: 'message',
    room: { platform: Platform.Matrix, roomId },
    platformEventId: `m.read|${userId}|${target}`,
    sender: { platform: Platform.Matrix, userId },
    action: { type: 'read', target: { platformEventId: target } },
    timestamp: 0,
  };
}

describe(ReadCoalescer.name, () => {
  let now = 0;
  let sent: string[];
  let coalescer: ReadCoalescer;
  const offer = (e: Extract<InboundEvent, { kind: 'message' }>): Promise<void> =>
    coalescer.offer(readKey(e), async () => {
      sent.push(`${e.room.roomId} ${e.platformEventId}`);
    });

  beforeEach(() => {
    jest.useFakeTimers();
    now = 1_000;
    sent = [];
    coalescer = new ReadCoalescer(3_000, () => now);
  });
  afterEach(() => {
    coalescer.stop();
    jest.useRealTimers();
  });

  it('sends the first marker at once, then only the latest one per interval', async () => {
    await offer(read('@a:hs', '$1'));
    expect(sent).toEqual(['!room m.read|@a:hs|$1']);
    now += 500;
    await offer(read('@a:hs', '$2'));
    await offer(read('@a:hs', '$3'));
    expect(sent).toHaveLength(1);
    now += 2_500;
    jest.advanceTimersByTime(2_500);
    expect(sent).toEqual(['!room m.read|@a:hs|$1', '!room m.read|@a:hs|$3']);
    // Nothing more pending: a marker after the interval goes at once again.
    now += 3_000;
    await offer(read('@a:hs', '$4'));
    expect(sent).toHaveLength(3);
  });

  it('keeps users and rooms apart', async () => {
    await offer(read('@a:hs', '$1'));
    await offer(read('@b:hs', '$1'));
    await offer(read('@a:hs', '$1', '!other'));
    expect(sent).toHaveLength(3);
  });

  it('a marker within the interval waits even when nothing was pending', async () => {
    await offer(read('@a:hs', '$1'));
    now += 1_000;
    await offer(read('@a:hs', '$2'));
    jest.advanceTimersByTime(1_999);
    expect(sent).toHaveLength(1);
    jest.advanceTimersByTime(1);
    expect(sent).toEqual(['!room m.read|@a:hs|$1', '!room m.read|@a:hs|$2']);
  });

  it('drops what is pending on stop', async () => {
    await offer(read('@a:hs', '$1'));
    await offer(read('@a:hs', '$2'));
    coalescer.stop();
    jest.advanceTimersByTime(10_000);
    expect(sent).toHaveLength(1);
  });
});

describe(isReadWithoutClient.name, () => {
  const members = [{ user: 'mimi://a/u/alice' }, { user: undefined }];

  it('is true only for a read marker by someone with no client in the group', () => {
    expect(isReadWithoutClient(read('@x:hs', '$1'), members, 'mimi://a/u/bob')).toBe(true);
    expect(isReadWithoutClient(read('@x:hs', '$1'), members, 'mimi://a/u/alice')).toBe(false);
    const post: InboundEvent = { ...read('@x:hs', '$1'), action: { type: 'post', body: { kind: 'text', text: 'x' } } };
    expect(isReadWithoutClient(post, members, 'mimi://a/u/bob')).toBe(false);
  });
});
