/**
 * Issue 4 "Done means", with everything real: a Synapse homeserver started by the test, gateway A
 * (the hub) as a `mimi-gateway start` process whose config has a `matrix:` section pointing at it
 * (registration from our generator, loaded by Synapse), and follower gateway B as a memory-platform
 * gateway process; A and B talk MIMI over mutual TLS with certificates generated at start
 * (test/e2e/support/matrix-mimi-env.ts).
 *
 * Matrix users act through the client-server API only. What B's users see is read from B's
 * platform (the control API), what B stored from B's provisioning API (`GET
 * /provisioning/rooms/:roomUri/events`: follower storage). The tests run in order and build on
 * one room history. Needs a build first: `npx tsc -p tsconfig.build.json`.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Platform, type UserUri } from '../../src/common/ids';
import { type InboundEvent, type MessageAction, ParticipantRole } from '../../src/ports';
import { legacyUserUri } from '../../src/rooms/identity';
import type { NativeUser, StoredRoomEvent } from '../support/e2e-clients';
import { MEMORY_PLATFORM } from '../support/e2e-gateways';
import { waitFor, waitForValue } from '../support/e2e-wait';
import { type ClientEvent, type MatrixUserClient, putTransaction } from '../servers/synapse/synapse-server';
import { FOLLOWER_DOMAIN, HUB_DOMAIN, MatrixMimiEnv } from './support/matrix-mimi-env';

const A = HUB_DOMAIN;
const B = FOLLOWER_DOMAIN;
const RUN = randomUUID().slice(0, 8);

// Native users of B's (memory) platform.
const BOB: NativeUser = { userId: '@bob:b.example', displayName: 'Bob' };
const CAROL: NativeUser = { userId: '@carol:b.example', displayName: 'Carol' };
const DAVE: NativeUser = { userId: '@dave:b.example', displayName: 'Dave' };
const ERIN: NativeUser = { userId: '@erin:b.example', displayName: 'Erin' };
const bUri = (u: NativeUser): UserUri => legacyUserUri(B, MEMORY_PLATFORM, u.userId);
const BOB_URI = bUri(BOB);
const CAROL_URI = bUri(CAROL);
const DAVE_URI = bUri(DAVE);
const ERIN_URI = bUri(ERIN);
/** Native Matrix users are MIMI users of A (identity mapping). */
const mUri = (mxid: string): UserUri => legacyUserUri(A, Platform.Matrix, mxid);

const HELLO_M = `hello **from Matrix** ${RUN}`;
const HELLO_M_HTML = `hello <strong>from Matrix</strong> ${RUN}`;
const REPLY_M = `alice answers herself ${RUN}`;
const EDITED_M = `hello from Matrix, edited ${RUN}`;
const HELLO_B = `hello from B ${RUN}`;
const REPLY_B = `bob replies to alice ${RUN}`;
const EDITED_B = `hello from B, edited ${RUN}`;
const ALICE_NAME = 'Alice Liddell';
const ALICE_RENAMED = 'Alice L.';
const BOB_RENAMED = 'Robert';
const NAMED_M = `alice with a name ${RUN}`;
const RENAMED_M = `alice renamed ${RUN}`;
const NAMED_B = `bob with a name ${RUN}`;
const RENAMED_B = `bob renamed ${RUN}`;
const THUMBS = '👍';
const PARTY = '🎉';
const ERIN_AFTER_KICK = `erin tries after the kick ${RUN}`;
const HOSTILE_HTML =
  '<p>hi <script>alert(1)</script><img src="https://evil.example/x.png" onerror="alert(2)">' +
  '<a href="javascript:alert(3)">click</a> <b onclick="x()">bold</b><iframe src="https://evil.example"></iframe>' +
  '<style>body{}</style>&lt;img src=x&gt;</p>';
const HOSTILE_BODY = `hostile ${RUN}`;
const REPLAYED = `one transaction delivered three times ${RUN}`;
const FORGED = `forged with a wrong hs_token ${RUN}`;
const KILL_RUN = Array.from({ length: 60 }, (_, i) => `across a SIGKILL ${i} ${RUN}`);
const WHILE_DOWN = Array.from({ length: 3 }, (_, i) => `bob while A is down ${i} ${RUN}`);
const MATRIX_WHILE_DOWN = Array.from({ length: 5 }, (_, i) => `alice while A is down ${i} ${RUN}`);
const KILL_WHEN_B_HAS = 10;
const FINAL = `final sentinel ${RUN}`;

const SETUP_TIMEOUT_MS = 600_000;
const STEP_TIMEOUT_MS = 180_000;
const LONG_TIMEOUT_MS = 300_000;
const MATRIX_WAIT_MS = 60_000;

// ---- readers ------------------------------------------------------------------------------------

function storedText(e: StoredRoomEvent): string | undefined {
  const t = e.content?.['text'];
  return typeof t === 'string' ? t : undefined;
}

function externalIdOf(e: StoredRoomEvent): string | undefined {
  const x = e.content?.['externalMessageId'] as { id?: unknown } | null | undefined;
  return typeof x?.id === 'string' ? x.id : undefined;
}

function storedTexts(events: readonly StoredRoomEvent[]): string[] {
  return events.filter((e) => e.kind === 'text' || e.kind === 'reply').flatMap((e) => storedText(e) ?? []);
}

function orderIn(all: readonly string[], items: readonly string[]): string[] {
  const wanted = new Set(items);
  return all.filter((x) => wanted.has(x));
}

function postText(e: InboundEvent): string | undefined {
  return e.kind === 'message' && e.action.type === 'post' ? e.action.body.text : undefined;
}

function actionOf(e: InboundEvent): MessageAction | undefined {
  return e.kind === 'message' ? e.action : undefined;
}

function senderUriOf(e: InboundEvent): string | undefined {
  return e.kind === 'message' && 'userUri' in e.sender ? e.sender.userUri : undefined;
}

function relatesTo(e: ClientEvent): Record<string, unknown> | undefined {
  return e.content['m.relates_to'] as Record<string, unknown> | undefined;
}

function redacts(e: ClientEvent): string | undefined {
  const top = (e as ClientEvent & { redacts?: string }).redacts;
  return (e.content['redacts'] as string | undefined) ?? top;
}

describe('Matrix rooms as MIMI rooms: Synapse, `mimi-gateway start` (A, hub) and a follower gateway (B)', () => {
  let env: MatrixMimiEnv | undefined;
  let alice: MatrixUserClient;
  let mia: MatrixUserClient;
  let noah: MatrixUserClient;
  let roomId: string;
  let roomUri: string;
  let mirror: string;
  let bobGhost: string;
  let aliceUri: UserUri;
  let miaUri: UserUri;
  /** Matrix event IDs and B platform event IDs of key messages. */
  const ids: Record<string, { matrix?: string; b?: string }> = {};

  beforeAll(async () => {
    env = await MatrixMimiEnv.create();
    alice = await env.registerUser('alice');
    mia = await env.registerUser('mia');
    noah = await env.registerUser('noah');
    aliceUri = mUri(alice.userId);
    miaUri = mUri(mia.userId);
    bobGhost = env.ghostOf(BOB_URI);
  }, SETUP_TIMEOUT_MS);

  afterAll(() => env?.dispose(), 120_000);

  const scenario = (body: (e: MatrixMimiEnv) => Promise<void>) => async () => {
    if (!env) throw new Error('the environment was not created (see the beforeAll error)');
    const e = env;
    await e.scenario(() => body(e))();
  };

  // ---- B-side helpers -----------------------------------------------------------------------------

  async function participantsOn(g: 'a' | 'b'): Promise<Map<string, string>> {
    const room = await env![g].provisioning.room(roomUri);
    return new Map((room?.participants ?? []).map((p) => [p.userUri, p.role]));
  }

  function stored(pred: (e: StoredRoomEvent) => boolean, what: string): Promise<StoredRoomEvent> {
    return waitFor(async () => (await env!.b.provisioning.events(roomUri)).find(pred), {
      timeoutMs: MATRIX_WAIT_MS,
      what: `${what} stored by B`,
    });
  }

  function renderedOnB(pred: (e: InboundEvent) => boolean, what: string): Promise<InboundEvent> {
    return waitFor(async () => (await env!.b.control.timeline(mirror)).find((t) => pred(t.event))?.event, {
      timeoutMs: MATRIX_WAIT_MS,
      what: `${what} shown on B's platform`,
    });
  }

  function inRoom(pred: (e: ClientEvent) => boolean): (e: ClientEvent) => boolean {
    return (e) => e.room_id === roomId && pred(e);
  }

  /**
   * Wait until B's view of the room is at A's epoch. A follower's own change is staged on the
   * epoch it knows; one made while a commit of the hub is still on its way to B is refused with
   * `wrongEpoch` and tried again after B caught up (test/integration/rooms-external-join.spec.ts);
   * waiting here keeps each scenario about one change.
   */
  async function bCaughtUp(what: string): Promise<void> {
    await waitFor(
      async () => {
        const [onA, onB] = await Promise.all([env!.a.provisioning.room(roomUri), env!.b.provisioning.room(roomUri)]);
        return onA !== undefined && onB !== undefined && Number(onA.epoch) === Number(onB.epoch);
      },
      { timeoutMs: MATRIX_WAIT_MS, what: `B at A's epoch ${what}` },
    );
  }

  /** Wait until B stored the sentinel alice sends now: every earlier fan-out of the room reached B. */
  async function flushToB(label: string): Promise<StoredRoomEvent[]> {
    const text = `sentinel ${label} ${RUN}`;
    await alice.sendText(roomId, text);
    await stored((e) => storedText(e) === text, `sentinel ${label}`);
    return env!.b.provisioning.events(roomUri);
  }

  // ---- scenarios ---------------------------------------------------------------------------------

  it(
    'an admin links the Matrix room with `!mimi link`: A becomes the hub of a new MIMI room',
    scenario(async (e) => {
      const linked = await e.createLinkedRoom(alice, 'Bridged lobby');
      roomId = linked.roomId;
      roomUri = linked.roomUri;
      expect(String(linked.linkNotice.content['body'])).toMatch(
        /^Linked\. MIMI room mimi:\/\/a\.example\/r\/.* \(hub, hub a\.example\)/,
      );
      const room = await e.a.provisioning.room(roomUri);
      expect(room).toMatchObject({ roomUri, role: 'hub', hub: A, platform: Platform.Matrix, roomId });
      expect(room!.participants).toContainEqual({ userUri: aliceUri, role: ParticipantRole.Owner });
      // The bot is not a participant; the gateway bot of the MLS group is.
      expect(room!.participants.map((p) => p.userUri)).not.toContain(mUri(e.botUserId));
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'a Matrix invite of the ghost of a B user adds that user; B follows the room; the ghost joins',
    scenario(async (e) => {
      for (const user of [BOB_URI, CAROL_URI, ERIN_URI]) await e.inviteRemote(alice, roomId, roomUri, user);
      const followed = await e.b.provisioning.room(roomUri);
      expect(followed).toMatchObject({ role: 'follower', hub: A });
      expect(followed!.participants.map((p) => p.userUri)).toEqual(
        expect.arrayContaining([aliceUri, BOB_URI, CAROL_URI, ERIN_URI]),
      );
      mirror = (await waitFor(async () => (await e.b.control.rooms()).find((r) => r.roomId === `mirror:${roomUri}`), {
        what: `B's mirror room of ${roomUri}`,
      }))!.roomId;
      const joined = await alice.joinedMembers(roomId);
      expect(joined).toEqual(expect.arrayContaining([e.ghostOf(BOB_URI), e.ghostOf(CAROL_URI), e.ghostOf(ERIN_URI)]));
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    "a Matrix user's message, reply, edit, reaction, unreaction and redaction reach B's storage as MIMI content",
    scenario(async (e) => {
      const hello = await alice.sendText(roomId, HELLO_M, {
        format: 'org.matrix.custom.html',
        formatted_body: HELLO_M_HTML,
      });
      ids[HELLO_M] = { matrix: hello };
      const helloOnB = await stored((x) => externalIdOf(x) === hello, 'alice’s message');
      expect(helloOnB).toMatchObject({ senderUri: aliceUri, kind: 'text' });
      expect(helloOnB.content).toMatchObject({
        kind: 'text',
        text: HELLO_M,
        contentType: expect.stringMatching(/^text\/markdown/),
        senderUri: aliceUri,
        roomUri,
        externalMessageId: { id: hello, scope: { kind: 'domain', domain: A } },
      });
      const shown = await renderedOnB((x) => postText(x) === HELLO_M, 'alice’s message');
      expect(senderUriOf(shown)).toBe(aliceUri);
      ids[HELLO_M]!.b = shown.platformEventId;

      // A reply with the (deprecated) fallback quote: B gets the answer only, referring to the message.
      const reply = await alice.sendText(roomId, `> <${alice.userId}> ${HELLO_M}\n\n${REPLY_M}`, {
        'm.relates_to': { 'm.in_reply_to': { event_id: hello } },
      });
      const replyOnB = await stored((x) => externalIdOf(x) === reply, 'alice’s reply');
      expect(replyOnB.content).toMatchObject({ kind: 'reply', text: REPLY_M, inReplyTo: helloOnB.messageId });

      const edit = await alice.send(roomId, 'm.room.message', {
        msgtype: 'm.text',
        body: `* ${EDITED_M}`,
        'm.new_content': { msgtype: 'm.text', body: EDITED_M },
        'm.relates_to': { rel_type: 'm.replace', event_id: hello },
      });
      const editOnB = await stored((x) => externalIdOf(x) === edit, 'alice’s edit');
      expect(editOnB.content).toMatchObject({ kind: 'edit', text: EDITED_M, replaces: helloOnB.messageId });

      const reaction = await alice.send(roomId, 'm.reaction', {
        'm.relates_to': { rel_type: 'm.annotation', event_id: hello, key: THUMBS },
      });
      const reactionOnB = await stored((x) => externalIdOf(x) === reaction, 'alice’s reaction');
      expect(reactionOnB.content).toMatchObject({ kind: 'reaction', text: THUMBS, inReplyTo: helloOnB.messageId });

      const unreact = await alice.redact(roomId, reaction);
      const unreactOnB = await stored((x) => externalIdOf(x) === unreact, 'alice’s unreaction');
      expect(unreactOnB.content).toMatchObject({ kind: 'unlike', replaces: reactionOnB.messageId });

      const redaction = await alice.redact(roomId, reply);
      const deleteOnB = await stored((x) => externalIdOf(x) === redaction, 'alice’s redaction');
      expect(deleteOnB.content).toMatchObject({ kind: 'delete', replaces: replyOnB.messageId });
      const deleteShown = await renderedOnB(
        (x) => actionOf(x)?.type === 'delete' && senderUriOf(x) === aliceUri,
        'alice’s redaction',
      );
      const replyShown = await renderedOnB((x) => postText(x) === REPLY_M, 'alice’s reply');
      expect(actionOf(deleteShown)).toEqual({
        type: 'delete',
        target: { platformEventId: replyShown.platformEventId },
      });

      const kinds = (await e.b.provisioning.events(roomUri)).map((x) => x.kind);
      expect(kinds).toEqual(expect.arrayContaining(['text', 'reply', 'edit', 'reaction', 'unlike', 'delete']));
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    "a B user's message, reply, edit, reaction, unreaction and delete appear in the Matrix room from the user's ghost",
    scenario(async (e) => {
      const helloB = await e.b.control.say(mirror, BOB, HELLO_B);
      ids[HELLO_B] = { b: helloB.platformEventId };
      const seen = await alice.waitForEvent(
        inRoom((x) => x.type === 'm.room.message' && x.content['body'] === HELLO_B),
        MATRIX_WAIT_MS,
      );
      expect(seen.sender).toBe(bobGhost);
      expect(seen.content).toMatchObject({ msgtype: 'm.text', body: HELLO_B });
      ids[HELLO_B]!.matrix = seen.event_id;
      // The hub stored it as Bob's, with the Matrix event as its platform event.
      await waitFor(
        async () =>
          (await e.a.provisioning.events(roomUri)).find(
            (x) => storedText(x) === HELLO_B && x.senderUri === BOB_URI && x.platformEventId === seen.event_id,
          ),
        { what: 'Bob’s message stored by A with its Matrix event ID' },
      );

      await e.b.control.send(mirror, BOB, {
        type: 'post',
        body: { kind: 'text', text: REPLY_B },
        inReplyTo: { platformEventId: ids[HELLO_M]!.b! },
      });
      const reply = await alice.waitForEvent(
        inRoom((x) => x.type === 'm.room.message' && x.content['body'] === REPLY_B),
        MATRIX_WAIT_MS,
      );
      expect(reply.sender).toBe(bobGhost);
      expect(relatesTo(reply)).toEqual({ 'm.in_reply_to': { event_id: ids[HELLO_M]!.matrix } });

      await e.b.control.send(mirror, BOB, {
        type: 'edit',
        target: { platformEventId: helloB.platformEventId },
        body: { kind: 'text', text: EDITED_B },
      });
      const edit = await alice.waitForEvent(
        inRoom(
          (x) => x.sender === bobGhost && x.type === 'm.room.message' && relatesTo(x)?.['rel_type'] === 'm.replace',
        ),
        MATRIX_WAIT_MS,
      );
      expect(edit.sender).toBe(bobGhost);
      expect(relatesTo(edit)).toEqual({ rel_type: 'm.replace', event_id: seen.event_id });
      expect(edit.content['m.new_content']).toMatchObject({ msgtype: 'm.text', body: EDITED_B });

      const react = await e.b.control.send(mirror, BOB, {
        type: 'react',
        target: { platformEventId: ids[HELLO_M]!.b! },
        key: PARTY,
      });
      const reaction = await alice.waitForEvent(
        inRoom((x) => x.type === 'm.reaction' && x.sender === bobGhost),
        MATRIX_WAIT_MS,
      );
      expect(relatesTo(reaction)).toEqual({ rel_type: 'm.annotation', event_id: ids[HELLO_M]!.matrix, key: PARTY });

      await e.b.control.send(mirror, BOB, { type: 'unreact', reaction: { platformEventId: react.platformEventId } });
      const unreact = await alice.waitForEvent(
        inRoom((x) => x.type === 'm.room.redaction' && redacts(x) === reaction.event_id),
        MATRIX_WAIT_MS,
      );
      expect(unreact.sender).toBe(bobGhost);

      await e.b.control.send(mirror, BOB, { type: 'delete', target: { platformEventId: helloB.platformEventId } });
      const deletion = await alice.waitForEvent(
        inRoom((x) => x.type === 'm.room.redaction' && redacts(x) === seen.event_id),
        MATRIX_WAIT_MS,
      );
      expect(deletion.sender).toBe(bobGhost);
      expect((await alice.getEvent(roomId, seen.event_id)).content).toEqual({});

      // Each of Bob's posts shows once in the Matrix room (the echoes were recognised, not posted again).
      const bobPosts = alice.seen.filter((x) => x.room_id === roomId && x.sender === bobGhost);
      expect(bobPosts.filter((x) => x.content['body'] === HELLO_B)).toHaveLength(1);
      expect(bobPosts.filter((x) => x.content['body'] === REPLY_B)).toHaveLength(1);
      expect(bobPosts.filter((x) => x.type === 'm.reaction')).toHaveLength(1);
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'display names cross both ways, and a rename shows with the next message (senderProfile, docs/EXTENSIONS.md)',
    scenario(async (e) => {
      // Synapse copies a profile change into the room's member event in the background: wait for it.
      const setName = async (name: string) => {
        await alice.request('PUT', `/_matrix/client/v3/profile/${encodeURIComponent(alice.userId)}/displayname`, {
          displayname: name,
        });
        await alice.waitForEvent(
          inRoom(
            (x) => x.type === 'm.room.member' && x.state_key === alice.userId && x.content['displayname'] === name,
          ),
          MATRIX_WAIT_MS,
        );
      };
      const sentAs = async (text: string): Promise<unknown> => {
        await alice.sendText(roomId, text);
        const shown = await renderedOnB((x) => postText(x) === text, text);
        return shown.kind === 'message' ? shown.sender : undefined;
      };
      // Matrix → B: alice's display name is her ghost's name on B, and follows her rename.
      await setName(ALICE_NAME);
      expect(await sentAs(NAMED_M)).toEqual({ userUri: aliceUri, displayName: ALICE_NAME });
      const named = await stored((x) => storedText(x) === NAMED_M, 'alice’s named message');
      expect(named.content?.['extensions']).toContainEqual({
        key: 'org.mimi-gateway.senderProfile',
        value: { map: [['name', ALICE_NAME]] },
      });
      await setName(ALICE_RENAMED);
      expect(await sentAs(RENAMED_M)).toEqual({ userUri: aliceUri, displayName: ALICE_RENAMED });

      // B → Matrix: Bob's ghost carries his name, in its profile and in its room member event.
      const ghostName = async () =>
        (
          await alice.request<{ displayname?: string }>(
            'GET',
            `/_matrix/client/v3/profile/${encodeURIComponent(bobGhost)}/displayname`,
          )
        ).displayname;
      const memberName = async () =>
        (await alice.getState<{ displayname?: string }>(roomId, 'm.room.member', bobGhost)).displayname;
      await e.b.control.say(mirror, BOB, NAMED_B);
      await alice.waitForEvent(
        inRoom((x) => x.content['body'] === NAMED_B && x.sender === bobGhost),
        MATRIX_WAIT_MS,
      );
      expect(await ghostName()).toBe(BOB.displayName);
      expect(await memberName()).toBe(BOB.displayName);
      await e.b.control.say(mirror, { ...BOB, displayName: BOB_RENAMED }, RENAMED_B);
      await alice.waitForEvent(
        inRoom((x) => x.content['body'] === RENAMED_B && x.sender === bobGhost),
        MATRIX_WAIT_MS,
      );
      expect(await ghostName()).toBe(BOB_RENAMED);
      await waitFor(async () => (await memberName()) === BOB_RENAMED, {
        timeoutMs: MATRIX_WAIT_MS,
        what: 'the ghost’s member event renamed',
      });
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'nothing is lost in silence: `!mimi link` in an encrypted room is refused with the reason; an upgraded linked room is told',
    scenario(async (e) => {
      const bot = e.botUserId;
      const botJoined = (id: string) => (x: ClientEvent) =>
        x.room_id === id && x.type === 'm.room.member' && x.state_key === bot && x.content['membership'] === 'join';
      const answerTo = (id: string, command: string) => (x: ClientEvent) =>
        x.room_id === id &&
        x.sender === bot &&
        x.content['msgtype'] === 'm.notice' &&
        (relatesTo(x)?.['m.in_reply_to'] as { event_id?: string } | undefined)?.event_id === command;

      const secret = await alice.createRoom({
        name: `Encrypted ${RUN}`,
        preset: 'private_chat',
        invite: [bot],
        power_level_content_override: { users: { [bot]: 100 } },
        initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
      });
      await alice.waitForEvent(botJoined(secret), MATRIX_WAIT_MS);
      const command = await alice.sendText(secret, '!mimi link');
      const answer = await alice.waitForEvent(answerTo(secret, command), MATRIX_WAIT_MS);
      expect(String(answer.content['body'])).toMatch(
        /^This room is end-to-end encrypted \(m\.megolm\.v1\.aes-sha2\)\. .*does not link encrypted rooms/,
      );
      expect((await e.a.provisioning.rooms()).map((r) => r.roomId)).not.toContain(secret);

      // A linked room upgraded to a new version: the old room says where the conversation went.
      const old = await e.createLinkedRoom(alice, `Upgraded ${RUN}`);
      const { replacement_room: upgraded } = await alice.request<{ replacement_room: string }>(
        'POST',
        `/_matrix/client/v3/rooms/${encodeURIComponent(old.roomId)}/upgrade`,
        { new_version: '12' },
      );
      const tombstone = await alice.waitForEvent(
        (x) => x.room_id === old.roomId && x.type === 'm.room.tombstone',
        MATRIX_WAIT_MS,
      );
      const told = await alice.waitForEvent(answerTo(old.roomId, tombstone.event_id), MATRIX_WAIT_MS);
      // The replacement is invite-only, so the bot asks to be invited there (room-upgrade.ts); the
      // headline suite follows an upgrade it can join.
      expect(String(told.content['body'])).toContain(
        `This room was upgraded to ${upgraded}, which the MIMI bridge bot cannot join`,
      );
      expect(String(told.content['body'])).toContain('the MIMI link then moves there by itself');
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'joins, leaves, kicks and power-level changes cross both ways',
    scenario(async (e) => {
      const onB = (user: string, role?: ParticipantRole) => async () => {
        const p = await participantsOn('b');
        return role === undefined ? !p.has(user) : p.get(user) === role;
      };
      const onA = (user: string, role?: ParticipantRole) => async () => {
        const p = await participantsOn('a');
        return role === undefined ? !p.has(user) : p.get(user) === role;
      };
      const mirrorMember = async (id: string) => (await e.b.control.room(mirror)).members.find((m) => m.id === id);
      const ghostMember = async (uri: string) =>
        (await e.b.control.room(mirror)).members.find((m) => 'userUri' in m.user && m.user.userUri === uri);

      // Matrix → B: Matrix users join.
      const noahUri = mUri(noah.userId);
      for (const user of [mia, noah]) {
        await alice.invite(roomId, user.userId);
        await user.join(roomId);
      }
      await waitFor(onB(miaUri, ParticipantRole.Member), { what: 'mia a member in B’s view' });
      await waitFor(onB(noahUri, ParticipantRole.Member), { what: 'noah a member in B’s view' });
      await waitFor(async () => (await ghostMember(miaUri)) !== undefined, { what: 'mia’s ghost on B’s platform' });

      // Matrix → B: power levels of a Matrix user and of a ghost.
      // Moderators may change power levels here (the room's roles_list follows: canChangeUserRole at 50).
      const pl = await alice.getState<{ users: Record<string, number>; events?: Record<string, number> }>(
        roomId,
        'm.room.power_levels',
      );
      await alice.setState(roomId, 'm.room.power_levels', '', {
        ...pl,
        users: { ...pl.users, [mia.userId]: 50, [bobGhost]: 50 },
        events: { ...pl.events, 'm.room.power_levels': 50 },
      });
      await waitFor(onB(miaUri, ParticipantRole.Moderator), { what: 'mia a moderator in B’s view' });
      await waitFor(onB(BOB_URI, ParticipantRole.Moderator), { what: 'bob a moderator in B’s view' });
      await waitFor(async () => (await ghostMember(miaUri))?.role === ParticipantRole.Moderator, {
        what: 'mia’s ghost a moderator on B’s platform',
      });
      await waitFor(async () => (await mirrorMember(BOB.userId))?.role === ParticipantRole.Moderator, {
        what: 'bob a moderator of the mirror room on B’s platform',
      });

      // B → Matrix: a B user joins the mirror room; their ghost joins the Matrix room.
      await bCaughtUp('before dave joins');
      const daveGhost = e.ghostOf(DAVE_URI);
      await e.b.control.membership(mirror, DAVE, 'join');
      await waitFor(onA(DAVE_URI, ParticipantRole.Member), { what: 'dave a member on A' });
      await alice.waitForEvent(
        inRoom((x) => x.type === 'm.room.member' && x.state_key === daveGhost && x.content['membership'] === 'join'),
        MATRIX_WAIT_MS,
      );

      // B → Matrix: a B moderator makes another B user a moderator; the ghost's power level follows.
      const carolGhost = e.ghostOf(CAROL_URI);
      await bCaughtUp('before bob makes carol a moderator');
      await e.b.control.role(mirror, CAROL, ParticipantRole.Moderator, { by: BOB });
      await waitFor(onA(CAROL_URI, ParticipantRole.Moderator), { what: 'carol a moderator on A' });
      await waitFor(
        async () =>
          (await alice.getState<{ users: Record<string, number> }>(roomId, 'm.room.power_levels')).users[carolGhost] ===
          50,
        { what: 'carol’s ghost at power level 50' },
      );

      // B → Matrix: a B moderator kicks a B user; the bridge bot kicks the ghost, naming who did it.
      await bCaughtUp('before bob kicks dave');
      await e.b.control.membership(mirror, DAVE, 'kick', { by: BOB });
      await waitFor(onA(DAVE_URI), { what: 'dave removed on A' });
      const daveKicked = await alice.waitForEvent(
        inRoom((x) => x.type === 'm.room.member' && x.state_key === daveGhost && x.content['membership'] === 'leave'),
        MATRIX_WAIT_MS,
      );
      expect(daveKicked.sender).toBe(e.botUserId);
      expect(String(daveKicked.content['reason'])).toContain(BOB_URI);
      expect(await alice.joinedMembers(roomId)).not.toContain(daveGhost);

      // B → Matrix: a B moderator kicks a Matrix user of lower role; the bridge bot kicks them in Matrix.
      await bCaughtUp('before bob kicks noah');
      await e.b.control.membership(mirror, { userUri: noahUri }, 'kick', { by: BOB });
      await waitFor(onA(noahUri), { what: 'noah removed on A' });
      const noahKicked = await alice.waitForEvent(
        inRoom((x) => x.type === 'm.room.member' && x.state_key === noah.userId && x.content['membership'] === 'leave'),
        MATRIX_WAIT_MS,
      );
      expect(noahKicked.sender).toBe(e.botUserId);
      expect(await alice.joinedMembers(roomId)).not.toContain(noah.userId);

      // B → Matrix: a B user leaves; her ghost leaves on its own.
      await bCaughtUp('before carol leaves');
      await e.b.control.membership(mirror, CAROL, 'leave');
      await waitFor(onA(CAROL_URI), { what: 'carol removed on A' });
      const carolLeft = await alice.waitForEvent(
        inRoom((x) => x.type === 'm.room.member' && x.state_key === carolGhost && x.content['membership'] === 'leave'),
        MATRIX_WAIT_MS,
      );
      expect(carolLeft.sender).toBe(carolGhost);
      expect(await alice.joinedMembers(roomId)).not.toContain(carolGhost);

      // Matrix → B: the admin kicks a ghost; B removes its user, who can no longer post.
      await alice.kick(roomId, e.ghostOf(ERIN_URI), 'testing kicks');
      await waitFor(onA(ERIN_URI), { what: 'erin removed on A' });
      await waitFor(onB(ERIN_URI), { what: 'erin removed in B’s view' });
      const attempt = await e.b.control.say(mirror, ERIN, ERIN_AFTER_KICK).then(
        (r) => r.platformEventId,
        () => undefined,
      );
      if (attempt !== undefined) {
        await waitFor(async () => (await e.b.control.notices()).find((n) => n.about === attempt), {
          what: 'a failure notice for erin’s message on B',
        });
      }

      // Matrix → B: a Matrix user leaves.
      await mia.leave(roomId);
      await waitFor(onB(miaUri), { what: 'mia removed in B’s view' });
      await waitFor(async () => (await ghostMember(miaUri)) === undefined, { what: 'mia’s ghost gone on B' });

      const aView = await participantsOn('a');
      const bView = await participantsOn('b');
      expect([...bView.entries()].sort()).toEqual([...aView.entries()].sort());
      const events = await flushToB('after membership');
      expect(storedTexts(events)).not.toContain(ERIN_AFTER_KICK);
      expect(alice.seen.filter((x) => x.room_id === roomId && x.content['body'] === ERIN_AFTER_KICK)).toHaveLength(0);
    }),
    LONG_TIMEOUT_MS,
  );

  it(
    'hostile HTML from Matrix reaches B as sanitised Markdown',
    scenario(async () => {
      const id = await alice.sendText(roomId, HOSTILE_BODY, {
        format: 'org.matrix.custom.html',
        formatted_body: HOSTILE_HTML,
      });
      const onB = await stored((x) => externalIdOf(x) === id, 'the hostile message');
      const text = storedText(onB) ?? '';
      expect(onB.content).toMatchObject({ kind: 'text', contentType: expect.stringMatching(/^text\/markdown/) });
      expect(text).toContain('**bold**');
      expect(text).not.toMatch(/<[a-z!/]|javascript:|onerror|onclick|alert\(|evil\.example|body\{\}/i);
      const shown = await renderedOnB(
        (x) => senderUriOf(x) === aliceUri && postText(x) === text,
        'the hostile message',
      );
      const body = actionOf(shown)?.type === 'post' ? (actionOf(shown) as { body: { markdown?: string } }).body : {};
      expect(body.markdown ?? '').not.toMatch(/<[a-z!/]/i);
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'a replayed transaction has no second effect; a wrong hs_token is refused with 403',
    scenario(async (e) => {
      const hsToken = e.tokens.hsToken;
      const auth = { header: `Bearer ${hsToken}` };
      const txnUrl = e.appserviceUrl;

      // A real event Synapse delivered long ago, pushed again in new transactions (twice in one).
      const original = await alice.getEvent(roomId, ids[HELLO_M]!.matrix!);
      const replayedOld = await putTransaction(txnUrl, `replay-old-${RUN}`, [original, original], auth);
      expect(replayedOld.status).toBe(200);

      // A new event in one transaction that arrives three times (twice at once, once later).
      const fresh = {
        event_id: `$replayed-${RUN}`,
        room_id: roomId,
        sender: alice.userId,
        type: 'm.room.message',
        origin_server_ts: Date.now(),
        content: { msgtype: 'm.text', body: REPLAYED },
        unsigned: {},
      };
      const txnId = `replay-${RUN}`;
      const [first, second] = await Promise.all([
        putTransaction(txnUrl, txnId, [fresh], auth),
        putTransaction(txnUrl, txnId, [fresh], auth),
      ]);
      const third = await putTransaction(txnUrl, txnId, [fresh], auth);
      expect([first.status, second.status, third.status]).toEqual([200, 200, 200]);

      // A transaction with the wrong token, and one with none.
      const forged = { ...fresh, event_id: `$forged-${RUN}`, content: { msgtype: 'm.text', body: FORGED } };
      const wrong = await putTransaction(txnUrl, `forged-${RUN}`, [forged], { header: `Bearer ${hsToken}x` });
      expect(wrong).toEqual({ status: 403, body: expect.objectContaining({ errcode: 'M_FORBIDDEN' }) });
      const none = await putTransaction(txnUrl, `forged-none-${RUN}`, [forged], {});
      expect(none.status).toBe(401);
      const queryOnly = await putTransaction(txnUrl, `forged-query-${RUN}`, [forged], { query: hsToken });
      expect(queryOnly.status).toBe(401);

      const events = await flushToB('after replays');
      expect(events.filter((x) => storedText(x) === REPLAYED)).toHaveLength(1);
      expect(events.filter((x) => externalIdOf(x) === ids[HELLO_M]!.matrix)).toHaveLength(1);
      expect(events.filter((x) => storedText(x) === FORGED)).toHaveLength(0);
      const onA = await e.a.provisioning.events(roomUri);
      expect(onA.filter((x) => storedText(x) === REPLAYED)).toHaveLength(1);
      expect(onA.filter((x) => storedText(x) === FORGED)).toHaveLength(0);
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'A killed with SIGKILL mid-stream and restarted loses no message and doubles none',
    scenario(async (e) => {
      const sending = (async () => {
        for (const text of KILL_RUN) await alice.sendText(roomId, text);
      })().then(
        () => undefined,
        (err: unknown) => err,
      );
      const atKill = await waitFor(
        async () => {
          const n = orderIn(storedTexts(await e.b.provisioning.events(roomUri)), KILL_RUN).length;
          return n >= KILL_WHEN_B_HAS ? n : undefined;
        },
        { intervalMs: 20, timeoutMs: MATRIX_WAIT_MS, what: `B to have ${KILL_WHEN_B_HAS} messages of the run` },
      );
      const killed = await e.a.kill();
      expect(killed.signal).toBe('SIGKILL');
      expect(atKill).toBeLessThan(KILL_RUN.length);

      // While A is down: Matrix keeps accepting alice's messages (queued by Synapse for the
      // appservice), B's user keeps posting (queued by B for the hub).
      for (const text of WHILE_DOWN) await e.b.control.say(mirror, BOB, text);
      expect(await sending).toBeUndefined();
      for (const text of MATRIX_WHILE_DOWN) await alice.sendText(roomId, text);
      await e.a.start();

      const sequence = [...KILL_RUN, ...MATRIX_WHILE_DOWN];
      const complete = await waitForValue(
        () => e.b.provisioning.events(roomUri),
        (evs) => orderIn(storedTexts(evs), sequence).length >= sequence.length,
        { timeoutMs: 180_000, intervalMs: 250, what: 'B to have every message of the run (Synapse redelivers)' },
      );
      expect(orderIn(storedTexts(complete), sequence)).toEqual(sequence);
      expect(orderIn(storedTexts(await e.a.provisioning.events(roomUri)), sequence)).toEqual(sequence);
      // What made this happen: Synapse retried the transactions A had not acknowledged.
      const synapseLog = readFileSync(join(e.synapse.dir, 'homeserver.log'), 'utf8');
      expect(synapseLog).toMatch(/Retrying transaction \d+ for AS ID mimi-gateway/);

      // Bob's messages sent while A was down reach Matrix, each once, in order.
      for (const text of WHILE_DOWN) {
        await alice.waitForEvent(
          inRoom((x) => x.sender === bobGhost && x.content['body'] === text),
          120_000,
        );
      }
      const finalFromB = `${FINAL} from B`;
      await e.b.control.say(mirror, BOB, finalFromB);
      await alice.waitForEvent(
        inRoom((x) => x.sender === bobGhost && x.content['body'] === finalFromB),
        120_000,
      );
      const bobBodies = alice.seen
        .filter((x) => x.room_id === roomId && x.sender === bobGhost && x.type === 'm.room.message')
        .map((x) => String(x.content['body']));
      expect(orderIn(bobBodies, WHILE_DOWN)).toEqual(WHILE_DOWN);
    }),
    LONG_TIMEOUT_MS,
  );

  it(
    'nothing was doubled anywhere, and both gateways hold the same history in the same order',
    scenario(async (e) => {
      await alice.sendText(roomId, FINAL);
      await stored((x) => storedText(x) === FINAL, 'the final sentinel');
      await renderedOnB((x) => postText(x) === FINAL, 'the final sentinel');
      const eventsA = await e.a.provisioning.events(roomUri);
      const eventsB = await e.b.provisioning.events(roomUri);
      for (const events of [eventsA, eventsB]) {
        const messageIds = events.map((x) => x.messageId);
        expect(new Set(messageIds).size).toBe(messageIds.length);
        const external = events.flatMap((x) => externalIdOf(x) ?? []);
        expect(new Set(external).size).toBe(external.length);
        const seqs = events.map((x) => Number(x.seq));
        expect(seqs).toEqual([...seqs].sort((p, q) => p - q));
      }
      const idsA = eventsA.map((x) => x.messageId);
      const idsB = eventsB.map((x) => x.messageId);
      expect(orderIn(idsA, idsB)).toEqual(idsB);
      // Every message B holds was accepted by A (and vice versa since B joined before the first one).
      expect(new Set(idsB)).toEqual(new Set(idsA));
      // Each post shows once on B's platform and each of Bob's posts once in the Matrix room.
      const posts = (await e.b.control.timeline(mirror)).flatMap((t) => postText(t.event) ?? []);
      expect(posts.filter((p, i) => posts.indexOf(p) !== i)).toEqual([]);
      const bobBodies = alice.seen
        .filter((x) => x.room_id === roomId && x.sender === bobGhost && x.type === 'm.room.message')
        .filter((x) => relatesTo(x)?.['rel_type'] !== 'm.replace')
        .map((x) => String(x.content['body']));
      expect(bobBodies.filter((p, i) => bobBodies.indexOf(p) !== i)).toEqual([]);
    }),
    STEP_TIMEOUT_MS,
  );
});
