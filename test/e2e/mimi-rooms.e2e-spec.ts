/**
 * Issue 3 "Done means": MIMI rooms end to end between two gateway processes on loopback, A the
 * hub and B a follower, each with the in-memory platform behind it, talking MIMI over mutual TLS
 * with certificates generated at test start (test/support/e2e-gateways.ts).
 *
 * The tests run in order and build on each other (one room history). They assert on what users
 * see (each platform's timeline, through the control API) and on what each gateway stored (the
 * provisioning API's event list). B's requests to A go through a recording tap so that real
 * submitMessage bodies can be replayed. Needs `npx nest build` first.
 */
import { randomUUID } from 'node:crypto';
import type { UserUri } from '../../src/common/ids';
import {
  decodeAll,
  inspectMlsMessage,
  submitMessageRequestCodec,
  type SubmitMessageRequest,
} from '../../src/mimi/wire';
import { InboundEvent, MessageAction, ParticipantRole } from '../../src/ports';
import { legacyUserUri } from '../../src/rooms/identity';
import {
  ControlTimelineEntry,
  NativeUser,
  StoredRoomEvent,
  decodeSubmitOutcome,
  readMetric,
} from '../support/e2e-clients';
import { GatewayCluster, GatewayProcess, MEMORY_PLATFORM, withClusterLogs } from '../support/e2e-gateways';
import { waitFor, waitForValue } from '../support/e2e-wait';
import type { TappedExchange } from '../support/e2e-tap';

const A = 'a.example';
const B = 'b.example';
const RUN = randomUUID().slice(0, 8);
const ROOM = `!club-${RUN}:a`;
const ANNEX = `!annex-${RUN}:a`;

// Native users of A's platform and of B's platform.
const ALICE: NativeUser = { userId: '@alice:a.example', displayName: 'Alice' };
const AMY: NativeUser = { userId: '@amy:a.example', displayName: 'Amy' };
const BOB: NativeUser = { userId: '@bob:b.example', displayName: 'Bob' };
const CAROL: NativeUser = { userId: '@carol:b.example', displayName: 'Carol' };
const DAVE: NativeUser = { userId: '@dave:b.example', displayName: 'Dave' };
const MALLORY: NativeUser = { userId: '@mallory:b.example' };

const uriOf = (domain: string, user: NativeUser): UserUri => legacyUserUri(domain, MEMORY_PLATFORM, user.userId);
const ALICE_URI = uriOf(A, ALICE);
const AMY_URI = uriOf(A, AMY);
const BOB_URI = uriOf(B, BOB);
const CAROL_URI = uriOf(B, CAROL);
const DAVE_URI = uriOf(B, DAVE);
const MALLORY_URI = uriOf(B, MALLORY);

const HELLO_A = `hello from A ${RUN}`;
const HELLO_B = `hello from B ${RUN}`;
const REPLY_B = `bob replies to alice ${RUN}`;
const REPLY_A = `alice replies to bob ${RUN}`;
const EDITED_A = `hello from A, edited ${RUN}`;
const EDITED_B = `hello from B, edited ${RUN}`;
const THUMBS = '👍';
const BEFORE_KICK = `annex: dave can read this ${RUN}`;
const SECRET = `annex: dave must never see this ${RUN}`;
const DAVE_AFTER_KICK = `annex: dave tries to post after the kick ${RUN}`;
const ANNEX_SENTINEL = `annex: after dave came back ${RUN}`;
const CATCH_UP = Array.from({ length: 30 }, (_, i) => `while B was down ${i} ${RUN}`);
const KILL_RUN = Array.from({ length: 120 }, (_, i) => `fan-out across a SIGKILL ${i} ${RUN}`);
const FRESH_B = `bob, to be replayed ${RUN}`;
const FINAL = `final sentinel ${RUN}`;

const LONG_TEST_MS = 240_000;
const KILL_WHEN_B_HAS = 10;

// ---- small readers ------------------------------------------------------------------------------

function postText(e: InboundEvent): string | undefined {
  return e.kind === 'message' && e.action.type === 'post' ? e.action.body.text : undefined;
}

function ghostOf(e: InboundEvent): string | undefined {
  const who = e.kind === 'message' ? e.sender : e.kind === 'membership' || e.kind === 'role' ? e.user : undefined;
  return who && 'userUri' in who ? who.userUri : undefined;
}

function actionOf(e: InboundEvent): MessageAction | undefined {
  return e.kind === 'message' ? e.action : undefined;
}

function storedText(e: StoredRoomEvent): string | undefined {
  const t = e.content?.text;
  return typeof t === 'string' ? t : undefined;
}

/** The texts of plain and reply messages a gateway stored, in its order. */
function storedTexts(events: readonly StoredRoomEvent[]): string[] {
  return events.filter((e) => e.kind === 'text' || e.kind === 'reply').flatMap((e) => storedText(e) ?? []);
}

async function timeline(g: GatewayProcess, roomId: string): Promise<ControlTimelineEntry[]> {
  return g.control.timeline(roomId);
}

/** Wait until the room's platform timeline holds an event matching `pred`. */
function rendered(
  g: GatewayProcess,
  roomId: string,
  pred: (e: InboundEvent) => boolean,
  what: string,
): Promise<InboundEvent> {
  return waitFor(async () => (await timeline(g, roomId)).find((t) => pred(t.event))?.event, {
    what: `${what} on ${g.domain}'s platform`,
  });
}

/** Wait until the gateway stored an event of the room matching `pred`. */
function stored(
  g: GatewayProcess,
  roomUri: string,
  pred: (e: StoredRoomEvent) => boolean,
  what: string,
): Promise<StoredRoomEvent> {
  return waitFor(async () => (await g.provisioning.events(roomUri)).find(pred), {
    what: `${what} stored by ${g.domain}`,
  });
}

function byText(text: string): (e: StoredRoomEvent) => boolean {
  return (e) => storedText(e) === text;
}

function count<T>(items: readonly T[], item: T): number {
  return items.filter((x) => x === item).length;
}

/** `items` in the order they appear, each once: the subsequence of `all` made of members of `items`. */
function orderIn(all: readonly string[], items: readonly string[]): string[] {
  const wanted = new Set(items);
  return all.filter((x) => wanted.has(x));
}

describe('MIMI rooms between two gateway processes (A hub, B follower)', () => {
  let cluster: GatewayCluster | undefined;
  let a: GatewayProcess;
  let b: GatewayProcess;
  let roomUri: string;
  let mirror: string;
  let annexUri: string;
  let annexMirror: string;
  /** Platform event IDs of key messages, on each side. */
  const ids: Record<string, { a?: string; b?: string }> = {};

  beforeAll(async () => {
    cluster = await GatewayCluster.create({ domains: [A, B], taps: [{ from: B, to: A }] });
    await cluster.startAll();
    a = cluster.gateway(A);
    b = cluster.gateway(B);
  });

  afterAll(() => cluster?.dispose());

  const scenario = (body: (c: GatewayCluster) => Promise<void>) => withClusterLogs(() => cluster, body);

  async function mirrorRoomOn(g: GatewayProcess, uri: string): Promise<string> {
    const room = await waitFor(async () => (await g.control.rooms()).find((r) => r.roomId === `mirror:${uri}`), {
      what: `the mirror room of ${uri} on ${g.domain}`,
    });
    return room.roomId;
  }

  async function participantsOn(g: GatewayProcess, uri: string): Promise<Map<string, string>> {
    const room = await g.provisioning.room(uri);
    return new Map((room?.participants ?? []).map((p) => [p.userUri, p.role]));
  }

  async function invite(roomId: string, uri: string, user: UserUri): Promise<void> {
    await a.control.membership(roomId, { userUri: user }, 'invite', { by: ALICE });
    await waitFor(async () => (await participantsOn(a, uri)).has(user), { what: `${user} a participant on A` });
  }

  it(
    'links a legacy room on A as a MIMI room hubbed by A',
    scenario(async () => {
      await a.control.createRoom(ROOM, {
        name: 'Club',
        members: [
          { ...ALICE, role: ParticipantRole.Owner },
          { ...AMY, role: ParticipantRole.Member },
        ],
      });
      roomUri = await a.provisioning.linkRoom(MEMORY_PLATFORM, ROOM);
      expect(roomUri).toMatch(/^mimi:\/\/a\.example\/r\/./);
      const room = await a.provisioning.room(roomUri);
      expect(room).toMatchObject({ roomUri, role: 'hub', hub: A, platform: MEMORY_PLATFORM, roomId: ROOM });
      const participants = await participantsOn(a, roomUri);
      expect(participants.has(ALICE_URI)).toBe(true);
      expect(participants.has(AMY_URI)).toBe(true);
    }),
  );

  it(
    "adds users of B invited on A's platform; B follows the room in a mirror room",
    scenario(async () => {
      const epochBefore = Number((await a.provisioning.room(roomUri))?.epoch);
      await invite(ROOM, roomUri, BOB_URI);
      await invite(ROOM, roomUri, CAROL_URI);
      expect(Number((await a.provisioning.room(roomUri))?.epoch)).toBeGreaterThan(epochBefore);

      const followed = await waitForValue(
        () => b.provisioning.room(roomUri),
        (r) => r !== undefined && r.participants.some((p) => p.userUri === CAROL_URI),
        { what: `B following ${roomUri} with carol` },
      );
      expect(followed).toMatchObject({ role: 'follower', hub: A });
      expect(followed!.participants.map((p) => p.userUri)).toEqual(
        expect.arrayContaining([ALICE_URI, AMY_URI, BOB_URI, CAROL_URI]),
      );
      mirror = await mirrorRoomOn(b, roomUri);
      // B's users appear on A's platform as ghosts that joined the room.
      await waitForValue(
        () => a.control.room(ROOM),
        (r) => [BOB_URI, CAROL_URI].every((u) => r.members.some((m) => 'userUri' in m.user && m.user.userUri === u)),
        { what: "bob's and carol's ghosts in A's room" },
      );
    }),
  );

  it(
    'delivers messages both ways, each shown once on each side',
    scenario(async () => {
      const helloA = await a.control.say(ROOM, ALICE, HELLO_A);
      ids[HELLO_A] = { a: helloA.platformEventId };
      const onB = await stored(b, roomUri, byText(HELLO_A), 'alice’s message');
      expect(onB).toMatchObject({ senderUri: ALICE_URI, kind: 'text' });
      const shownOnB = await rendered(b, mirror, (e) => postText(e) === HELLO_A, 'alice’s message');
      expect(ghostOf(shownOnB)).toBe(ALICE_URI);
      ids[HELLO_A]!.b = shownOnB.platformEventId;

      const helloB = await b.control.say(mirror, BOB, HELLO_B);
      ids[HELLO_B] = { b: helloB.platformEventId };
      const shownOnA = await rendered(a, ROOM, (e) => postText(e) === HELLO_B, 'bob’s message');
      expect(ghostOf(shownOnA)).toBe(BOB_URI);
      ids[HELLO_B]!.a = shownOnA.platformEventId;
      expect(await stored(a, roomUri, byText(HELLO_B), 'bob’s message')).toMatchObject({ senderUri: BOB_URI });
      // The hub fans the message out to B too (the submitter included): B stores it in hub order ...
      const bobOnB = await stored(b, roomUri, byText(HELLO_B), 'bob’s message');
      expect(bobOnB.senderUri).toBe(BOB_URI);
      expect(Number(bobOnB.seq)).toBeGreaterThan(Number(onB.seq));
      // ... without showing it to B's users a second time.
      const mirrorTexts = (await timeline(b, mirror)).map((t) => postText(t.event));
      expect(count(mirrorTexts, HELLO_B)).toBe(1);
      expect(count(mirrorTexts, HELLO_A)).toBe(1);
      expect(
        count(
          (await timeline(a, ROOM)).map((t) => postText(t.event)),
          HELLO_A,
        ),
      ).toBe(1);
    }),
  );

  it(
    'carries replies, edits, reactions and deletes both ways',
    scenario(async () => {
      const messageIdOnB = async (text: string): Promise<string> =>
        (await stored(b, roomUri, byText(text), text)).messageId;
      const helloAId = await messageIdOnB(HELLO_A);
      const helloBId = await messageIdOnB(HELLO_B);

      // B → A: a reply to alice's message.
      await b.control.send(mirror, BOB, {
        type: 'post',
        body: { kind: 'text', text: REPLY_B },
        inReplyTo: { platformEventId: ids[HELLO_A]!.b! },
      });
      const replyOnA = await rendered(a, ROOM, (e) => postText(e) === REPLY_B, 'bob’s reply');
      expect(ghostOf(replyOnA)).toBe(BOB_URI);
      expect(actionOf(replyOnA)).toMatchObject({ inReplyTo: { platformEventId: ids[HELLO_A]!.a } });
      expect((await stored(b, roomUri, byText(REPLY_B), 'bob’s reply')).content).toMatchObject({
        kind: 'reply',
        inReplyTo: helloAId,
      });

      // A → B: a reply to bob's message.
      const replyA = await a.control.send(ROOM, ALICE, {
        type: 'post',
        body: { kind: 'text', text: REPLY_A },
        inReplyTo: { platformEventId: ids[HELLO_B]!.a! },
      });
      const replyOnB = await rendered(b, mirror, (e) => postText(e) === REPLY_A, 'alice’s reply');
      expect(actionOf(replyOnB)).toMatchObject({ inReplyTo: { platformEventId: ids[HELLO_B]!.b } });
      expect((await stored(b, roomUri, byText(REPLY_A), 'alice’s reply')).content).toMatchObject({
        kind: 'reply',
        inReplyTo: helloBId,
      });

      // A → B: alice edits her message.
      await a.control.send(ROOM, ALICE, {
        type: 'edit',
        target: { platformEventId: ids[HELLO_A]!.a! },
        body: { kind: 'text', text: EDITED_A },
      });
      const editOnB = await rendered(
        b,
        mirror,
        (e) => actionOf(e)?.type === 'edit' && ghostOf(e) === ALICE_URI,
        'alice’s edit',
      );
      expect(actionOf(editOnB)).toMatchObject({
        type: 'edit',
        target: { platformEventId: ids[HELLO_A]!.b },
        body: { text: EDITED_A },
      });
      expect(
        (await stored(b, roomUri, (e) => e.kind === 'edit' && storedText(e) === EDITED_A, 'the edit')).content,
      ).toMatchObject({ replaces: helloAId });

      // B → A: bob reacts to alice's message, then takes the reaction back.
      const react = await b.control.send(mirror, BOB, {
        type: 'react',
        target: { platformEventId: ids[HELLO_A]!.b! },
        key: THUMBS,
      });
      const reactOnA = await rendered(
        a,
        ROOM,
        (e) => actionOf(e)?.type === 'react' && ghostOf(e) === BOB_URI,
        'bob’s reaction',
      );
      expect(ghostOf(reactOnA)).toBe(BOB_URI);
      expect(actionOf(reactOnA)).toEqual({
        type: 'react',
        target: { platformEventId: ids[HELLO_A]!.a },
        key: THUMBS,
      });
      expect((await stored(b, roomUri, (e) => e.kind === 'reaction', 'the reaction')).content).toMatchObject({
        inReplyTo: helloAId,
        text: THUMBS,
      });
      await b.control.send(mirror, BOB, { type: 'unreact', reaction: { platformEventId: react.platformEventId } });
      const unreactOnA = await rendered(
        a,
        ROOM,
        (e) => actionOf(e)?.type === 'unreact' && ghostOf(e) === BOB_URI,
        'bob’s unreaction',
      );
      expect(actionOf(unreactOnA)).toEqual({
        type: 'unreact',
        reaction: { platformEventId: reactOnA.platformEventId },
      });

      // B → A: bob edits his message.
      await b.control.send(mirror, BOB, {
        type: 'edit',
        target: { platformEventId: ids[HELLO_B]!.b! },
        body: { kind: 'text', text: EDITED_B },
      });
      const bobEditOnA = await rendered(
        a,
        ROOM,
        (e) => actionOf(e)?.type === 'edit' && ghostOf(e) === BOB_URI,
        'bob’s edit',
      );
      expect(ghostOf(bobEditOnA)).toBe(BOB_URI);
      expect(actionOf(bobEditOnA)).toMatchObject({
        target: { platformEventId: ids[HELLO_B]!.a },
        body: { text: EDITED_B },
      });

      // A → B: alice deletes her reply; B → A: bob deletes his message.
      await a.control.send(ROOM, ALICE, { type: 'delete', target: { platformEventId: replyA.platformEventId } });
      const deleteOnB = await rendered(
        b,
        mirror,
        (e) => actionOf(e)?.type === 'delete' && ghostOf(e) === ALICE_URI,
        'alice’s delete',
      );
      expect(ghostOf(deleteOnB)).toBe(ALICE_URI);
      expect(actionOf(deleteOnB)).toEqual({ type: 'delete', target: { platformEventId: replyOnB.platformEventId } });
      await b.control.send(mirror, BOB, { type: 'delete', target: { platformEventId: ids[HELLO_B]!.b! } });
      const deleteOnA = await rendered(
        a,
        ROOM,
        (e) => actionOf(e)?.type === 'delete' && ghostOf(e) === BOB_URI,
        'bob’s delete',
      );
      expect(ghostOf(deleteOnA)).toBe(BOB_URI);
      expect(actionOf(deleteOnA)).toEqual({ type: 'delete', target: { platformEventId: ids[HELLO_B]!.a } });
      const kinds = (await b.provisioning.events(roomUri)).map((e) => e.kind);
      expect(kinds).toEqual(expect.arrayContaining(['text', 'reply', 'edit', 'reaction', 'unlike', 'delete']));
    }),
  );

  it(
    'changes roles through the port: a role given on A reaches the participant list on both sides and B’s platform',
    scenario(async () => {
      expect((await participantsOn(a, roomUri)).get(BOB_URI)).toBe(ParticipantRole.Member);
      expect((await participantsOn(b, roomUri)).get(BOB_URI)).toBe(ParticipantRole.Member);
      const bobOnB = (await b.control.room(mirror)).members.find((m) => m.id === BOB.userId);
      expect(bobOnB?.role).not.toBe(ParticipantRole.Moderator);
      await a.control.role(ROOM, { userUri: BOB_URI }, ParticipantRole.Moderator, { by: ALICE });
      await waitFor(async () => (await participantsOn(a, roomUri)).get(BOB_URI) === ParticipantRole.Moderator, {
        what: 'bob a moderator on A',
      });
      await waitFor(async () => (await participantsOn(b, roomUri)).get(BOB_URI) === ParticipantRole.Moderator, {
        what: 'bob a moderator in B’s view of the room',
      });
      await waitFor(
        async () =>
          (await b.control.room(mirror)).members.find((m) => m.id === BOB.userId)?.role === ParticipantRole.Moderator,
        { what: 'bob a moderator of the mirror room on B’s platform' },
      );
    }),
  );

  it(
    'a removed member loses access: later messages never reach their provider',
    scenario(async () => {
      await a.control.createRoom(ANNEX, { name: 'Annex', members: [{ ...ALICE, role: ParticipantRole.Owner }] });
      annexUri = await a.provisioning.linkRoom(MEMORY_PLATFORM, ANNEX);
      await invite(ANNEX, annexUri, DAVE_URI);
      annexMirror = await mirrorRoomOn(b, annexUri);
      await a.control.say(ANNEX, ALICE, BEFORE_KICK);
      await rendered(b, annexMirror, (e) => postText(e) === BEFORE_KICK, 'the message before the kick');

      await a.control.membership(ANNEX, { userUri: DAVE_URI }, 'kick', { by: ALICE, reason: 'test' });
      await waitFor(async () => !(await participantsOn(a, annexUri)).has(DAVE_URI), { what: 'dave removed on A' });
      await waitFor(async () => !(await participantsOn(b, annexUri)).has(DAVE_URI), {
        what: 'dave removed in B’s view',
      });
      await a.control.say(ANNEX, ALICE, SECRET);

      // Dave is still in B's mirror room; what he posts there is refused and he is told.
      const attempt = await b.control.say(annexMirror, DAVE, DAVE_AFTER_KICK).then(
        (r) => ({ refusedAtOnce: false, id: r.platformEventId }),
        () => ({ refusedAtOnce: true, id: undefined }),
      );
      if (!attempt.refusedAtOnce) {
        await waitFor(async () => (await b.control.notices()).find((n) => n.about === attempt.id), {
          what: 'a failure notice for dave’s message on B',
        });
      }

      // Dave comes back; what was said meanwhile stays out of B.
      await invite(ANNEX, annexUri, DAVE_URI);
      await a.control.say(ANNEX, ALICE, ANNEX_SENTINEL);
      await stored(b, annexUri, byText(ANNEX_SENTINEL), 'the sentinel after dave came back');
      const mirrorNow = await rendered(
        b,
        await mirrorRoomOn(b, annexUri),
        (e) => postText(e) === ANNEX_SENTINEL,
        'sentinel',
      );
      expect(mirrorNow).toBeDefined();
      const storedOnB = storedTexts(await b.provisioning.events(annexUri));
      expect(storedOnB).not.toContain(SECRET);
      for (const room of await b.control.rooms()) {
        expect((await timeline(b, room.roomId)).map((t) => postText(t.event))).not.toContain(SECRET);
      }
      expect(storedTexts(await a.provisioning.events(annexUri))).toEqual(
        expect.arrayContaining([BEFORE_KICK, SECRET, ANNEX_SENTINEL]),
      );
      expect((await timeline(a, ANNEX)).map((t) => postText(t.event))).not.toContain(DAVE_AFTER_KICK);
    }),
  );

  it(
    'B stopped for a while, then restarted, catches up in order with nothing lost or doubled',
    scenario(async () => {
      const retriedBefore = await readMetric(a.provisioning.adminUrl, 'mimi_outbox_retried_total');
      await b.stop();
      await a.control.sayMany(ROOM, ALICE, CATCH_UP);
      // "A while": until A has tried B and had to schedule retries.
      await waitFor(
        async () => (await readMetric(a.provisioning.adminUrl, 'mimi_outbox_retried_total')) > retriedBefore,
        { what: 'A retrying deliveries to the stopped B' },
      );
      await b.start();
      const events = await waitForValue(
        () => b.provisioning.events(roomUri),
        (evs) => CATCH_UP.every((t) => storedTexts(evs).includes(t)),
        { timeoutMs: 60_000, what: 'B catching up' },
      );
      const texts = storedTexts(events);
      expect(orderIn(texts, CATCH_UP)).toEqual(CATCH_UP);
      const seqs = events.map((e) => Number(e.seq));
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(new Set(seqs).size).toBe(seqs.length);
      const shown = await waitForValue(
        () => timeline(b, mirror),
        (t) => CATCH_UP.every((c) => t.some((e) => postText(e.event) === c)),
        { what: 'B showing what it missed' },
      );
      expect(
        orderIn(
          shown.map((t) => postText(t.event) ?? ''),
          CATCH_UP,
        ),
      ).toEqual(CATCH_UP);
    }),
  );

  it(
    'A killed with SIGKILL during fan-out, then restarted, loses nothing',
    scenario(async () => {
      const sending = a.control.sayMany(ROOM, ALICE, KILL_RUN).then(
        () => 'all acknowledged',
        (e: unknown) => `interrupted: ${String(e)}`,
      );
      const atKill = await waitFor(
        async () => {
          const n = orderIn(storedTexts(await b.provisioning.events(roomUri)), KILL_RUN).length;
          return n >= KILL_WHEN_B_HAS ? n : undefined;
        },
        { intervalMs: 10, what: `B to have ${KILL_WHEN_B_HAS} messages of the run` },
      );
      await a.kill();
      expect(await sending).toMatch(/^(interrupted|all acknowledged)/);
      expect(atKill).toBeLessThan(KILL_RUN.length);

      await a.start();
      // The platform redelivers what A had not acknowledged; then the rest is posted.
      await waitFor(async () => (await a.control.unacknowledged()).length === 0, { what: 'A’s platform redelivery' });
      const onA = new Set((await timeline(a, ROOM)).map((t) => postText(t.event)));
      const missing = KILL_RUN.filter((t) => !onA.has(t));
      if (missing.length > 0) await a.control.sayMany(ROOM, ALICE, missing);

      const onB = await waitForValue(
        () => b.provisioning.events(roomUri),
        (evs) => orderIn(storedTexts(evs), KILL_RUN).length >= KILL_RUN.length,
        { timeoutMs: 120_000, what: 'B to have every message of the run' },
      );
      expect(orderIn(storedTexts(onB), KILL_RUN)).toEqual(KILL_RUN);
      expect(orderIn(storedTexts(await a.provisioning.events(roomUri)), KILL_RUN)).toEqual(KILL_RUN);
      const shown = await waitForValue(
        () => timeline(b, mirror),
        (t) =>
          orderIn(
            t.map((e) => postText(e.event) ?? ''),
            KILL_RUN,
          ).length >= KILL_RUN.length,
        { what: 'B showing every message of the run' },
      );
      expect(
        orderIn(
          shown.map((t) => postText(t.event) ?? ''),
          KILL_RUN,
        ),
      ).toEqual(KILL_RUN);
    }),
    LONG_TEST_MS,
  );

  it(
    'refuses a forged sender of another provider, a non-participant sender and a replayed old-epoch message',
    scenario(async (c) => {
      const tap = c.tap(B, A);
      const submitsBefore = tap.recorded('submitMessage').length;
      await b.control.say(mirror, BOB, FRESH_B);
      await rendered(a, ROOM, (e) => postText(e) === FRESH_B, 'bob’s fresh message');
      const captured: TappedExchange = await waitFor(() => tap.recorded('submitMessage').slice(submitsBefore).at(-1), {
        what: 'B’s submitMessage through the tap',
      });
      expect(
        decodeSubmitOutcome({ status: captured.status, headers: {}, body: captured.responseBody }).response,
      ).toMatchObject({ statusCode: 'accepted' });
      const original: SubmitMessageRequest = decodeAll(new Uint8Array(captured.body), submitMessageRequestCodec);
      expect(original.sendingUri).toBe(BOB_URI);
      const capturedEpoch = inspectMlsMessage(original.appMessage).epoch!;

      const raw = c.rawClient(B, A);
      try {
        const forged = await raw.submitMessage(roomUri, { ...original, sendingUri: ALICE_URI });
        expect(forged.response).toMatchObject({ statusCode: 'notAllowed' });
        const stranger = await raw.submitMessage(roomUri, { ...original, sendingUri: MALLORY_URI });
        expect(stranger.response).toMatchObject({ statusCode: 'notAllowed' });

        // Move the room to a later epoch (carol leaves), then replay bob's message byte for byte.
        await a.control.membership(ROOM, { userUri: CAROL_URI }, 'kick', { by: ALICE });
        const room = await waitForValue(
          () => a.provisioning.room(roomUri),
          (r) => r !== undefined && BigInt(r.epoch) > capturedEpoch,
          { what: 'a new epoch after carol was removed' },
        );
        const replay = decodeSubmitOutcome(await raw.post('submitMessage', roomUri, captured.body));
        expect(replay.response).toEqual({
          protocol: 'mls10',
          statusCode: 'epochTooOld',
          currentEpoch: BigInt(room!.epoch),
        });
      } finally {
        await raw.close();
      }
      const postedOnA = (await timeline(a, ROOM)).map((t) => postText(t.event));
      expect(count(postedOnA, FRESH_B)).toBe(1);
    }),
  );

  it(
    'nothing was doubled anywhere, and both gateways hold the same history in the same order',
    scenario(async () => {
      await a.control.say(ROOM, ALICE, FINAL);
      const onB = await stored(b, roomUri, byText(FINAL), 'the final sentinel');
      expect(onB.senderUri).toBe(ALICE_URI);
      // B renders in hub order: once the sentinel shows, every earlier render has happened.
      await rendered(b, mirror, (e) => postText(e) === FINAL, 'the final sentinel');
      const eventsA = await a.provisioning.events(roomUri);
      const eventsB = await b.provisioning.events(roomUri);
      for (const events of [eventsA, eventsB]) {
        const messageIds = events.map((e) => e.messageId);
        expect(new Set(messageIds).size).toBe(messageIds.length);
        const seqs = events.map((e) => Number(e.seq));
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      }
      // B's history is A's, in A's order (B joined after the room was linked, so it may start later).
      const idsA = eventsA.map((e) => e.messageId);
      const idsB = eventsB.map((e) => e.messageId);
      expect(orderIn(idsA, idsB)).toEqual(idsB);
      const seqOfA = new Map(eventsA.map((e) => [e.messageId, Number(e.seq)]));
      expect(eventsB.every((e) => seqOfA.get(e.messageId) === Number(e.seq))).toBe(true);
      // Each plain message shows once on each platform.
      for (const [g, roomId] of [
        [a, ROOM],
        [b, mirror],
      ] as const) {
        const posts = (await timeline(g, roomId)).flatMap((t) => postText(t.event) ?? []);
        expect(posts.filter((p, i) => posts.indexOf(p) !== i)).toEqual([]);
      }
    }),
  );
});
