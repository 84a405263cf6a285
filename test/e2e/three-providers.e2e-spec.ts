/**
 * Three providers in one MIMI room (issue 10 Proof, protocol-06 §3.3 "Bob adds Cathy"), everything
 * real but C's platform:
 *
 * - A (`mimi-gateway start`, Matrix bridge on a real Synapse) hubs a Matrix room of alice;
 * - B (`mimi-gateway start`, XMPP bridge in component mode on a real Prosody) mirrors it into a
 *   MUC where bob and dave take part through real c2s logins;
 * - C is a memory gateway process (test/support/memory-gateway.ts): carol uses its platform
 *   through the control API.
 *
 * bob invites carol from B's MUC (`!mimi invite <carol's URI>`): B asks the hub A for carol's key
 * material, A passes the request on to C and records where the KeyPackage came from, B's client
 * for bob commits the Add, and A routes the Welcome to C by that record. All three talk and each
 * sees the others' messages in order. Then the room's roles (Matrix power levels: kick needs 75)
 * decide who may remove carol from B's side: dave (moderator, 50) kicks her ghost and A refuses
 * (nothing changes in the MIMI room, on Matrix or on C; her ghost comes back into the MUC); bob
 * (admin, 75) kicks it and A commits: C's carol is removed and the Matrix room shows her ghost leave.
 *
 *   npx nest build && npx jest --config test/jest-e2e.config.js --runInBand three-providers
 */
import { Platform, type UserUri } from '../../src/common/ids';
import { legacyUserUri } from '../../src/rooms/identity';
import type { XmlElement } from '../../bridges/xmpp/protocol/xml';
import type { ClientEvent } from '../servers/synapse/synapse-server';
import type { ControlTimelineEntry } from '../support/e2e-clients';
import { waitFor, waitForValue } from '../support/e2e-wait';
import { HeadlineEnv, MATRIX_GATEWAY, XMPP_GATEWAY, envScenario } from './support/headline-env';
import { MatrixSide, XmppSide, nickOf, runTag } from './support/headline-sides';
import { BOT_NICK } from './support/xmpp-mimi-env';

const RUN = runTag();
const C_GATEWAY = 'c.example';
const BOB = { username: 'bob', password: 'bob-pw' };
const DAVE = { username: 'dave', password: 'dave-pw' };
const CAROL = { userId: 'carol', displayName: 'Carol' };
const CAROL_URI = legacyUserUri(C_GATEWAY, Platform.Memory, CAROL.userId);
/** Matrix power levels of the room: removing someone needs 75 (admin), so a moderator (50) may not. */
const KICK_LEVEL = 75;
const ADMIN_LEVEL = 75;
const MODERATOR_LEVEL = 50;

const SETUP_TIMEOUT_MS = 600_000;
const STEP_TIMEOUT_MS = 180_000;
const WAIT_MS = 60_000;

/** The text of a memory-platform timeline entry that is a post. */
function postText(t: ControlTimelineEntry): string | undefined {
  const e = t.event;
  return e.kind === 'message' && e.action.type === 'post' ? e.action.body.text : undefined;
}

/** An answer of B's bot in `muc` (private, XEP-0045 §7.5, or to the room) whose body matches `pred`. */
function botAnswer(muc: string, pred: (body: string) => boolean) {
  return (el: XmlElement): boolean =>
    el.name === 'message' && el.attrs.from === `${muc}/${BOT_NICK}` && pred(el.getChildText('body') ?? '');
}

describe('three providers: a Matrix room hubbed by A, mirrored into a MUC by B, with a user of C', () => {
  let env: HeadlineEnv | undefined;
  let alice: MatrixSide;
  let bob: XmppSide;
  let dave: XmppSide;
  let roomUri: string;
  /** carol's room on C (the mirror C made when the Welcome came). */
  let carolRoom: string;
  let carolNick: string;

  beforeAll(async () => {
    env = await HeadlineEnv.create({ xmppAccounts: [BOB, DAVE], memoryGateways: [C_GATEWAY] });
  }, SETUP_TIMEOUT_MS);

  afterAll(() => env?.dispose(), 120_000);

  const scenario = envScenario(() => env);
  const c = (e: HeadlineEnv) => e.cluster.gateway(C_GATEWAY);
  const powerLevels = async (users: Record<string, number>): Promise<void> => {
    const current = await alice.client.getState<Record<string, unknown>>(alice.roomId, 'm.room.power_levels');
    await alice.client.setState(alice.roomId, 'm.room.power_levels', '', {
      ...current,
      kick: KICK_LEVEL,
      users: { ...((current['users'] as Record<string, number> | undefined) ?? {}), ...users },
    });
  };
  const roleOn = async (g: { provisioning: HeadlineEnv['a']['provisioning'] }, user: string) =>
    (await g.provisioning.room(roomUri))?.participants.find((p) => p.userUri === user)?.role;

  it(
    'A hubs the Matrix room; B mirrors it into a MUC that bob and dave join; the roles come from the power levels',
    scenario(async (e) => {
      const aliceClient = await e.registerMatrixUser('alice');
      const linked = await e.linkMatrixRoom(aliceClient, `Three providers ${RUN}`);
      roomUri = linked.roomUri;
      alice = new MatrixSide(aliceClient, linked.roomId);
      const [bobUser, daveUser] = [await e.connectXmpp(BOB), await e.connectXmpp(DAVE)];
      const muc = await e.inviteXmppUser(aliceClient, linked.roomId, roomUri, bobUser.jid);
      expect(await e.inviteXmppUser(aliceClient, linked.roomId, roomUri, daveUser.jid)).toBe(muc);
      bob = new XmppSide(bobUser, muc, 'bob');
      dave = new XmppSide(daveUser, muc, 'dave');
      await bob.join();
      await dave.join();
      // bob admin (may invite and remove), dave moderator (may not remove: kick needs 75).
      await powerLevels({ [e.ghostOfXmppUser(bob.jid)]: ADMIN_LEVEL, [e.ghostOfXmppUser(dave.jid)]: MODERATOR_LEVEL });
      const bobUri = e.xmppUserUri(bob.jid);
      const daveUri = e.xmppUserUri(dave.jid);
      await waitFor(
        async () => (await roleOn(e.b, bobUri)) === 'admin' && (await roleOn(e.b, daveUri)) === 'moderator',
        {
          timeoutMs: WAIT_MS,
          what: 'bob admin and dave moderator in the MIMI room, as B sees it',
        },
      );
      await e.epochsSettled(roomUri);
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'bob invites carol of C from the MUC: key material through the hub A, the Welcome routed to C',
    scenario(async (e) => {
      await c(e).control.createRoom(`!home-${RUN}`, { members: [CAROL] });
      const since = bob.mark();
      await bob.say(`!mimi invite ${CAROL_URI}`);
      const answer = await bob.user.waitFor(
        botAnswer(bob.muc, (b) => b.startsWith('Invited') || b.includes('failed')),
        "the bot's answer to !mimi invite",
        { since, timeoutMs: WAIT_MS },
      );
      expect(answer.getChildText('body')).toContain(`Invited ${CAROL_URI}`);
      // C follows the room with carol's client, in a mirror room of its own platform.
      const followed = await waitForValue(
        () => c(e).provisioning.room(roomUri),
        (r) => r !== undefined && r.localMembers.includes(CAROL_URI),
        { timeoutMs: WAIT_MS, what: `C following ${roomUri} with carol` },
      );
      expect(followed).toMatchObject({ role: 'follower', hub: MATRIX_GATEWAY });
      carolRoom = followed!.roomId;
      // Everyone's view of the room has her: A (the hub), B, and the Matrix room (her ghost joined).
      for (const g of [e.a, e.b]) {
        await waitFor(async () => (await roleOn(g, CAROL_URI)) === 'member', {
          timeoutMs: WAIT_MS,
          what: `carol a member on ${g === e.a ? MATRIX_GATEWAY : XMPP_GATEWAY}`,
        });
      }
      const carolGhost = e.ids.ghostUserId(CAROL_URI as UserUri)!;
      await alice.sees(
        (x) => x.type === 'm.room.member' && x.state_key === carolGhost && x.content['membership'] === 'join',
      );
      // A's log says where the key material came from and where the Welcome went.
      await waitFor(
        async () =>
          e.a.logTail(400).includes(`keyMaterial for ${CAROL_URI} passed from ${C_GATEWAY} to ${XMPP_GATEWAY}`),
        {
          timeoutMs: WAIT_MS,
          what: "A's proxy log line",
        },
      );
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'all three exchange messages, and each sees the others’ messages in order',
    scenario(async (e) => {
      const carolGhost = e.ids.ghostUserId(CAROL_URI as UserUri)!;
      const bobGhost = e.ghostOfXmppUser(bob.jid);
      const sent: { by: 'alice' | 'bob' | 'carol'; text: string }[] = [];
      const bobSince = bob.mark();
      const seenByAll = async (text: string, by: 'alice' | 'bob' | 'carol'): Promise<void> => {
        if (by !== 'alice') {
          await alice.sees((x) => x.type === 'm.room.message' && x.content['body'] === text);
        }
        if (by !== 'bob') await bob.sees((el) => el.getChildText('body') === text, text, bobSince);
        if (by !== 'carol') {
          await waitFor(async () => (await c(e).control.timeline(carolRoom)).some((t) => postText(t) === text), {
            timeoutMs: WAIT_MS,
            what: `"${text}" on C`,
          });
        }
      };
      for (let round = 1; round <= 2; round++) {
        for (const by of ['alice', 'bob', 'carol'] as const) {
          const text = `${by} says ${round} ${RUN}`;
          if (by === 'alice') await alice.say(text);
          else if (by === 'bob') await bob.say(text);
          else await c(e).control.say(carolRoom, CAROL, text);
          sent.push({ by, text });
          await seenByAll(text, by);
        }
      }
      const others = (me: string) => sent.filter((s) => s.by !== me).map((s) => s.text);
      // Matrix: the others' messages from their ghosts, in order.
      const onMatrix = alice
        .seen((x) => x.type === 'm.room.message' && (x.sender === bobGhost || x.sender === carolGhost))
        .map((x: ClientEvent) => String(x.content['body']))
        .filter((t) => t.endsWith(RUN));
      expect(onMatrix).toEqual(others('alice'));
      // XMPP: alice's and carol's messages, in order, carol's from her puppet's nick.
      const onXmpp = bob
        .seen((el) => (el.getChildText('body') ?? '').endsWith(RUN))
        .map((el) => el.getChildText('body'));
      expect(onXmpp).toEqual(others('bob'));
      const carolSaid = bob.seen((el) => el.getChildText('body') === `carol says 1 ${RUN}`)[0]!;
      carolNick = nickOf(carolSaid);
      // C: alice's and bob's messages, in order.
      const onC = (await c(e).control.timeline(carolRoom))
        .map(postText)
        .filter((t): t is string => t !== undefined && t.endsWith(RUN) && !t.startsWith('carol says'));
      expect(onC).toEqual(others('carol'));
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'dave (moderator) kicks carol’s ghost from the MUC: the roles_list does not let him remove, A refuses, nothing changes',
    scenario(async (e) => {
      const epochBefore = Number((await e.a.provisioning.room(roomUri))!.epoch);
      const memberLogBefore = (await c(e).control.memberLog(carolRoom)).length;
      const since = dave.mark();
      const bobSince = bob.mark();
      await dave.user.setRole(dave.muc, carolNick, 'none', 'dave tries');
      await dave.user.waitFor(
        botAnswer(
          dave.muc,
          (b) => b.includes('The MIMI hub refused this change') && b.includes('canRemoveParticipant'),
        ),
        'the refusal told to dave',
        { since, timeoutMs: WAIT_MS },
      );
      // Her ghost is back in the MUC (B restores what the hub did not accept).
      await bob.user.waitFor(
        (el) => el.name === 'presence' && el.attrs.from === `${bob.muc}/${carolNick}` && el.attrs.type === undefined,
        "carol's ghost back in the MUC",
        { since: bobSince, timeoutMs: WAIT_MS },
      );
      // Nothing changed: the hub, B and C still have carol, with her client; her ghost is still in the Matrix room.
      expect(Number((await e.a.provisioning.room(roomUri))!.epoch)).toBe(epochBefore);
      for (const g of [e.a, e.b, c(e)]) {
        const room = await g.provisioning.room(roomUri);
        expect(room?.participants.some((p) => p.userUri === CAROL_URI)).toBe(true);
        expect(room?.members).toContain(CAROL_URI);
      }
      const carolGhost = e.ids.ghostUserId(CAROL_URI as UserUri)!;
      expect(await alice.client.joinedMembers(alice.roomId)).toContain(carolGhost);
      expect(
        (await c(e).control.memberLog(carolRoom, memberLogBefore)).filter(
          (m) => m.change === 'kick' || m.change === 'leave',
        ),
      ).toEqual([]);
      // And carol still takes part.
      const still = `carol is still here ${RUN}`;
      await c(e).control.say(carolRoom, CAROL, still);
      await alice.sees((x) => x.type === 'm.room.message' && x.content['body'] === still);
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'bob (admin) kicks carol’s ghost: A commits the removal, C sees carol removed and the Matrix room shows her ghost leave',
    scenario(async (e) => {
      const carolGhost = e.ids.ghostUserId(CAROL_URI as UserUri)!;
      const memberLogBefore = (await c(e).control.memberLog(carolRoom)).length;
      await bob.user.setRole(bob.muc, carolNick, 'none', 'bob removes carol');
      await alice.sees(
        (x) => x.type === 'm.room.member' && x.state_key === carolGhost && x.content['membership'] === 'leave',
      );
      for (const g of [e.a, e.b]) {
        await waitFor(async () => (await roleOn(g, CAROL_URI)) === undefined, {
          timeoutMs: WAIT_MS,
          what: `carol gone from the participant list on ${g === e.a ? MATRIX_GATEWAY : XMPP_GATEWAY}`,
        });
      }
      // C: carol was removed from its mirror room, and C has no client in the room any more.
      const removed = await waitForValue(
        async () =>
          (await c(e).control.memberLog(carolRoom, memberLogBefore)).find(
            (m) => m.change === 'kick' || m.change === 'leave',
          ),
        (m) => m !== undefined,
        { timeoutMs: WAIT_MS, what: 'carol removed on C' },
      );
      expect(removed!.user).toMatchObject({ userId: CAROL.userId });
      await waitFor(async () => !((await c(e).provisioning.room(roomUri))?.localMembers ?? []).includes(CAROL_URI), {
        timeoutMs: WAIT_MS,
        what: "C's client of carol gone",
      });
      // The room goes on without C: alice and bob still talk.
      const after = `after carol ${RUN}`;
      const since = bob.mark();
      await alice.say(after);
      await bob.sees((el) => el.getChildText('body') === after, after, since);
    }),
    STEP_TIMEOUT_MS,
  );
});
