import { echoKeysOf } from '../../bridges/kit/echo-keys';
import { ErrorCode, PlatformError } from '../../src/common/errors';
import { Platform, UserUri } from '../../src/common/ids';
import { InboundEvent, MessageAction } from '../../src/ports';
import { MemoryPlatform } from './memory-platform';

const ROOM = '!club:memory';
const ALICE = { platform: Platform.Memory, userId: '@alice:memory', displayName: 'Alice' };
const BOB_REMOTE = { userUri: 'mimi://b.example/u/bob' as UserUri, displayName: 'Bob' };
const HELLO: MessageAction = { type: 'post', body: { kind: 'text', text: 'hello' } };
const KEY = 'mimi-msg-01';

function waitFor<T>(check: () => T | undefined, timeoutMs = 2000): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = (): void => {
      const v = check();
      if (v !== undefined) return resolve(v);
      if (Date.now() - started > timeoutMs) return reject(new Error('timed out'));
      setImmediate(tick);
    };
    tick();
  });
}

describe(MemoryPlatform.name, () => {
  let platform: MemoryPlatform;
  let seen: InboundEvent[];

  beforeEach(async () => {
    platform = new MemoryPlatform();
    seen = [];
    platform.createRoom(ROOM, 'Club');
    await platform.start(async (e) => {
      seen.push(e);
    });
  });

  afterEach(() => platform.stop());

  describe('post', () => {
    it('accepts a post, returns its event ID and later echoes it with the echo key', async () => {
      const result = await platform.post({ platform: Platform.Memory, roomId: ROOM }, BOB_REMOTE, HELLO, {
        idempotencyKey: KEY,
        timeoutMs: 1000,
      });
      const echo = await waitFor(() => seen.find((e) => e.platformEventId === result.platformEventId));
      expect(echo.kind).toBe('message');
      expect(echo.kind === 'message' && echoKeysOf(echo)).toEqual(result.echoKeys);
      expect(platform.isOwnUser(platform.ghostId(BOB_REMOTE))).toBe(true);
    });

    it('posts once for a repeated idempotency key', async () => {
      const ref = { platform: Platform.Memory, roomId: ROOM };
      const a = await platform.post(ref, BOB_REMOTE, HELLO, { idempotencyKey: KEY, timeoutMs: 1000 });
      const b = await platform.post(ref, BOB_REMOTE, HELLO, { idempotencyKey: KEY, timeoutMs: 1000 });
      expect(b.platformEventId).toBe(a.platformEventId);
      expect(platform.rooms.get(ROOM)!.timeline).toHaveLength(1);
    });

    it('rejects with a retryable Timeout when the platform is slower than the deadline', async () => {
      platform.postDelayMs = 50;
      await expect(
        platform.post({ platform: Platform.Memory, roomId: ROOM }, BOB_REMOTE, HELLO, {
          idempotencyKey: KEY,
          timeoutMs: 10,
        }),
      ).rejects.toMatchObject({ code: ErrorCode.Timeout, retryable: true });
    });

    it('rejects every call while failure injection is on', async () => {
      platform.failWith = new PlatformError(ErrorCode.PlatformUnavailable, 'down');
      await expect(platform.getRoomSnapshot({ platform: Platform.Memory, roomId: ROOM })).rejects.toThrow('down');
    });
  });

  describe('emitLocal', () => {
    it('reports a native user message to the sink', async () => {
      const id = await platform.emitLocal(ROOM, ALICE, HELLO);
      expect(seen).toEqual([expect.objectContaining({ kind: 'message', platformEventId: id, sender: ALICE })]);
    });
  });
});
