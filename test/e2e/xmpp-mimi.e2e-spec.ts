/**
 * Issue 5 "Done means", everything real: a Prosody started here (with our generated component
 * section), gateway A as a real `mimi-gateway start` process whose config links a MUC in
 * component mode (the MUC's MIMI room is hubbed by A), follower gateway B as a memory-platform
 * gateway process, mutual TLS between them with certificates generated at start, and native XMPP
 * users as real @xmpp/client connections (test/e2e/support/xmpp-mimi-env.ts).
 *
 * The tests run in order and build on one room history. They assert on what XMPP users receive,
 * on what each gateway stored (B's storage = `GET /provisioning/rooms/:roomUri/events`) and on
 * B's platform (the control API). Needs `npx tsc -p tsconfig.build.json` first.
 *
 *   npx jest --config test/jest-e2e.config.js --runInBand test/e2e/xmpp-mimi
 */
import { randomUUID } from 'node:crypto';
import { InboundEvent, MessageAction, ParticipantRole } from '../../src/ports';
import { NS } from '../../bridges/xmpp/protocol/namespaces';
import { puppetJid } from '../../bridges/xmpp/protocol/puppet-jid';
import { xml, type XmlElement } from '../../bridges/xmpp/protocol/xml';
import type { XmppTestUser } from '../servers/prosody/xmpp-test-user';
import type { ControlMember, NativeUser, StoredRoomEvent } from '../support/e2e-clients';
import { waitFor, waitForValue } from '../support/e2e-wait';
import {
  COMPONENT_DOMAIN,
  HUB_DOMAIN,
  RELAY_HUB_DOMAIN,
  RELAY_NICK,
  XmppMimiEnv,
  invitePuppet,
  memoryUserUri,
  mucJid,
  relayJid,
  xmppUserUri,
} from './support/xmpp-mimi-env';

const RUN = randomUUID().slice(0, 8);
const ROOM = mucJid('lounge');

// Native XMPP users (Prosody accounts) and their nicks.
const ALICE = { username: 'alice', password: 'alice-pw' };
const AMY = { username: 'amy', password: 'amy-pw' };
const DAVE = { username: 'dave', password: 'dave-pw' };
const MALLORY = { username: 'mallory', password: 'mallory-pw' };
const OSCAR = { username: 'oscar', password: 'oscar-pw' };
const RELAY = { username: 'relay', password: 'relay-pw' };
const ALICE_NICK = 'alice';
const AMY_NICK = 'amy';
const DAVE_NICK = 'dave';

// Users of B's platform. The MIMI participant list carries no display names, so a puppet's nick
// is the readable local part of its MIMI URI (bridges/xmpp README "Nicks").
const BOB: NativeUser = { userId: 'bob' };
const CAROL: NativeUser = { userId: 'carol' };
const ERIN: NativeUser = { userId: 'erin' };
const FRANK: NativeUser = { userId: 'frank' };
const GRACE: NativeUser = { userId: 'grace', displayName: 'Grace Hopper' };
const GRACE_NICK = 'memory:grace';
const GRACE_RENAMED = 'Amazing Grace';
const AMY_RENAMED = 'Amy Pond';
const BOB_NICK = 'memory:bob';
const CAROL_NICK = 'memory:carol';
const ERIN_NICK = 'memory:erin';
const FRANK_NICK = 'memory:frank';
/** The visible suffix a puppet gets when a native holds its nick or a look-alike of it. */
const MOVED_ASIDE = ' (mimi)';
/** "memory:bob" with a Cyrillic о: a look-alike of Bob's puppet nick. */
const LOOKALIKE_BOB_NICK = 'mem\u043ery:bob';

const ALICE_JID = `${ALICE.username}@localhost`;
const AMY_JID = `${AMY.username}@localhost`;
const DAVE_JID = `${DAVE.username}@localhost`;
const MALLORY_JID = `${MALLORY.username}@localhost`;
const ALICE_URI = xmppUserUri(HUB_DOMAIN, ALICE_JID);
const AMY_URI = xmppUserUri(HUB_DOMAIN, AMY_JID);
const DAVE_URI = xmppUserUri(HUB_DOMAIN, DAVE_JID);
const MALLORY_URI = xmppUserUri(HUB_DOMAIN, MALLORY_JID);
const BOB_URI = memoryUserUri(BOB.userId);
const CAROL_URI = memoryUserUri(CAROL.userId);
const ERIN_URI = memoryUserUri(ERIN.userId);
const FRANK_URI = memoryUserUri(FRANK.userId);
const GRACE_URI = memoryUserUri(GRACE.userId);

const HELLO = `hello from the MUC ${RUN}`;
const EDITED = `hello from the MUC, corrected ${RUN}`;
const REPLY = `amy answers alice ${RUN}`;
const OOPS = `alice will retract this ${RUN}`;
const HELLO_B = `hello from B ${RUN}`;
const EDITED_B = `hello from B, edited ${RUN}`;
const REPLY_B = `bob answers alice ${RUN}`;
const FROM_MALLORY = `mallory, nicknamed like frank ${RUN}`;
const FROM_FRANK = `the real frank ${RUN}`;
const BOB_MOVED = `bob after his nick moved aside ${RUN}`;
const RELAYED = `alice, relayed to C ${RUN}`;
const RELAYED_EDIT = `alice, relayed to C, corrected ${RUN}`;
const FINAL = `final sentinel ${RUN}`;
const NAMED_B = `grace with a name ${RUN}`;
const RENAMED_B = `grace renamed ${RUN}`;
const NAMED_X = `amy with her nick ${RUN}`;
const RENAMED_X = `amy after a nick change ${RUN}`;
const STYLED_MD = `styled **bold** and ~~gone~~ ${RUN}`;
const STYLED_XMPP = `styled *bold* and ~gone~ ${RUN}`;
const WAVES = `waves ${RUN}`;
const STYLED_FROM_XMPP = `a *strong* word ${RUN}`;
const STYLED_FROM_XMPP_MD = `a **strong** word ${RUN}`;
const NODS = `nods ${RUN}`;
const THUMBS = '👍';
const PARTY = '🎉';

const LONG_TEST_MS = 300_000;
/** Messages per side in the outage runs, and how many of alice's B stored before the outage. */
const RUN_MESSAGES = 40;
const B_RUN_MESSAGES = 20;
const OUTAGE_AFTER = 8;
const MAX_SEND_ATTEMPTS = 3;

// ---- readers ------------------------------------------------------------------------------------

type Provisioned = Pick<XmppMimiEnv['b'], 'provisioning'>;

function storedText(e: StoredRoomEvent): string | undefined {
  const t = e.content?.text;
  return typeof t === 'string' ? t : undefined;
}

function byText(text: string): (e: StoredRoomEvent) => boolean {
  return (e) => storedText(e) === text;
}

/** Texts of plain and reply messages a gateway stored, in its order. */
function storedTexts(events: readonly StoredRoomEvent[]): string[] {
  return events.filter((e) => e.kind === 'text' || e.kind === 'reply').flatMap((e) => storedText(e) ?? []);
}

function stored(
  g: Provisioned,
  roomUri: string,
  pred: (e: StoredRoomEvent) => boolean,
  what: string,
): Promise<StoredRoomEvent> {
  return waitFor(async () => (await g.provisioning.events(roomUri)).find(pred), { what: `${what} stored` });
}

async function participants(g: Provisioned, roomUri: string): Promise<Map<string, string>> {
  const room = await g.provisioning.room(roomUri);
  return new Map((room?.participants ?? []).map((p) => [p.userUri, p.role]));
}

/** Wait until `user` has `role` in the room's participant list on `g` (undefined: is not in it). */
async function roleBecomes(
  g: Provisioned,
  roomUri: string,
  user: string,
  role: ParticipantRole | undefined,
): Promise<void> {
  await waitFor(async () => (await participants(g, roomUri)).get(user) === role, {
    what: `${user} ${role ?? 'absent'} in ${roomUri}`,
  });
}

function postText(e: InboundEvent): string | undefined {
  return e.kind === 'message' && e.action.type === 'post' ? e.action.body.text : undefined;
}

function actionOf(e: InboundEvent): MessageAction | undefined {
  return e.kind === 'message' ? e.action : undefined;
}

function ghostOf(e: InboundEvent): string | undefined {
  const who = e.kind === 'message' ? e.sender : e.kind === 'membership' || e.kind === 'role' ? e.user : undefined;
  return who && 'userUri' in who ? who.userUri : undefined;
}

function count<T>(items: readonly T[], item: T): number {
  return items.filter((x) => x === item).length;
}

/** `items` in the order they appear in `all`. */
function orderIn(all: readonly string[], items: readonly string[]): string[] {
  const wanted = new Set(items);
  return all.filter((x) => wanted.has(x));
}

/** Wait until B's mirror room shows an event matching `pred`. */
function rendered(
  e: XmppMimiEnv,
  roomId: string,
  pred: (ev: InboundEvent) => boolean,
  what: string,
): Promise<InboundEvent> {
  return waitFor(async () => (await e.b.control.timeline(roomId)).find((t) => pred(t.event))?.event, {
    what: `${what} on B's platform`,
  });
}

/** Whether a member of B's mirror room matching `match` has `role` on B's platform. */
async function memberRoleOnB(
  e: XmppMimiEnv,
  mirrorRoom: string,
  match: (user: ControlMember['user']) => boolean,
  role: ParticipantRole,
): Promise<boolean> {
  const room = await e.b.control.room(mirrorRoom);
  return room.members.some((m) => match(m.user) && m.role === role);
}

/**
 * Wait until B's member clients are at A's epoch. A follower's `/update` from an older epoch is
 * refused with wrongEpoch and not retried (src/rooms README "Not done"), so a change made on B
 * right after a change on A has to wait for A's commit to reach B.
 */
async function epochsSettled(e: XmppMimiEnv, roomUri: string): Promise<void> {
  await waitFor(
    async () => {
      const [onA, onB] = await Promise.all([e.a.provisioning.room(roomUri), e.b.provisioning.room(roomUri)]);
      return onA !== undefined && onB !== undefined && Number(onA.epoch) === Number(onB.epoch);
    },
    { what: `B at A's epoch of ${roomUri}` },
  );
}

// ---- XMPP stanzas -------------------------------------------------------------------------------

function occupant(nick: string): string {
  return `${ROOM}/${nick}`;
}

function stanzaIdOf(el: XmlElement): string | undefined {
  return el.getChildren('stanza-id', NS.SID).find((s) => s.attrs.by === ROOM)?.attrs.id;
}

function mucItem(el: XmlElement): XmlElement | undefined {
  return el.getChild('x', NS.MUC_USER)?.getChild('item');
}

function statusCodes(el: XmlElement): string[] {
  return (el.getChild('x', NS.MUC_USER)?.getChildren('status') ?? []).map((s) => s.attrs.code ?? '');
}

function isPresence(el: XmlElement, nick: string, type?: 'unavailable'): boolean {
  return el.name === 'presence' && el.attrs.from === occupant(nick) && el.attrs.type === type;
}

function isGroupchatFrom(el: XmlElement, nick: string): boolean {
  return el.name === 'message' && el.attrs.type === 'groupchat' && el.attrs.from === occupant(nick);
}

/** XEP-0444: the full set of `emojis` on message `stanzaId` (a store hint so the archive keeps it). */
function reactions(stanzaId: string, ...emojis: string[]): XmlElement[] {
  return [
    xml(
      'reactions',
      { xmlns: NS.REACTIONS, id: stanzaId },
      emojis.map((e) => xml('reaction', {}, e)),
    ),
    xml('store', { xmlns: NS.HINTS }),
  ];
}

describe('XMPP MUC ↔ MIMI: Prosody, gateway A (mimi-gateway start, component mode) and follower B', () => {
  let env: XmppMimiEnv | undefined;
  let alice: XmppTestUser;
  let amy: XmppTestUser;
  let dave: XmppTestUser;
  let mallory: XmppTestUser;
  let oscar: XmppTestUser;
  /** Resolved while alice is in the room; an outage replaces it until she is back. */
  let aliceBack: Promise<void> = Promise.resolve();
  let roomUri: string;
  let mirror: string;
  /** What alice's first message is called on each side. */
  let hello: { id: string; stanzaId: string; onB?: StoredRoomEvent; shownOnB?: string };

  beforeAll(async () => {
    env = await XmppMimiEnv.create({ accounts: [ALICE, AMY, DAVE, MALLORY, OSCAR], relay: RELAY });
    alice = await env.connect(ALICE, { rejoin: true });
    amy = await env.connect(AMY, { rejoin: true });
    await env.createLinkedMuc(alice, ROOM, ALICE_NICK);
    await amy.join(ROOM, AMY_NICK);
    env.link(ROOM);
  }, 120_000);

  afterAll(() => env?.dispose());

  const scenario = (body: (e: XmppMimiEnv) => Promise<void>) => async () => {
    if (!env) throw new Error('the environment was not created (see the beforeAll error)');
    const e = env;
    await e.scenario(() => body(e))();
  };

  it(
    'links the MUC named in the config: A hubs a MIMI room whose participants are the occupants',
    scenario(async (e) => {
      await e.a.start();
      roomUri = await e.linkedRoomUri(e.a, ROOM);
      expect(roomUri).toMatch(/^mimi:\/\/a\.example\/r\/./);
      expect(await e.a.provisioning.room(roomUri)).toMatchObject({ role: 'hub', hub: HUB_DOMAIN, roomId: ROOM });
      const list = await participants(e.a, roomUri);
      expect(list.get(ALICE_URI)).toBe(ParticipantRole.Owner);
      expect(list.get(AMY_URI)).toBe(ParticipantRole.Member);
    }),
  );

  it(
    'adds B users an occupant invites through the MUC: B follows the room, the puppets join with their nicks',
    scenario(async (e) => {
      const since = alice.mark();
      await invitePuppet(alice, ROOM, BOB_URI, 'come and see');
      await invitePuppet(alice, ROOM, CAROL_URI);
      await roleBecomes(e.a, roomUri, BOB_URI, ParticipantRole.Member);
      await roleBecomes(e.a, roomUri, CAROL_URI, ParticipantRole.Member);
      const followed = await waitForValue(
        () => e.b.provisioning.room(roomUri),
        (r) => r !== undefined && [BOB_URI, CAROL_URI].every((u) => r.participants.some((p) => p.userUri === u)),
        { what: `B following ${roomUri} with bob and carol` },
      );
      expect(followed).toMatchObject({ role: 'follower', hub: HUB_DOMAIN });
      expect(followed!.participants.map((p) => p.userUri)).toEqual(expect.arrayContaining([ALICE_URI, AMY_URI]));
      mirror = await e.mirrorOnB(roomUri);
      for (const [nick, user] of [
        [BOB_NICK, BOB_URI],
        [CAROL_NICK, CAROL_URI],
      ] as const) {
        const presence = await alice.waitFor((el) => isPresence(el, nick), `${nick} joining`, { since });
        // alice owns the room, so she sees real JIDs: the puppet's is on the component domain.
        expect(mucItem(presence)?.attrs.jid?.split('/')[0]).toBe(puppetJid(user, COMPONENT_DOMAIN));
      }
    }),
  );

  it(
    "carries an occupant's message, correction, reaction, reply and retraction to B's storage as MIMI content",
    scenario(async (e) => {
      const sent = await alice.say(ROOM, HELLO);
      const onB = await stored(e.b, roomUri, byText(HELLO), "alice's message");
      expect(onB).toMatchObject({ senderUri: ALICE_URI, kind: 'text' });
      // The MUC's stanza-id travels as the external message ID (more-extensions §4).
      expect(onB.content).toMatchObject({ externalMessageId: { id: sent.stanzaId } });
      const shown = await rendered(e, mirror, (ev) => postText(ev) === HELLO, "alice's message");
      expect(ghostOf(shown)).toBe(ALICE_URI);
      hello = { ...sent, onB, shownOnB: shown.platformEventId };

      // XEP-0308 correction → edit (replaces).
      await alice.say(ROOM, EDITED, [xml('replace', { xmlns: NS.CORRECT, id: sent.id })]);
      const edit = await stored(e.b, roomUri, (ev) => ev.kind === 'edit' && storedText(ev) === EDITED, 'the edit');
      expect(edit).toMatchObject({ senderUri: ALICE_URI, content: { replaces: onB.messageId } });

      // XEP-0444 reaction → reaction (inReplyTo); the emptied set → unlike (replaces the reaction).
      await amy.say(ROOM, undefined, reactions(sent.stanzaId, THUMBS));
      const reaction = await stored(
        e.b,
        roomUri,
        (ev) => ev.kind === 'reaction' && ev.senderUri === AMY_URI,
        "amy's reaction",
      );
      expect(reaction.content).toMatchObject({ inReplyTo: onB.messageId, text: THUMBS });
      await amy.say(ROOM, undefined, reactions(sent.stanzaId));
      const unlike = await stored(e.b, roomUri, (ev) => ev.kind === 'unlike', "amy's unlike");
      expect(unlike).toMatchObject({ senderUri: AMY_URI, content: { replaces: reaction.messageId } });

      // XEP-0461 reply with an XEP-0428 fallback quote → reply (inReplyTo), quote stripped.
      const quote = `> ${ALICE_NICK}: ${EDITED}\n`;
      await amy.say(ROOM, `${quote}${REPLY}`, [
        xml('reply', { xmlns: NS.REPLY, to: occupant(ALICE_NICK), id: sent.stanzaId }),
        xml(
          'fallback',
          { xmlns: NS.FALLBACK, for: NS.REPLY },
          xml('body', { start: '0', end: String([...quote].length) }),
        ),
      ]);
      const reply = await stored(e.b, roomUri, byText(REPLY), "amy's reply");
      expect(reply).toMatchObject({ senderUri: AMY_URI, kind: 'reply', content: { inReplyTo: onB.messageId } });

      // XEP-0424 retraction → delete (replaces).
      const oops = await alice.say(ROOM, OOPS);
      const oopsOnB = await stored(e.b, roomUri, byText(OOPS), "alice's second message");
      await alice.say(ROOM, 'This person attempted to retract a previous message.', [
        xml('retract', { xmlns: NS.RETRACT, id: oops.stanzaId }),
        xml('fallback', { xmlns: NS.FALLBACK, for: NS.RETRACT }),
      ]);
      const del = await stored(e.b, roomUri, (ev) => ev.kind === 'delete', 'the retraction');
      expect(del).toMatchObject({ senderUri: ALICE_URI, content: { replaces: oopsOnB.messageId } });

      // B's users see the same, against B's own event IDs.
      const editShown = await rendered(e, mirror, (ev) => actionOf(ev)?.type === 'edit', 'the edit');
      expect(actionOf(editShown)).toMatchObject({
        target: { platformEventId: hello.shownOnB },
        body: { text: EDITED },
      });
      const replyShown = await rendered(e, mirror, (ev) => postText(ev) === REPLY, 'the reply');
      expect(actionOf(replyShown)).toMatchObject({ inReplyTo: { platformEventId: hello.shownOnB } });
      await rendered(e, mirror, (ev) => actionOf(ev)?.type === 'delete', 'the delete');
    }),
  );

  it(
    "shows a B user's messages in the MUC from the puppet's nick, once, with XMPP references",
    scenario(async (e) => {
      const since = alice.mark();
      const amySince = amy.mark();
      const posted = await e.b.control.say(mirror, BOB, HELLO_B);
      const inMuc = await alice.waitFor(
        (el) => isGroupchatFrom(el, BOB_NICK) && el.getChildText('body') === HELLO_B,
        "bob's message in the MUC",
        { since },
      );
      await amy.waitFor(
        (el) => isGroupchatFrom(el, BOB_NICK) && el.getChildText('body') === HELLO_B,
        'the same for amy',
        {
          since: amySince,
        },
      );
      // A logged it as bob's, under the MUC's stanza-id; B stored the hub's copy too.
      const onA = await stored(e.a, roomUri, byText(HELLO_B), "bob's message on A");
      expect(onA).toMatchObject({ senderUri: BOB_URI, platformEventId: stanzaIdOf(inMuc) });
      expect(await stored(e.b, roomUri, byText(HELLO_B), "bob's message on B")).toMatchObject({
        senderUri: BOB_URI,
        messageId: onA.messageId,
      });

      // A reply to alice's message: XEP-0461 names the MUC's stanza-id and alice's nick.
      await e.b.control.send(mirror, BOB, {
        type: 'post',
        body: { kind: 'text', text: REPLY_B },
        inReplyTo: { platformEventId: hello.shownOnB! },
      });
      const reply = await alice.waitFor(
        (el) => isGroupchatFrom(el, BOB_NICK) && el.getChild('reply', NS.REPLY) !== undefined,
        "bob's reply",
        { since },
      );
      expect(reply.getChild('reply', NS.REPLY)?.attrs).toMatchObject({ id: hello.stanzaId, to: occupant(ALICE_NICK) });
      expect(reply.getChildText('body')).toMatch(new RegExp(`${REPLY_B}$`));

      // An edit: XEP-0308 names the id of bob's message as the MUC reflected it.
      await e.b.control.send(mirror, BOB, {
        type: 'edit',
        target: { platformEventId: posted.platformEventId },
        body: { kind: 'text', text: EDITED_B },
      });
      const edit = await alice.waitFor(
        (el) => isGroupchatFrom(el, BOB_NICK) && el.getChild('replace', NS.CORRECT) !== undefined,
        "bob's correction",
        { since },
      );
      expect(edit.getChild('replace', NS.CORRECT)?.attrs.id).toBe(inMuc.attrs.id);
      expect(edit.getChildText('body')).toBe(EDITED_B);

      // A reaction to alice's message, then a delete of bob's own message.
      await e.b.control.send(mirror, BOB, {
        type: 'react',
        target: { platformEventId: hello.shownOnB! },
        key: PARTY,
      });
      const reacted = await alice.waitFor(
        (el) => isGroupchatFrom(el, BOB_NICK) && el.getChild('reactions', NS.REACTIONS) !== undefined,
        "bob's reaction",
        { since },
      );
      expect(reacted.getChild('reactions', NS.REACTIONS)?.attrs.id).toBe(hello.stanzaId);
      expect(
        reacted
          .getChild('reactions', NS.REACTIONS)
          ?.getChildren('reaction')
          .map((r) => r.getText()),
      ).toEqual([PARTY]);
      await e.b.control.send(mirror, BOB, { type: 'delete', target: { platformEventId: posted.platformEventId } });
      const retract = await alice.waitFor(
        (el) => isGroupchatFrom(el, BOB_NICK) && el.getChild('retract', NS.RETRACT) !== undefined,
        "bob's retraction",
        { since },
      );
      expect(retract.getChild('retract', NS.RETRACT)?.attrs.id).toBe(stanzaIdOf(inMuc));

      // Each was posted once: the MUC's archive and the groupchats alice received.
      const archived = await alice.archive(ROOM);
      expect(archived.filter((el) => el.getChildText('body') === HELLO_B)).toHaveLength(1);
      const fromBob = alice.groupchats(ROOM, since).filter((el) => el.attrs.from === occupant(BOB_NICK));
      expect(fromBob).toHaveLength(5);
      expect((await e.b.control.timeline(mirror)).filter((t) => postText(t.event) === HELLO_B)).toHaveLength(1);
    }),
  );

  it(
    'display names cross both ways: a B user’s name is its puppet’s nick, an occupant’s nick its name on B, renames follow the next message',
    scenario(async (e) => {
      // B → XMPP: grace's puppet joins under her URI's nick (no name known yet), then takes her name.
      const since = alice.mark();
      await invitePuppet(alice, ROOM, GRACE_URI);
      await roleBecomes(e.b, roomUri, GRACE_URI, ParticipantRole.Member);
      await alice.waitFor((el) => isPresence(el, GRACE_NICK), 'grace’s puppet joining', { since });
      await e.b.control.say(mirror, GRACE, NAMED_B);
      const named = await alice.waitFor(
        (el) => el.name === 'message' && el.getChildText('body') === NAMED_B,
        'grace’s named message',
        { since },
      );
      expect(named.attrs.from).toBe(occupant(GRACE.displayName!));
      await e.b.control.say(mirror, { ...GRACE, displayName: GRACE_RENAMED }, RENAMED_B);
      const renamed = await alice.waitFor(
        (el) => el.name === 'message' && el.getChildText('body') === RENAMED_B,
        'grace’s renamed message',
        { since },
      );
      expect(renamed.attrs.from).toBe(occupant(GRACE_RENAMED));
      // The nick change was an ordinary XEP-0045 one (status 303), so clients show it as a rename.
      const moved = await alice.waitFor(
        (el) => isPresence(el, GRACE.displayName!, 'unavailable') && statusCodes(el).includes('303'),
        'grace’s nick change',
        { since },
      );
      expect(mucItem(moved)?.attrs.nick).toBe(GRACE_RENAMED);

      // XMPP → B: amy's nick is her name on B; after a nick change her next message carries the new one.
      const sentBy = async (text: string): Promise<unknown> => {
        await amy.say(ROOM, text);
        const shown = await rendered(e, mirror, (x) => postText(x) === text, text);
        return shown.kind === 'message' ? shown.sender : undefined;
      };
      expect(await sentBy(NAMED_X)).toEqual({ userUri: AMY_URI, displayName: AMY_NICK });
      await amy.join(ROOM, AMY_RENAMED);
      expect(await sentBy(RENAMED_X)).toEqual({ userUri: AMY_URI, displayName: AMY_RENAMED });
      await amy.join(ROOM, AMY_NICK);
    }),
  );

  it(
    'formatting and emotes cross both ways: Markdown as XEP-0393 styling, `/me` as an emote (docs/EXTENSIONS.md)',
    scenario(async (e) => {
      const since = alice.mark();
      const grace = { ...GRACE, displayName: GRACE_RENAMED };
      const fromGrace = (text: string) =>
        alice.waitFor((el) => isGroupchatFrom(el, GRACE_RENAMED) && el.getChildText('body') === text, text, {
          since,
        });
      // B → XMPP.
      await e.b.control.send(mirror, grace, {
        type: 'post',
        body: { kind: 'text', text: STYLED_MD, markdown: STYLED_MD },
      });
      await fromGrace(STYLED_XMPP);
      await e.b.control.send(mirror, grace, { type: 'post', body: { kind: 'emote', text: WAVES } });
      await fromGrace(`/me ${WAVES}`);

      // XMPP → B: styling becomes Markdown, a `/me ` body an emote; MIMI carries them as GFM-MIMI and "/me ".
      const shownOnB = async (text: string) => {
        const shown = await rendered(e, mirror, (x) => actionOf(x)?.type === 'post' && postText(x) === text, text);
        return (actionOf(shown) as Extract<MessageAction, { type: 'post' }>).body;
      };
      await amy.say(ROOM, STYLED_FROM_XMPP);
      expect(await shownOnB(STYLED_FROM_XMPP_MD)).toEqual({
        kind: 'text',
        text: STYLED_FROM_XMPP_MD,
        markdown: STYLED_FROM_XMPP_MD,
      });
      expect((await stored(e.b, roomUri, byText(STYLED_FROM_XMPP_MD), 'amy’s styled message')).content).toMatchObject({
        contentType: expect.stringMatching(/^text\/markdown/),
      });
      await amy.say(ROOM, `/me ${NODS}`);
      expect(await shownOnB(NODS)).toEqual({ kind: 'emote', text: NODS });
      await stored(e.b, roomUri, byText(`/me ${NODS}`), 'amy’s emote');
    }),
  );

  it(
    'carries joins and leaves both ways: occupants to the participant list, B users to puppet presence',
    scenario(async (e) => {
      // XMPP → MIMI: a native joins (a participant on both sides); leaving the MUC and coming back is
      // presence, not membership (bridges/xmpp/inbound/membership-rule.ts); `!mimi leave` is a leave.
      dave = await e.connect(DAVE, { rejoin: true });
      await dave.join(ROOM, DAVE_NICK);
      await roleBecomes(e.a, roomUri, DAVE_URI, ParticipantRole.Member);
      await roleBecomes(e.b, roomUri, DAVE_URI, ParticipantRole.Member);
      await dave.leave(ROOM);
      await dave.join(ROOM, DAVE_NICK);
      const back = `dave is back ${RUN}`;
      await dave.say(ROOM, back);
      await stored(e.b, roomUri, byText(back), 'dave’s message after coming back');
      expect((await participants(e.a, roomUri)).get(DAVE_URI)).toBe(ParticipantRole.Member);
      await dave.say(ROOM, '!mimi leave');
      await roleBecomes(e.a, roomUri, DAVE_URI, undefined);
      await roleBecomes(e.b, roomUri, DAVE_URI, undefined);
      await dave.leave(ROOM);

      // MIMI → XMPP: carol leaves the mirror room on B; her puppet leaves the MUC.
      const since = alice.mark();
      await e.b.control.membership(mirror, CAROL, 'leave');
      await alice.waitFor((el) => isPresence(el, CAROL_NICK, 'unavailable'), "carol's puppet leaving", { since });
      await roleBecomes(e.a, roomUri, CAROL_URI, undefined);
      await roleBecomes(e.b, roomUri, CAROL_URI, undefined);

      // MIMI → XMPP: erin joins the mirror room on B; her puppet joins the MUC.
      await epochsSettled(e, roomUri);
      await e.b.control.membership(mirror, ERIN, 'join');
      const joined = await alice.waitFor((el) => isPresence(el, ERIN_NICK), "erin's puppet joining", { since });
      expect(mucItem(joined)?.attrs.jid?.split('/')[0]).toBe(puppetJid(ERIN_URI, COMPONENT_DOMAIN));
      await roleBecomes(e.a, roomUri, ERIN_URI, ParticipantRole.Member);
      await roleBecomes(e.b, roomUri, ERIN_URI, ParticipantRole.Member);
    }),
  );

  it(
    'carries kicks, bans and affiliation changes both ways',
    scenario(async (e) => {
      // XMPP → MIMI: affiliations of a native and of a puppet become roles on both sides and on B's platform.
      await alice.setAffiliation(ROOM, AMY_JID, 'admin');
      await roleBecomes(e.a, roomUri, AMY_URI, ParticipantRole.Admin);
      await roleBecomes(e.b, roomUri, AMY_URI, ParticipantRole.Admin);
      await waitFor(
        async () => memberRoleOnB(e, mirror, (u) => 'userUri' in u && u.userUri === AMY_URI, ParticipantRole.Admin),
        {
          what: "amy's ghost an admin of B's mirror room",
        },
      );
      await alice.setAffiliation(ROOM, puppetJid(BOB_URI, COMPONENT_DOMAIN), 'admin');
      await roleBecomes(e.a, roomUri, BOB_URI, ParticipantRole.Admin);
      await roleBecomes(e.b, roomUri, BOB_URI, ParticipantRole.Admin);
      await waitFor(
        async () => memberRoleOnB(e, mirror, (u) => 'userId' in u && u.userId === BOB.userId, ParticipantRole.Admin),
        {
          what: "bob an admin of B's mirror room",
        },
      );

      // XMPP → MIMI: a moderator kicks erin's puppet; erin is out on both sides and kicked on B's platform.
      await alice.setRole(ROOM, ERIN_NICK, 'none', 'testing kicks');
      await roleBecomes(e.a, roomUri, ERIN_URI, undefined);
      await roleBecomes(e.b, roomUri, ERIN_URI, undefined);

      // MIMI → XMPP: bob, admin, makes dave (back in the room) a moderator from B, then kicks him.
      await dave.join(ROOM, DAVE_NICK);
      await roleBecomes(e.b, roomUri, DAVE_URI, ParticipantRole.Member);
      const daveSince = dave.mark();
      await epochsSettled(e, roomUri);
      await e.b.control.role(mirror, { userUri: DAVE_URI }, ParticipantRole.Moderator, { by: BOB });
      await dave.waitFor((el) => isPresence(el, DAVE_NICK) && mucItem(el)?.attrs.role === 'moderator', 'moderator', {
        since: daveSince,
      });
      await roleBecomes(e.a, roomUri, DAVE_URI, ParticipantRole.Moderator);
      await roleBecomes(e.b, roomUri, DAVE_URI, ParticipantRole.Moderator);
      await epochsSettled(e, roomUri);
      await e.b.control.membership(mirror, { userUri: DAVE_URI }, 'kick', { by: BOB });
      const kicked = await dave.waitFor((el) => isPresence(el, DAVE_NICK, 'unavailable'), 'the kick', {
        since: daveSince,
      });
      expect(statusCodes(kicked)).toEqual(expect.arrayContaining(['307', '110']));
      await roleBecomes(e.a, roomUri, DAVE_URI, undefined);
      await roleBecomes(e.b, roomUri, DAVE_URI, undefined);

      // XMPP → MIMI: a moderator kicks a native occupant, then bans him (affiliation outcast).
      await dave.join(ROOM, DAVE_NICK);
      await roleBecomes(e.a, roomUri, DAVE_URI, ParticipantRole.Member);
      await roleBecomes(e.b, roomUri, DAVE_URI, ParticipantRole.Member);
      await alice.setRole(ROOM, DAVE_NICK, 'none', 'testing kicks');
      await roleBecomes(e.a, roomUri, DAVE_URI, undefined);
      await roleBecomes(e.b, roomUri, DAVE_URI, undefined);
      await dave.join(ROOM, DAVE_NICK);
      await roleBecomes(e.a, roomUri, DAVE_URI, ParticipantRole.Member);
      await alice.setAffiliation(ROOM, DAVE_JID, 'outcast');
      await roleBecomes(e.a, roomUri, DAVE_URI, ParticipantRole.Banned);
      await roleBecomes(e.b, roomUri, DAVE_URI, ParticipantRole.Banned);
    }),
  );

  it(
    'resolves nick collisions visibly: a puppet whose nick a native holds or imitates takes a suffix',
    scenario(async (e) => {
      // A native already holds frank's nick when frank is invited: the puppet joins as "… (mimi)".
      mallory = await e.connect(MALLORY, { rejoin: true });
      await mallory.join(ROOM, FRANK_NICK);
      await roleBecomes(e.a, roomUri, MALLORY_URI, ParticipantRole.Member);
      const since = alice.mark();
      await invitePuppet(alice, ROOM, FRANK_URI);
      const joined = await alice.waitFor((el) => isPresence(el, `${FRANK_NICK}${MOVED_ASIDE}`), "frank's puppet", {
        since,
      });
      expect(mucItem(joined)?.attrs.jid?.split('/')[0]).toBe(puppetJid(FRANK_URI, COMPONENT_DOMAIN));
      await roleBecomes(e.b, roomUri, FRANK_URI, ParticipantRole.Member);

      // The two keep their own messages.
      await mallory.say(ROOM, FROM_MALLORY);
      expect(await stored(e.b, roomUri, byText(FROM_MALLORY), "mallory's message")).toMatchObject({
        senderUri: MALLORY_URI,
      });
      await epochsSettled(e, roomUri);
      await e.b.control.say(mirror, FRANK, FROM_FRANK);
      const fromFrank = await alice.waitFor((el) => el.getChildText('body') === FROM_FRANK, "frank's message", {
        since,
      });
      expect(fromFrank.attrs.from).toBe(occupant(`${FRANK_NICK}${MOVED_ASIDE}`));
      expect(await stored(e.a, roomUri, byText(FROM_FRANK), "frank's message")).toMatchObject({ senderUri: FRANK_URI });

      // A native arriving with a look-alike of bob's nick (Cyrillic о): bob's puppet moves aside, visibly.
      oscar = await e.connect(OSCAR, { rejoin: true });
      await oscar.join(ROOM, LOOKALIKE_BOB_NICK);
      const moved = await alice.waitFor(
        (el) => isPresence(el, BOB_NICK, 'unavailable') && statusCodes(el).includes('303'),
        "bob's puppet changing nick",
        { since },
      );
      expect(mucItem(moved)?.attrs.nick).toBe(`${BOB_NICK}${MOVED_ASIDE}`);
      await e.b.control.say(mirror, BOB, BOB_MOVED);
      const fromBob = await alice.waitFor((el) => el.getChildText('body') === BOB_MOVED, "bob's message", { since });
      expect(fromBob.attrs.from).toBe(occupant(`${BOB_NICK}${MOVED_ASIDE}`));

      // MIMI → XMPP ban: bob (admin) bans mallory from B; the MUC makes her an outcast.
      const mallorySince = mallory.mark();
      await e.b.control.membership(mirror, { userUri: MALLORY_URI }, 'ban', { by: BOB });
      const banned = await mallory.waitFor((el) => isPresence(el, FRANK_NICK, 'unavailable'), 'the ban', {
        since: mallorySince,
      });
      expect(statusCodes(banned)).toEqual(expect.arrayContaining(['301', '110']));
      await roleBecomes(e.a, roomUri, MALLORY_URI, ParticipantRole.Banned);
      await roleBecomes(e.b, roomUri, MALLORY_URI, ParticipantRole.Banned);
    }),
  );

  /**
   * Both directions at once across an outage: alice sends RUN_MESSAGES groupchats (each awaited
   * until the MUC reflects it, as a client does), bob sends B_RUN_MESSAGES from B; `outage` runs
   * once B stored OUTAGE_AFTER of alice's messages. Then every message must be stored once, in
   * order, on A and B, and each of bob's must be in the MUC's archive once.
   */
  async function acrossAnOutage(
    e: XmppMimiEnv,
    label: string,
    outage: () => Promise<void>,
  ): Promise<{ fromAlice: string[]; fromBob: string[]; storedAtOutage: number }> {
    const fromAlice = Array.from({ length: RUN_MESSAGES }, (_, i) => `${label}: muc ${i} ${RUN}`);
    const fromBob = Array.from({ length: B_RUN_MESSAGES }, (_, i) => `${label}: from B ${i} ${RUN}`);
    await epochsSettled(e, roomUri);
    const aliceSending = (async () => {
      for (const t of fromAlice) await aliceSays(t);
    })();
    const bobSending = e.b.control.sayMany(mirror, BOB, fromBob);
    const storedAtOutage = await waitFor(
      async () => {
        const n = orderIn(storedTexts(await e.b.provisioning.events(roomUri)), fromAlice).length;
        return n >= OUTAGE_AFTER ? n : undefined;
      },
      { intervalMs: 10, what: `B to store ${OUTAGE_AFTER} messages of the run` },
    );
    await outage();
    await aliceSending;
    await bobSending;
    const all = [...fromAlice, ...fromBob];
    const onB = await waitForValue(
      () => e.b.provisioning.events(roomUri),
      (evs) => orderIn(storedTexts(evs), all).length >= all.length,
      { timeoutMs: 180_000, intervalMs: 250, what: 'B to store every message of the run' },
    );
    expect(orderIn(storedTexts(onB), fromAlice)).toEqual(fromAlice);
    expect(orderIn(storedTexts(onB), fromBob)).toEqual(fromBob);
    const onA = storedTexts(await e.a.provisioning.events(roomUri));
    expect(orderIn(onA, fromAlice)).toEqual(fromAlice);
    expect(orderIn(onA, fromBob)).toEqual(fromBob);
    const archived = (await alice.archive(ROOM)).map((el) => el.getChildText('body') ?? '');
    expect(orderIn(archived, fromBob)).toEqual(fromBob);
    expect(orderIn(archived, fromAlice)).toEqual(fromAlice);
    return { fromAlice, fromBob, storedAtOutage };
  }

  /**
   * alice's groupchat, waiting for the MUC's reflection. A send cut off by an outage is sent again
   * once she is back in the room (`aliceBack`), unless the archive shows it arrived: what a
   * client's resend queue does.
   */
  async function aliceSays(text: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await aliceBack;
      try {
        await alice.say(ROOM, text);
        return;
      } catch (err) {
        if (attempt >= MAX_SEND_ATTEMPTS) throw err;
        await aliceBack;
        if ((await alice.archive(ROOM)).some((el) => el.getChildText('body') === text)) return;
      }
    }
  }

  it(
    'Prosody restarted mid-stream: no message lost or doubled, either way',
    scenario(async (e) => {
      const { storedAtOutage } = await acrossAnOutage(e, 'prosody restart', async () => {
        let back!: () => void;
        aliceBack = new Promise((resolve) => (back = resolve));
        try {
          const since = alice.mark();
          await e.prosody.restart();
          // alice's client reconnects and re-enters the room by itself.
          await alice.rejoined(ROOM, since);
        } finally {
          back();
        }
      });
      expect(storedAtOutage).toBeLessThan(RUN_MESSAGES);
    }),
    LONG_TEST_MS,
  );

  it(
    'gateway A killed with SIGKILL mid-stream, then restarted: no message lost or doubled, either way',
    scenario(async (e) => {
      const { storedAtOutage } = await acrossAnOutage(e, 'SIGKILL', async () => {
        const exit = await e.a.kill();
        expect(exit.signal).toBe('SIGKILL');
        await e.a.start();
      });
      expect(storedAtOutage).toBeLessThan(RUN_MESSAGES);
    }),
    LONG_TEST_MS,
  );

  it(
    'relay mode against the same MUC: gateway C links it through one client account',
    scenario(async (e) => {
      // What relay mode cannot do: add a MIMI user. MIMI users have no JIDs there, so an XMPP user
      // has nothing to invite, and C's room never gets a follower; its side of the MIMI protocol is
      // what the component-mode tests above cover.
      // The room's owner makes the relay account an admin, so it sees real JIDs (bridges/xmpp README).
      await alice.setAffiliation(ROOM, relayJid(RELAY), 'admin');
      const since = alice.mark();
      await e.c.start();
      const relayRoom = await e.linkedRoomUri(e.c, ROOM);
      expect(relayRoom).toMatch(/^mimi:\/\/c\.example\/r\/./);
      expect(await e.c.provisioning.room(relayRoom)).toMatchObject({
        role: 'hub',
        hub: RELAY_HUB_DOMAIN,
        roomId: ROOM,
      });
      await alice.waitFor((el) => isPresence(el, RELAY_NICK), 'the relay account joining', { since });
      const aliceOnC = xmppUserUri(RELAY_HUB_DOMAIN, ALICE_JID);
      await roleBecomes(e.c, relayRoom, aliceOnC, ParticipantRole.Owner);

      const sent = await alice.say(ROOM, RELAYED);
      const onC = await stored(e.c, relayRoom, byText(RELAYED), "alice's message on C");
      expect(onC).toMatchObject({
        senderUri: aliceOnC,
        kind: 'text',
        content: { externalMessageId: { id: sent.stanzaId } },
      });
      await alice.say(ROOM, RELAYED_EDIT, [xml('replace', { xmlns: NS.CORRECT, id: sent.id })]);
      expect(
        await stored(e.c, relayRoom, (ev) => ev.kind === 'edit' && storedText(ev) === RELAYED_EDIT, 'the edit on C'),
      ).toMatchObject({ senderUri: aliceOnC, content: { replaces: onC.messageId } });
      // A bridges the same MUC on: B stores the message once, from alice.
      expect(await stored(e.b, roomUri, byText(RELAYED), "alice's message on B")).toMatchObject({
        senderUri: ALICE_URI,
      });
      expect(count(storedTexts(await e.b.provisioning.events(roomUri)), RELAYED)).toBe(1);
    }),
  );

  it(
    'nothing was doubled: A and B hold the same history in the same order',
    scenario(async (e) => {
      await alice.say(ROOM, FINAL);
      await stored(e.b, roomUri, byText(FINAL), 'the final sentinel');
      const eventsA = await e.a.provisioning.events(roomUri);
      const eventsB = await e.b.provisioning.events(roomUri);
      for (const events of [eventsA, eventsB]) {
        const ids = events.map((ev) => ev.messageId);
        expect(new Set(ids).size).toBe(ids.length);
        const seqs = events.map((ev) => Number(ev.seq));
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      }
      const idsA = eventsA.map((ev) => ev.messageId);
      const idsB = eventsB.map((ev) => ev.messageId);
      expect(orderIn(idsA, idsB)).toEqual(idsB);
      // B joined before the first message: it holds all of A's history.
      expect(idsB).toEqual(idsA);
      const shown = (await e.b.control.timeline(mirror)).flatMap((t) => postText(t.event) ?? []);
      expect(shown.filter((p, i) => shown.indexOf(p) !== i)).toEqual([]);
    }),
  );
});
