/**
 * After an epoch change the hub derives, in the background, the sending ratchets of the local
 * members who sent in the epoch before: nothing is written for it, and their next messages (and
 * everyone else's) decrypt at the follower as before.
 */
import { bot, puppet, scaledGroup, TEXT, UTF8 } from './gateway.fixtures';
import { gatewayKeys } from './keys';

const flush = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

describe('ratchets prepared after an epoch change', () => {
  it('writes no ratchet row until a member sends; messages decrypt across the change', async () => {
    const s = await scaledGroup('prepare', 80, 1);
    const g = s.group;
    const f = s.followerGroup!;
    const say = async (i: number, text: string): Promise<string> => {
      const got = await f.processMessage(await g.encrypt(puppet(i), TEXT.encode(text)));
      return got.kind === 'application' ? UTF8.decode(got.plaintext) : got.kind;
    };
    for (let i = 0; i < 70; i++) expect(await say(i, `before ${i}`)).toBe(`before ${i}`);

    const staged = await g.commit(bot(), { forcePath: true, includePending: false });
    await f.processMessage(staged.commit);
    const rows = (): Promise<string[]> => s.hubStorage.list(gatewayKeys.ratchetPrefix(g.groupId, g.epoch));
    const writes = s.hubStorage.writes;
    await flush();
    expect(s.hubStorage.writes).toBe(writes);
    expect(await rows()).toEqual([]);

    expect(await say(3, 'after, an active sender')).toBe('after, an active sender');
    expect(await say(75, 'after, an idle one')).toBe('after, an idle one');
    expect((await rows()).length).toBe(2);
  });
});
