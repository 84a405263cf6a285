import type { UserUri } from '../../common/ids';
import { othersIn } from './hub-unlink';

const u = (s: string): UserUri => s as UserUri;
const BOT = u('mimi://a.example/u/gateway-bot');
const ALICE = u('mimi://a.example/u/matrix:%40alice%3Asynapse.test');
const BOB = u('mimi://b.example/u/bob');
const CAROL = u('mimi://c.example/u/carol');
const DAVE = u('mimi://b.example/u/dave');
const member = (leafIndex: number, user?: UserUri) => ({
  leafIndex,
  ...(user ? { user } : {}),
  signatureKey: new Uint8Array(0),
  local: false,
});

describe('othersIn (what the hub removes on unlink)', () => {
  it("takes every other provider's clients and participants, keeps ours", () => {
    const out = othersIn(
      {
        members: [member(0, BOT), member(1, ALICE), member(2, BOB), member(3, BOB), member(5, CAROL)],
        participants: [
          { user: BOT, roleIndex: 6 },
          { user: ALICE, roleIndex: 6 },
          { user: BOB, roleIndex: 3 },
          { user: CAROL, roleIndex: 4 },
          // an inactive participant (no client) of B
          { user: DAVE, roleIndex: 3 },
        ],
      },
      'a.example',
    );
    expect(out.leaves).toEqual([2, 3, 5]);
    expect(out.users.sort()).toEqual([BOB, CAROL, DAVE].sort());
    expect(out.keep).toEqual([
      { user: BOT, roleIndex: 6 },
      { user: ALICE, roleIndex: 6 },
    ]);
  });

  it('removes a leaf whose credential names no MIMI user; nothing for a room of ours only', () => {
    expect(othersIn({ members: [member(0, BOT), member(1)], participants: [] }, 'a.example').leaves).toEqual([1]);
    const ours = othersIn({ members: [member(0, BOT)], participants: [{ user: BOT, roleIndex: 6 }] }, 'a.example');
    expect(ours).toEqual({ leaves: [], users: [], keep: [{ user: BOT, roleIndex: 6 }] });
  });
});
