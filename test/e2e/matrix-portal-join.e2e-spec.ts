/**
 * Issue 4 follower mode, with everything real: a Matrix user joins a MIMI room hubbed by another
 * provider through its portal alias. Gateway B (memory platform) hubs the rooms; gateway A
 * (`mimi-gateway start` with the appservice bridge, Synapse started by the test) follows them:
 *
 *   zoe: POST /join/#_mimi_<room URI>:synapse.test
 *     → Synapse asks A's appservice for the alias → A asks B for the room (/groupInfo probe)
 *       and creates the mirror room with that alias → zoe joins it
 *     → A's puppet of zoe fetches the GroupInfo from B and joins the MLS group by external
 *       commit (/update); B carries the join out on its platform first.
 *
 * Needs a build first: `npx tsc -p tsconfig.build.json`.
 */
import { randomUUID } from 'node:crypto';
import { Platform, type UserUri } from '../../src/common/ids';
import { type InboundEvent, ParticipantRole } from '../../src/ports';
import { legacyUserUri } from '../../src/rooms/identity';
import { HttpError, type NativeUser } from '../support/e2e-clients';
import { MEMORY_PLATFORM } from '../support/e2e-gateways';
import { waitFor } from '../support/e2e-wait';
import type { ClientEvent, MatrixUserClient } from '../servers/synapse/synapse-server';
import { FOLLOWER_DOMAIN, HUB_DOMAIN, MatrixMimiEnv } from './support/matrix-mimi-env';

const A = HUB_DOMAIN;
const B = FOLLOWER_DOMAIN;
const RUN = randomUUID().slice(0, 8);
const BOB: NativeUser = { userId: '@bob:b.example', displayName: 'Bob' };
const BOB_URI = legacyUserUri(B, MEMORY_PLATFORM, BOB.userId);
const CAROL: NativeUser = { userId: '@carol:b.example', displayName: 'Carol' };
const CAROL_URI = legacyUserUri(B, MEMORY_PLATFORM, CAROL.userId);
const DAVE: NativeUser = { userId: '@dave:b.example', displayName: 'Dave' };
const mUri = (mxid: string): UserUri => legacyUserUri(A, Platform.Matrix, mxid);

const SETUP_TIMEOUT_MS = 600_000;
const STEP_TIMEOUT_MS = 180_000;
const WAIT_MS = 60_000;

function postText(e: InboundEvent): string | undefined {
  return e.kind === 'message' && e.action.type === 'post' ? e.action.body.text : undefined;
}

function senderUriOf(e: InboundEvent): string | undefined {
  return e.kind === 'message' && 'userUri' in e.sender ? e.sender.userUri : undefined;
}

/** The errcode of a failed client-server call (the Synapse client throws with the JSON body in its message). */
async function matrixFailure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return String(e instanceof Error ? e.message : e);
  }
  throw new Error('the call succeeded');
}

describe('Matrix follower mode: joining a remote MIMI room through its portal alias', () => {
  let env: MatrixMimiEnv | undefined;
  let zoe: MatrixUserClient;
  let yan: MatrixUserClient;
  let openUri: string;
  let closedUri: string;
  let mirror: string;
  const TOWN = `!town-${RUN}`;
  const CLUB = `!club-${RUN}`;

  beforeAll(async () => {
    env = await MatrixMimiEnv.create();
    zoe = await env.registerUser('zoe');
    yan = await env.registerUser('yan');
    // Rooms hubbed by B: one anybody may join, one by invitation only.
    await env.b.control.createRoom(TOWN, {
      name: 'Town square',
      joinRule: 'public',
      members: [{ ...BOB, role: ParticipantRole.Owner }],
    });
    await env.b.control.createRoom(CLUB, { name: 'Club', members: [{ ...BOB, role: ParticipantRole.Owner }] });
    openUri = await env.b.provisioning.linkRoom(MEMORY_PLATFORM, TOWN);
    closedUri = await env.b.provisioning.linkRoom(MEMORY_PLATFORM, CLUB);
    await env.b.control.say(TOWN, BOB, `said before anyone from A came ${RUN}`);
  }, SETUP_TIMEOUT_MS);

  afterAll(() => env?.dispose(), 120_000);

  const scenario = (body: (e: MatrixMimiEnv) => Promise<void>) => async () => {
    if (!env) throw new Error('the environment was not created (see the beforeAll error)');
    const e = env;
    await e.scenario(() => body(e))();
  };

  it(
    'a Matrix user joins an open remote room by its portal alias; the hub admits them by external commit',
    scenario(async (e) => {
      const alias = e.ids.portalAlias(openUri)!;
      expect(alias).toMatch(/^#_mimi_.*:synapse\.test$/);

      mirror = await zoe.join(alias);

      // A follows the room, mirrored in the room the alias names; zoe's puppet is in the group.
      const onA = await waitFor(
        async () => {
          const r = await e.a.provisioning.room(openUri);
          return r?.localMembers.includes(mUri(zoe.userId)) ? r : undefined;
        },
        { timeoutMs: WAIT_MS, what: "zoe's client in the group on A" },
      );
      expect(onA).toMatchObject({ role: 'follower', hub: B, platform: 'matrix', roomId: mirror });
      // The hub: zoe is a participant (member) with a client, and her ghost is in B's room.
      const onB = await waitFor(
        async () => {
          const r = await e.b.provisioning.room(openUri);
          return r?.participants.some((p) => p.userUri === mUri(zoe.userId)) ? r : undefined;
        },
        { timeoutMs: WAIT_MS, what: 'zoe as a participant on B' },
      );
      expect(onB.participants).toContainEqual({ userUri: mUri(zoe.userId), role: ParticipantRole.Member });
      expect(onB.members).toContain(mUri(zoe.userId));
      const town = await e.b.control.room(TOWN);
      expect(town.members.some((m) => 'userUri' in m.user && m.user.userUri === mUri(zoe.userId))).toBe(true);
      // Both sides end at the same epoch with the same participant list.
      await waitFor(
        async () => {
          const [a, b] = await Promise.all([e.a.provisioning.room(openUri), e.b.provisioning.room(openUri)]);
          return a !== undefined && b !== undefined && Number(a.epoch) === Number(b.epoch) ? true : undefined;
        },
        { timeoutMs: WAIT_MS, what: 'A at B’s epoch' },
      );
      const [a, b] = await Promise.all([e.a.provisioning.room(openUri), e.b.provisioning.room(openUri)]);
      expect(new Set(a!.participants.map((p) => `${p.userUri} ${p.role}`))).toEqual(
        new Set(b!.participants.map((p) => `${p.userUri} ${p.role}`)),
      );
      // Bob (B's native user) is shown in the mirror room as a ghost.
      const bobGhost = e.ghostOf(BOB_URI);
      await waitFor(async () => ((await zoe.joinedMembers(mirror)).includes(bobGhost) ? true : undefined), {
        timeoutMs: WAIT_MS,
        what: "bob's ghost in the mirror room",
      });
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'messages cross both ways after the join',
    scenario(async (e) => {
      const fromBob = `bob greets the newcomer ${RUN}`;
      await e.b.control.say(TOWN, BOB, fromBob);
      const seen = await zoe.waitForEvent(
        (ev: ClientEvent) => ev.room_id === mirror && ev.type === 'm.room.message' && ev.content['body'] === fromBob,
        WAIT_MS,
      );
      expect(seen.sender).toBe(e.ghostOf(BOB_URI));

      const fromZoe = `zoe answers from Matrix ${RUN}`;
      await zoe.sendText(mirror, fromZoe);
      const onB = await waitFor(
        async () => (await e.b.control.timeline(TOWN)).find((t) => postText(t.event) === fromZoe)?.event,
        { timeoutMs: WAIT_MS, what: "zoe's message on B's platform" },
      );
      expect(senderUriOf(onB)).toBe(mUri(zoe.userId));
      // Nothing from before the join is shown (MLS: no history for new members).
      expect(zoe.seen.some((ev) => String(ev.content['body']).startsWith('said before anyone from A came'))).toBe(
        false,
      );
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'a second Matrix user joins by the same alias, added through the member already there',
    scenario(async (e) => {
      const joined = await yan.join(e.ids.portalAlias(openUri)!);
      expect(joined).toBe(mirror);
      await waitFor(
        async () =>
          (await e.b.provisioning.room(openUri))?.participants.some((p) => p.userUri === mUri(yan.userId))
            ? true
            : undefined,
        { timeoutMs: WAIT_MS, what: 'yan as a participant on B' },
      );
      const fromYan = `yan says hi ${RUN}`;
      await waitFor(
        async () =>
          (await e.a.provisioning.room(openUri))?.localMembers.includes(mUri(yan.userId)) ? true : undefined,
        { timeoutMs: WAIT_MS, what: "yan's client in the group on A" },
      );
      await yan.sendText(mirror, fromYan);
      await waitFor(async () => (await e.b.control.timeline(TOWN)).find((t) => postText(t.event) === fromYan), {
        timeoutMs: WAIT_MS,
        what: "yan's message on B's platform",
      });
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'an invite-only remote room cannot be joined by alias: the alias does not resolve and nothing is created',
    scenario(async (e) => {
      const failure = await matrixFailure(zoe.join(e.ids.portalAlias(closedUri)!));
      expect(failure).toMatch(/404|M_NOT_FOUND/);
      expect(await e.a.provisioning.room(closedUri)).toBeUndefined();
      expect((await e.b.provisioning.room(closedUri))!.participants.map((p) => p.userUri)).not.toContain(
        mUri(zoe.userId),
      );
    }),
    STEP_TIMEOUT_MS,
  );
  it(
    'the other way round: a MIMI user of B joins a public Matrix room hubbed by A, and the ghost appears in Matrix',
    scenario(async (e) => {
      const linked = await e.createLinkedRoom(zoe, 'Open lobby');
      await zoe.setState(linked.roomId, 'm.room.join_rules', '', { join_rule: 'public' });

      const mirrorOnB = await e.b.control.joinRemote(linked.roomUri, CAROL);
      await e.b.control.membership(mirrorOnB.roomId, CAROL, 'join');

      // A carried the join out in Matrix first: carol's ghost joined the room.
      const carolGhost = e.ghostOf(CAROL_URI);
      await waitFor(async () => ((await zoe.joinedMembers(linked.roomId)).includes(carolGhost) ? true : undefined), {
        timeoutMs: WAIT_MS,
        what: "carol's ghost in the Matrix room",
      });
      const onA = await waitFor(
        async () => {
          const r = await e.a.provisioning.room(linked.roomUri);
          return r?.participants.some((p) => p.userUri === CAROL_URI) ? r : undefined;
        },
        { timeoutMs: WAIT_MS, what: 'carol as a participant on A' },
      );
      expect(onA.participants).toContainEqual({ userUri: CAROL_URI, role: ParticipantRole.Member });
      const fromCarol = `carol walks in from B ${RUN}`;
      await waitFor(
        async () =>
          (await e.b.provisioning.room(linked.roomUri))?.localMembers.includes(CAROL_URI) ? true : undefined,
        { timeoutMs: WAIT_MS, what: "carol's client in the group on B" },
      );
      await e.b.control.say(mirrorOnB.roomId, CAROL, fromCarol);
      const seen = await zoe.waitForEvent(
        (ev: ClientEvent) =>
          ev.room_id === linked.roomId && ev.type === 'm.room.message' && ev.content['body'] === fromCarol,
        WAIT_MS,
      );
      expect(seen.sender).toBe(carolGhost);

      // A Matrix room that is invite-only (the default) is refused before anything is created on B.
      const closed = await e.createLinkedRoom(zoe, 'Closed lobby');
      const refused = await e.b.control.joinRemote(closed.roomUri, DAVE).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(HttpError);
      expect(refused).toMatchObject({ status: 403, errcode: 'MIMI_NOT_ALLOWED' });
      expect(await e.b.provisioning.room(closed.roomUri)).toBeUndefined();
    }),
    STEP_TIMEOUT_MS,
  );
});
