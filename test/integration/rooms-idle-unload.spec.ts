/**
 * Issue 12: an idle room's MLS group and puppets are unloaded (mls.idleUnloadSeconds, here 1 s, the
 * real sweep on the real clock), and the room's next message reloads them from the database and
 * reaches the follower (which refuses a ciphertext whose generation was used before); the memory
 * metrics show what is loaded and the follower's render queue.
 */
import { Logger } from '@nestjs/common';
import { ErrorCode, PlatformError } from '../../src/common/errors';
import { MetricsRegistry } from '../../src/common/metrics';
import type { RoomUri } from '../../src/common/ids';
import type { MessageAction } from '../../src/ports';
import { MIRROR_PREFIX } from '../fakes/memory-platform';
import { DATABASE_KINDS } from '../support/test-data-source';
import {
  ALICE_ON_A,
  GatewayPair,
  type GatewayUnderTest,
  eventually,
  found,
  linkWithBobInvited,
  roomHistory,
} from './gateway-pair';

const ROOM_ID = '!idle:a.example';
const postText = (text: string): MessageAction => ({ type: 'post', body: { kind: 'text', text } });

/** The sum of a metric's series on `gw`'s /metrics exposition. */
async function metric(gw: GatewayUnderTest, name: string): Promise<number> {
  const text = await gw.running.app.get(MetricsRegistry).render();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

beforeAll(() => Logger.overrideLogger(['error']));

describe.each(DATABASE_KINDS)('idle rooms unloaded and reloaded on use (%s)', (kind) => {
  let pair: GatewayPair;
  let roomUri: RoomUri;

  beforeAll(async () => {
    pair = await GatewayPair.start(kind, { mls: { idleUnloadSeconds: 1 } });
    roomUri = await linkWithBobInvited(pair, ROOM_ID, 'Idle');
  });

  afterAll(async () => pair.stop());

  const onB = (text: string) =>
    found(async () => (await roomHistory(pair.b, roomUri)).find((e) => e.content.text === text), text);

  it('unloads the idle group and puppets, and the next message reloads them and reaches the follower', async () => {
    await pair.a.platform.emitLocal(ROOM_ID, ALICE_ON_A, postText('before the room went idle'));
    await onB('before the room went idle');
    expect(await metric(pair.a, 'mimi_mls_groups_loaded')).toBeGreaterThan(0);

    await eventually(async () => {
      expect(await metric(pair.a, 'mimi_mls_groups_loaded')).toBe(0);
      expect(await metric(pair.a, 'mimi_mls_identities_cached')).toBe(0);
    });
    expect(await metric(pair.a, 'mimi_mls_idle_unloaded_total')).toBeGreaterThanOrEqual(2);

    for (const n of [1, 2, 3]) await pair.a.platform.emitLocal(ROOM_ID, ALICE_ON_A, postText(`after idle ${n}`));
    for (const n of [1, 2, 3]) await onB(`after idle ${n}`);
  });

  it("shows the follower's render queue while its platform is down", async () => {
    const mirror = `${MIRROR_PREFIX}${roomUri}`;
    pair.b.platform.failWith = new PlatformError(ErrorCode.PlatformUnavailable, 'the platform is down');
    try {
      await pair.a.platform.emitLocal(ROOM_ID, ALICE_ON_A, postText('while B is down'));
      await eventually(async () => {
        expect(await metric(pair.b, 'mimi_render_pending')).toBe(1);
        expect(await metric(pair.b, 'mimi_render_rooms_active')).toBe(1);
      });
    } finally {
      pair.b.platform.failWith = undefined;
    }
    await eventually(async () => {
      const timeline = pair.b.platform.rooms.get(mirror)?.timeline ?? [];
      expect(
        timeline.some(
          (e) =>
            e.kind === 'message' &&
            e.action.type === 'post' &&
            e.action.body.kind === 'text' &&
            e.action.body.text === 'while B is down',
        ),
      ).toBe(true);
      expect(await metric(pair.b, 'mimi_render_pending')).toBe(0);
      expect(await metric(pair.b, 'mimi_render_rooms_active')).toBe(0);
    });
  });
});
