/**
 * The headline path (issue 13): a Matrix room and an XMPP MUC as one conversation through MIMI,
 * everything real (test/e2e/support/headline-env.ts): Synapse, Prosody, gateway A (`mimi-gateway
 * start`, Matrix bridge) and gateway B (`mimi-gateway start`, XMPP bridge in component mode) talking
 * MIMI over mutual TLS. Both directions:
 *
 * - a Matrix room hubbed by A, mirrored into a MUC by B;
 * - a MUC hubbed by B, mirrored into a Matrix room by A.
 *
 * Every check is made from the clients' side: alice through the Matrix client-server API, bob
 * through a real c2s login on the Prosody.
 * Needs a build first: `npx nest build`.
 *
 *   npx jest --config test/jest-e2e.config.js --runInBand test/e2e/headline
 */
import { randomBytes } from 'node:crypto';
import { NS } from '../../bridges/xmpp/protocol/namespaces';
import type { UserUri } from '../../src/common/ids';
import { xml, type XmlElement } from '../../bridges/xmpp/protocol/xml';
import { waitFor } from '../support/e2e-wait';
import type { ClientEvent } from '../servers/synapse/synapse-server';
import { HeadlineEnv, MATRIX_GATEWAY, XMPP_GATEWAY, envScenario } from './support/headline-env';
import {
  MatrixSide,
  XmppSide,
  nickOf,
  redactedBy,
  relatesTo,
  runTag,
  sha1,
  stanzaIdOf,
} from './support/headline-sides';
import { isNoticeReplyTo } from './support/matrix-gateway';
import { BOT_JID, BOT_NICK, mucJid } from './support/xmpp-mimi-env';

const RUN = runTag();
const BOB = { username: 'bob', password: 'bob-pw' };
const CAROL = { username: 'carol', password: 'carol-pw' };
const BOB_NICK = 'bob';
const THUMBS = '👍';
const PARTY = '🎉';
const ALICE_NAME = `Alice Liddell ${RUN}`;
const ALICE_RENAMED = `Alice L. ${RUN}`;
const BOB_RENAMED = `bobby-${RUN}`;

/** alice's display name, once Synapse copied it into her member events. */
async function setDisplayName(alice: MatrixSide, name: string): Promise<void> {
  await alice.client.request('PUT', `/_matrix/client/v3/profile/${encodeURIComponent(alice.userId)}/displayname`, {
    displayname: name,
  });
  await alice.sees(
    (x) => x.type === 'm.room.member' && x.state_key === alice.userId && x.content['displayname'] === name,
  );
}

/** The XEP-0425 retraction of message `stanzaId` the MUC announced to `bob` (from the room itself), from `since` on. */
function seesModeration(bob: XmppSide, stanzaId: string, since: number): Promise<XmlElement> {
  return bob.user.waitFor(
    (el) =>
      el.name === 'message' &&
      el.attrs.from === bob.muc &&
      el.getChild('apply-to', NS.FASTEN)?.attrs.id === stanzaId &&
      el.getChild('apply-to', NS.FASTEN)?.getChild('moderated', NS.MODERATE_0) !== undefined,
    `the moderation of ${stanzaId}`,
    { since, timeoutMs: 30_000 },
  );
}

/** A small PNG-looking image: the PNG signature and random bytes (nothing decodes it). */
function pngBytes(size: number): Buffer {
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), randomBytes(size - 8)]);
}

const SETUP_TIMEOUT_MS = 600_000;
const STEP_TIMEOUT_MS = 120_000;

/**
 * alice (Matrix) and bob (XMPP) exchange text, replies, edits, reactions and deletes in one
 * room, both ways, and each checks what their own client received.
 */
async function conversation(alice: MatrixSide, bob: XmppSide, ghostOfBob: string, label: string): Promise<void> {
  const t = (what: string): string => `${label}: ${what} ${RUN}`;
  const fromGhost = (pred: (e: ClientEvent) => boolean) => (e: ClientEvent) => e.sender === ghostOfBob && pred(e);
  const body = (text: string) => (el: XmlElement) => el.getChildText('body') === text;
  const since = bob.mark();

  // Text, Matrix → XMPP: from one occupant that is neither bob nor the bridge's bot.
  const helloM = t('hello from Matrix');
  const helloMEvent = await alice.say(helloM);
  const helloMSeen = await bob.sees(body(helloM), "alice's message", since);
  const aliceNick = nickOf(helloMSeen);
  expect(aliceNick).not.toBe(BOT_NICK);
  const helloMStanzaId = stanzaIdOf(helloMSeen, bob.muc);
  expect(helloMStanzaId).toBeDefined();

  // Text, XMPP → Matrix: from bob's ghost.
  const helloX = t('hello from XMPP');
  const helloXSent = await bob.say(helloX);
  const helloXSeen = await alice.sees(fromGhost((e) => e.type === 'm.room.message' && e.content['body'] === helloX));
  expect(helloXSeen.content['msgtype']).toBe('m.text');

  // Replies, XMPP → Matrix: the fallback quote is gone, the reply points at alice's event.
  const replyX = t('bob replies');
  const replyXSent = await bob.reply({ stanzaId: helloMStanzaId!, nick: aliceNick, text: helloM }, replyX);
  const replyXSeen = await alice.sees(fromGhost((e) => e.type === 'm.room.message' && e.content['body'] === replyX));
  expect(relatesTo(replyXSeen)).toEqual({ 'm.in_reply_to': { event_id: helloMEvent } });

  // Replies, Matrix → XMPP: XEP-0461 names bob's message by the MUC's stanza-id.
  const replyM = t('alice replies');
  const replyMEvent = await alice.reply(helloXSeen.event_id, replyM);
  const replyMSeen = await bob.sees(
    (el) => nickOf(el) === aliceNick && (el.getChildText('body') ?? '').endsWith(replyM),
    "alice's reply",
    since,
  );
  expect(replyMSeen.getChild('reply', NS.REPLY)?.attrs.id).toBe(helloXSent.stanzaId);

  // Edits, Matrix → XMPP: XEP-0308 correction of the message as bob received it.
  const editM = t('hello from Matrix, edited');
  await alice.edit(helloMEvent, editM);
  const editMSeen = await bob.sees((el) => el.getChild('replace', NS.CORRECT) !== undefined, "alice's edit", since);
  expect(nickOf(editMSeen)).toBe(aliceNick);
  expect(editMSeen.getChild('replace', NS.CORRECT)?.attrs.id).toBe(helloMSeen.attrs.id);
  expect(editMSeen.getChildText('body')).toBe(editM);

  // Edits, XMPP → Matrix: m.replace of bob's event.
  const editX = t('hello from XMPP, edited');
  await bob.correct(helloXSent.id, editX);
  const editXSeen = await alice.sees(fromGhost((e) => relatesTo(e)?.['rel_type'] === 'm.replace'));
  expect(relatesTo(editXSeen)).toEqual({ rel_type: 'm.replace', event_id: helloXSeen.event_id });
  expect(editXSeen.content['m.new_content']).toMatchObject({ msgtype: 'm.text', body: editX });

  // Reactions, Matrix → XMPP: XEP-0444 on bob's message.
  await alice.react(helloXSeen.event_id, THUMBS);
  const reactionMSeen = await bob.sees(
    (el) => el.getChild('reactions', NS.REACTIONS) !== undefined,
    "alice's reaction",
    since,
  );
  expect(nickOf(reactionMSeen)).toBe(aliceNick);
  const reactions = reactionMSeen.getChild('reactions', NS.REACTIONS)!;
  expect(reactions.attrs.id).toBe(helloXSent.stanzaId);
  expect(reactions.getChildren('reaction').map((r) => r.getText())).toEqual([THUMBS]);

  // Reactions, XMPP → Matrix: an m.annotation of alice's event.
  await bob.react(helloMStanzaId!, PARTY);
  const reactionXSeen = await alice.sees(fromGhost((e) => e.type === 'm.reaction'));
  expect(relatesTo(reactionXSeen)).toEqual({ rel_type: 'm.annotation', event_id: helloMEvent, key: PARTY });

  // Deletes, Matrix → XMPP: XEP-0424 retraction of alice's reply as the MUC stored it.
  await alice.redact(replyMEvent);
  const retractM = await bob.sees((el) => el.getChild('retract', NS.RETRACT) !== undefined, "alice's delete", since);
  expect(nickOf(retractM)).toBe(aliceNick);
  expect(retractM.getChild('retract', NS.RETRACT)?.attrs.id).toBe(stanzaIdOf(replyMSeen, bob.muc));

  // Deletes, XMPP → Matrix: a redaction of bob's reply by his ghost.
  await bob.retract(replyXSent.stanzaId);
  await alice.sees(fromGhost((e) => e.type === 'm.room.redaction' && redactedBy(e) === replyXSeen.event_id));

  // Each message showed once on the other side.
  expect(bob.seen(body(helloM))).toHaveLength(1);
  expect(alice.seen(fromGhost((e) => e.content['body'] === helloX))).toHaveLength(1);
}

/**
 * Read markers both ways as MIMI message status reports: bob's XEP-0333 marker is his ghost's
 * m.read receipt, alice's receipt her puppet's displayed marker naming his message by stanza-id.
 */
async function readMarkers(alice: MatrixSide, bob: XmppSide, ghostOfBob: string): Promise<void> {
  // XMPP → Matrix: bob marks alice's message displayed (by the MUC's stanza-id, XEP-0333 §7 in a MUC).
  const since = bob.mark();
  const text = `read me ${RUN}`;
  const eventId = await alice.say(text);
  const seen = await bob.sees((el) => el.getChildText('body') === text, "alice's message", since);
  await bob.markDisplayed(stanzaIdOf(seen, bob.muc)!);
  await alice.seesReadReceipt(eventId, ghostOfBob);

  // Matrix → XMPP: alice's read receipt on bob's message is a displayed marker from her occupant naming it.
  const mine = `bob waits to be read ${RUN}`;
  const sent = await bob.say(mine);
  const mineSeen = await alice.sees((x) => x.sender === ghostOfBob && x.content['body'] === mine);
  const before = bob.mark();
  await alice.markRead(mineSeen.event_id);
  const marker = await bob.sees(
    (el) => el.getChild('displayed', NS.CHAT_MARKERS) !== undefined,
    "alice's displayed marker",
    before,
  );
  expect(nickOf(marker)).toBe(nickOf(seen));
  expect(marker.getChild('displayed', NS.CHAT_MARKERS)?.attrs.id).toBe(sent.stanzaId);
  expect(marker.getChildText('body')).toBeNull();
}

/**
 * Avatars both ways through MIMI: alice's avatar is her puppet's vCard photo in the MUC, bob's vCard
 * photo his ghost's avatar; each client gets the same bytes.
 */
async function avatars(alice: MatrixSide, bob: XmppSide, ghostOfBob: string): Promise<void> {
  // Matrix → XMPP: alice sets an avatar; with her next message her puppet carries it (XEP-0153 hash in
  // its presence), and bob's client fetches it as MUC clients do, by a vCard request to room/nick.
  const alicePhoto = pngBytes(3000);
  const mxc = await alice.client.uploadMedia(alicePhoto, 'image/png', 'alice.png');
  await alice.client.request('PUT', `/_matrix/client/v3/profile/${encodeURIComponent(alice.userId)}/avatar_url`, {
    avatar_url: mxc,
  });
  await alice.sees(
    (x) => x.type === 'm.room.member' && x.state_key === alice.userId && x.content['avatar_url'] === mxc,
  );
  const since = bob.mark();
  const text = `alice shows her face ${RUN}`;
  await alice.say(text);
  const aliceNick = nickOf(await bob.sees((el) => el.getChildText('body') === text, "alice's message", since));
  await bob.user.waitFor(
    (el) =>
      el.name === 'presence' &&
      el.attrs.from === `${bob.muc}/${aliceNick}` &&
      el.getChild('x', NS.VCARD_UPDATE)?.getChildText('photo') === sha1(alicePhoto),
    "the photo hash in alice's occupant presence",
    { since, timeoutMs: 30_000 },
  );
  expect(await bob.occupantPhoto(aliceNick)).toEqual(alicePhoto);

  // XMPP → Matrix: bob publishes his vCard photo and announces it; his next message shows under it.
  const bobPhoto = pngBytes(4000);
  await bob.setAvatar(bobPhoto, 'image/png');
  const said = `bob shows his face ${RUN}`;
  await bob.say(said);
  const seen = await alice.sees((x) => x.sender === ghostOfBob && x.content['body'] === said);
  const avatarUrl = alice.memberBefore(seen.event_id, ghostOfBob)?.content['avatar_url'];
  expect(typeof avatarUrl).toBe('string');
  expect(await alice.client.downloadMedia(String(avatarUrl))).toEqual(bobPhoto);
}

describe('the headline path: Synapse, Prosody, gateway A (Matrix) and gateway B (XMPP) over MIMI', () => {
  let env: HeadlineEnv | undefined;
  let aliceClient: Awaited<ReturnType<HeadlineEnv['registerMatrixUser']>>;
  let bobUser: Awaited<ReturnType<HeadlineEnv['connectXmpp']>>;
  let carolUser: Awaited<ReturnType<HeadlineEnv['connectXmpp']>>;

  beforeAll(async () => {
    env = await HeadlineEnv.create({ xmppAccounts: [BOB, CAROL] });
    aliceClient = await env.registerMatrixUser('alice');
    bobUser = await env.connectXmpp(BOB);
    carolUser = await env.connectXmpp(CAROL);
  }, SETUP_TIMEOUT_MS);

  afterAll(() => env?.dispose(), 120_000);

  const scenario = envScenario(() => env);

  /** The conversation, in the room the setup test of the same describe made. */
  const itConverses = (sides: () => { alice: MatrixSide; bob: XmppSide }, label: string): void =>
    it(
      'text, replies, edits, reactions and deletes cross both ways, as each client sees them',
      scenario(async (e) => {
        const { alice, bob } = sides();
        await conversation(alice, bob, e.ghostOfXmppUser(bob.jid), label);
      }),
      STEP_TIMEOUT_MS,
    );

  /** Read markers, then avatars, in the room the setup test of the same describe made. */
  const itReadsAndShowsAvatars = (sides: () => { alice: MatrixSide; bob: XmppSide }): void => {
    const checks: [string, typeof readMarkers][] = [
      [
        'read markers cross both ways as MIMI message status reports: bob’s XEP-0333 marker is his ghost’s m.read receipt, alice’s receipt her puppet’s displayed marker',
        readMarkers,
      ],
      [
        'avatars cross both ways through MIMI: alice’s avatar is her puppet’s vCard photo in the MUC, bob’s vCard photo his ghost’s avatar, byte for byte',
        avatars,
      ],
    ];
    for (const [title, check] of checks) {
      it(
        title,
        scenario(async (e) => {
          const { alice, bob } = sides();
          await check(alice, bob, e.ghostOfXmppUser(bob.jid));
        }),
        STEP_TIMEOUT_MS,
      );
    }
  };

  describe('a Matrix room hubbed by A, mirrored into a MUC by B', () => {
    let alice: MatrixSide;
    let bob: XmppSide;
    let roomUri: string;

    it(
      'alice links the room and invites the ghost of bob@localhost: B mirrors it into a MUC that bob joins',
      scenario(async (e) => {
        const linked = await e.linkMatrixRoom(aliceClient, 'Matrix lobby');
        roomUri = linked.roomUri;
        expect(roomUri.startsWith(`mimi://${MATRIX_GATEWAY}/r/`)).toBe(true);
        const mirrorMuc = await e.inviteXmppUser(aliceClient, linked.roomId, roomUri, bobUser.jid);
        expect(await e.b.provisioning.room(roomUri)).toMatchObject({ role: 'follower', hub: MATRIX_GATEWAY });
        alice = new MatrixSide(aliceClient, linked.roomId);
        bob = new XmppSide(bobUser, mirrorMuc, BOB_NICK);
        const joined = await bob.join();
        expect(joined.attrs.type).toBeUndefined();
        await e.epochsSettled(roomUri);
      }),
      STEP_TIMEOUT_MS,
    );

    itConverses(() => ({ alice, bob }), 'matrix-hubbed');

    it(
      'display names cross both ways (senderProfile, docs/EXTENSIONS.md), and a rename shows with the next message',
      scenario(async (e) => {
        const ghostOfBob = e.ghostOfXmppUser(bob.jid);
        // Matrix → XMPP: alice's display name is her puppet's nick; a rename moves it.
        for (const name of [ALICE_NAME, ALICE_RENAMED]) {
          await setDisplayName(alice, name);
          const text = `${name} speaks ${RUN}`;
          const since = bob.mark();
          await alice.say(text);
          expect(nickOf(await bob.sees((el) => el.getChildText('body') === text, `${name}'s message`, since))).toBe(
            name,
          );
        }
        // XMPP → Matrix: bob's nick is his ghost's display name; a nick change shows with his next message.
        await bob.say(`bob speaks ${RUN}`);
        await alice.sees((x) => x.sender === ghostOfBob && x.content['body'] === `bob speaks ${RUN}`);
        expect(await alice.displayName(ghostOfBob)).toBe(BOB_NICK);
        const renamed = new XmppSide(bobUser, bob.muc, BOB_RENAMED);
        await renamed.join();
        try {
          await renamed.say(`bob renamed speaks ${RUN}`);
          await alice.sees((x) => x.sender === ghostOfBob && x.content['body'] === `bob renamed speaks ${RUN}`);
          await waitFor(async () => (await alice.displayName(ghostOfBob)) === BOB_RENAMED, {
            what: "bob's ghost renamed in the room",
          });
        } finally {
          await bob.join();
        }
      }),
      STEP_TIMEOUT_MS,
    );

    itReadsAndShowsAvatars(() => ({ alice, bob }));

    it(
      'formatting and emotes cross both ways: Markdown as XEP-0393 styling, `/me` as an emote',
      scenario(async (e) => {
        const ghostOfBob = e.ghostOfXmppUser(bob.jid);
        const since = bob.mark();
        // Matrix → XMPP: HTML/Markdown as Element sends it arrives styled, not as raw Markdown.
        await alice.client.sendText(alice.roomId, `styled **bold** and ~~gone~~ ${RUN}`, {
          format: 'org.matrix.custom.html',
          formatted_body: `styled <strong>bold</strong> and <del>gone</del> ${RUN}`,
        });
        await bob.sees((el) => el.getChildText('body') === `styled *bold* and ~gone~ ${RUN}`, 'styled text', since);
        await alice.client.send(alice.roomId, 'm.room.message', { msgtype: 'm.emote', body: `waves ${RUN}` });
        await bob.sees((el) => el.getChildText('body') === `/me waves ${RUN}`, "alice's emote", since);

        // XMPP → Matrix: styling becomes HTML, `/me` an m.emote.
        await bob.say(`a *strong* word ${RUN}`);
        const styled = await alice.sees((x) => x.sender === ghostOfBob && x.content['body'] === `a strong word ${RUN}`);
        expect(styled.content).toMatchObject({ msgtype: 'm.text', format: 'org.matrix.custom.html' });
        expect(String(styled.content['formatted_body'])).toContain('<strong>strong</strong>');
        await bob.say(`/me nods ${RUN}`);
        const emote = await alice.sees((x) => x.sender === ghostOfBob && x.content['msgtype'] === 'm.emote');
        expect(emote.content['body']).toBe(`nods ${RUN}`);
      }),
      STEP_TIMEOUT_MS,
    );

    it(
      'mentions cross both ways: a pill of bob’s ghost is his nick with an XEP-0372 reference; his mention and his reply notify alice',
      scenario(async (e) => {
        const ghostOfBob = e.ghostOfXmppUser(bob.jid);
        const fromBob = (pred: (x: ClientEvent) => boolean) => (x: ClientEvent) => x.sender === ghostOfBob && pred(x);
        const mentioned = (x: ClientEvent): string[] =>
          ((x.content['m.mentions'] as { user_ids?: string[] } | undefined)?.user_ids ?? []).slice();
        const since = bob.mark();
        // Matrix → XMPP: Element's pill of the ghost becomes bob's own nick, marked as a mention of him.
        const look = `: look ${RUN}`;
        const pillEvent = await alice.client.sendText(alice.roomId, `bob${look}`, {
          format: 'org.matrix.custom.html',
          formatted_body: `<a href="https://matrix.to/#/${ghostOfBob}">bob</a>${look}`,
          'm.mentions': { user_ids: [ghostOfBob] },
        });
        const pill = await bob.sees((el) => el.getChildText('body') === `${BOB_NICK}${look}`, 'the pill', since);
        expect(pill.getChild('reference', NS.REFERENCE)?.attrs).toMatchObject({
          type: 'mention',
          begin: '0',
          end: String([...BOB_NICK].length),
          uri: `xmpp:${bob.muc}/${BOB_NICK}`,
        });
        const aliceNick = nickOf(pill);
        const pillStanzaId = stanzaIdOf(pill, bob.muc)!;

        // XMPP → Matrix: an XEP-0372 mention of alice's nick is a pill of alice, in m.mentions.
        const thanks = `${aliceNick}: thanks ${RUN}`;
        await bob.user.say(bob.muc, thanks, [
          xml('reference', {
            xmlns: NS.REFERENCE,
            type: 'mention',
            begin: '0',
            end: String([...aliceNick].length),
            uri: `xmpp:${bob.muc}/${encodeURIComponent(aliceNick)}`,
          }),
        ]);
        const thanksSeen = await alice.sees(fromBob((x) => x.content['body'] === thanks));
        expect(mentioned(thanksSeen)).toEqual([alice.userId]);
        expect(String(thanksSeen.content['formatted_body'])).toContain(
          `<a href="https://matrix.to/#/${alice.userId}">`,
        );

        // A bare `nick: ` prefix, as XMPP clients write when one picks a name, is a mention too.
        const prefixed = `${aliceNick}, again ${RUN}`;
        await bob.say(prefixed);
        expect(mentioned(await alice.sees(fromBob((x) => x.content['body'] === prefixed)))).toEqual([alice.userId]);

        // A reply to alice's message mentions her, so her client notifies her, though the text does not name her.
        const answer = `sure ${RUN}`;
        await bob.reply({ stanzaId: pillStanzaId, nick: aliceNick, text: `${BOB_NICK}${look}` }, answer);
        const answerSeen = await alice.sees(fromBob((x) => x.content['body'] === answer));
        expect(relatesTo(answerSeen)).toEqual({ 'm.in_reply_to': { event_id: pillEvent } });
        expect(mentioned(answerSeen)).toEqual([alice.userId]);
      }),
      STEP_TIMEOUT_MS,
    );

    it(
      'moderator deletes, Matrix → XMPP: alice (room creator) redacts bob’s message; the MUC retracts it by XEP-0425',
      scenario(async (e) => {
        const ghostOfBob = e.ghostOfXmppUser(bob.jid);
        const text = `moderate me ${RUN}`;
        const sent = await bob.say(text);
        const seen = await alice.sees((x) => x.sender === ghostOfBob && x.content['body'] === text);
        const since = bob.mark();
        await alice.redact(seen.event_id);
        const announced = await seesModeration(bob, sent.stanzaId, since);
        expect(
          announced.getChild('apply-to', NS.FASTEN)?.getChild('moderated', NS.MODERATE_0)?.getChildText('reason'),
        ).toMatch(/^Deleted by .+, a moderator of the MIMI room$/);
      }),
      STEP_TIMEOUT_MS,
    );

    it(
      'an invite of a user the peer does not know is refused in the room with the peer’s reason',
      scenario(async (e) => {
        const nobody = `mimi://${XMPP_GATEWAY}/u/nobody`;
        await alice.client.invite(alice.roomId, e.ids.ghostUserId(nobody as UserUri)!);
        const notice = await alice.sees(
          (x) =>
            x.sender === e.ids.botUserId &&
            x.content['msgtype'] === 'm.notice' &&
            String(x.content['body']).includes(nobody),
        );
        expect(notice.content['body']).toBe(
          `⚠️ ${nobody} cannot be added: ${XMPP_GATEWAY} has no such user (userUnknown)`,
        );
        expect((await e.a.provisioning.room(roomUri))?.participants.map((p) => p.userUri)).not.toContain(nobody);
      }),
      STEP_TIMEOUT_MS,
    );

    it(
      'presence is not membership: bob disconnects and reconnects, and is still in the room with no leave on Matrix',
      scenario(async (e) => {
        const ghostOfBob = e.ghostOfXmppUser(bob.jid);
        const bobUri = e.xmppUserUri(bob.jid);
        const before = alice.seen(() => true).length;
        await bobUser.stop();
        const away = `while bob was away ${RUN}`;
        await alice.say(away);
        bobUser = await e.connectXmpp(BOB);
        bob = new XmppSide(bobUser, bob.muc, BOB_NICK);
        // Back without a new invite: the MUC lets him in, and what was said meanwhile reaches him: in the
        // room's archive, where his client catches up (XEP-0313; he joins without MUC history), or live
        // when it reached the MUC after he was back.
        expect((await bob.join()).attrs.type).toBeUndefined();
        const isAway = (el: XmlElement): boolean => el.getChildText('body') === away;
        await waitFor(async () => bob.seen(isAway).length > 0 || (await bobUser.archive(bob.muc)).some(isAway), {
          what: 'the message sent while he was away, live or in the archive',
        });
        const back = `bob is back ${RUN}`;
        await bob.say(back);
        await alice.sees((x) => x.sender === ghostOfBob && x.content['body'] === back);
        const since = bob.mark();
        const welcome = `welcome back ${RUN}`;
        await alice.say(welcome);
        await bob.sees((el) => el.getChildText('body') === welcome, "alice's welcome", since);
        // Nothing showed on Matrix: no leave (nor a new join) of bob's ghost, and he is a participant on both gateways.
        expect(
          alice
            .seen(() => true)
            .slice(before)
            .filter((x) => x.type === 'm.room.member' && x.state_key === ghostOfBob),
        ).toEqual([]);
        for (const g of [e.a, e.b]) {
          expect((await g.provisioning.room(roomUri))?.participants.map((p) => p.userUri)).toContain(bobUri);
        }
        // Nor was he kicked from the mirror MUC on reconnecting.
        expect(
          bobUser.received.filter(
            (el) =>
              el.name === 'presence' && el.attrs.from === `${bob.muc}/${BOB_NICK}` && el.attrs.type === 'unavailable',
          ),
        ).toEqual([]);
      }),
      STEP_TIMEOUT_MS,
    );

    it(
      'an invite by human address: `!mimi invite xmpp:carol@localhost` is resolved by B’s /identifierQuery and reaches carol as an XEP-0249 invitation to the mirror MUC',
      scenario(async (e) => {
        const carolUri = e.xmppUserUri(carolUser.jid);
        const since = carolUser.mark();
        const command = await alice.say(`!mimi invite xmpp:${carolUser.jid}`);
        const answer = await aliceClient.waitForEvent(
          (x) => isNoticeReplyTo(x, alice.roomId, e.ids.botUserId, command),
          STEP_TIMEOUT_MS / 2,
        );
        expect(answer.content['body']).toBe(
          `Invited xmpp:${carolUser.jid} (${carolUri}): they are a participant of the MIMI room and get an invitation on their side.`,
        );
        // On carol's own c2s login: a direct invitation from B's bot to the MUC that mirrors the room.
        const invitation = await carolUser.waitFor(
          (el) => el.name === 'message' && el.getChild('x', NS.CONFERENCE) !== undefined,
          'an XEP-0249 invitation',
          { since, timeoutMs: STEP_TIMEOUT_MS / 2 },
        );
        expect(invitation.getChild('x', NS.CONFERENCE)?.attrs.jid).toBe(bob.muc);
        expect(invitation.attrs.from?.split('/')[0]).toBe(BOT_JID);
        for (const g of [e.a, e.b]) {
          expect((await g.provisioning.room(roomUri))?.participants.map((p) => p.userUri)).toContain(carolUri);
        }
        // She accepts: joins the MUC, and alice's next message reaches her.
        const carol = new XmppSide(carolUser, bob.muc, 'carol');
        expect((await carol.join()).attrs.type).toBeUndefined();
        const joinedAt = carol.mark();
        await alice.say(`welcome carol ${RUN}`);
        await carol.sees((el) => el.getChildText('body') === `welcome carol ${RUN}`, "alice's welcome", joinedAt);
      }),
      STEP_TIMEOUT_MS,
    );

    it(
      'an XMPP user’s first message already shows under her name: the ghost’s member event carries it before the message',
      scenario(async (e) => {
        const ghostOfCarol = e.ghostOfXmppUser(carolUser.jid);
        const carol = new XmppSide(carolUser, bob.muc, 'carol');
        const first = `carol's first words ${RUN}`;
        await carol.say(first);
        const seen = await alice.sees((x) => x.sender === ghostOfCarol && x.content['body'] === first);
        // As alice's client has the room when the message arrives: the ghost's last member event before it.
        const timeline = alice.seen(() => true);
        const memberBefore = timeline
          .slice(
            0,
            timeline.findIndex((x) => x.event_id === seen.event_id),
          )
          .filter((x) => x.type === 'm.room.member' && x.state_key === ghostOfCarol)
          .at(-1);
        expect(memberBefore?.content).toMatchObject({ membership: 'join', displayname: 'carol' });
        // And as the homeserver has it at that event (/context: the state at the message).
        const context = await aliceClient.request<{ state: ClientEvent[] }>(
          'GET',
          `/_matrix/client/v3/rooms/${encodeURIComponent(alice.roomId)}/context/${encodeURIComponent(seen.event_id)}?limit=0`,
        );
        const member = context.state.find((x) => x.type === 'm.room.member' && x.state_key === ghostOfCarol);
        expect(member?.content['displayname']).toBe('carol');
      }),
      STEP_TIMEOUT_MS,
    );

    it(
      'a room upgrade is followed: the link moves to the replacement room (same MIMI room), and messages cross from there both ways',
      scenario(async (e) => {
        const bot = e.ids.botUserId;
        const ghostOfBob = e.ghostOfXmppUser(bob.jid);
        const path = `/_matrix/client/v3/rooms/${encodeURIComponent(alice.roomId)}`;
        const create = await aliceClient.request<{ room_version?: string }>('GET', `${path}/state/m.room.create/`);
        const { replacement_room: newRoom } = await aliceClient.request<{ replacement_room: string }>(
          'POST',
          `${path}/upgrade`,
          { new_version: create.room_version ?? '1' },
        );
        // The replacement of an invite-only room takes no invites along: the old room is told to invite the bot.
        await alice.sees(
          (x) => x.sender === bot && String(x.content['body']).includes(`Invite ${bot} into the new room`),
        );
        await aliceClient.invite(newRoom, bot);
        const upgraded = new MatrixSide(aliceClient, newRoom);
        const told = await upgraded.sees((x) => x.sender === bot && x.content['msgtype'] === 'm.notice');
        expect(told.content['body']).toBe(`This room replaces ${alice.roomId} and continues the MIMI room ${roomUri}.`);
        expect(await e.a.provisioning.room(roomUri)).toMatchObject({ role: 'hub', roomId: newRoom });
        const since = bob.mark();
        await upgraded.say(`after the upgrade ${RUN}`);
        await bob.sees(
          (el) => el.getChildText('body') === `after the upgrade ${RUN}`,
          'a message of the new room',
          since,
        );
        await bob.say(`bob after the upgrade ${RUN}`);
        await upgraded.sees((x) => x.sender === ghostOfBob && x.content['body'] === `bob after the upgrade ${RUN}`);
        alice = upgraded;
      }),
      STEP_TIMEOUT_MS,
    );
  });

  it(
    '`!mimi link` in an encrypted Matrix room is refused with the reason, and nothing is linked',
    scenario(async (e) => {
      const bot = e.ids.botUserId;
      const secret = await aliceClient.createRoom({
        name: `Encrypted ${RUN}`,
        preset: 'private_chat',
        invite: [bot],
        power_level_content_override: { users: { [bot]: 100 } },
        initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
      });
      await aliceClient.waitForEvent(
        (x) =>
          x.room_id === secret &&
          x.type === 'm.room.member' &&
          x.state_key === bot &&
          x.content['membership'] === 'join',
        STEP_TIMEOUT_MS / 4,
      );
      const command = await aliceClient.sendText(secret, '!mimi link');
      const answer = await aliceClient.waitForEvent(
        (x) => isNoticeReplyTo(x, secret, bot, command),
        STEP_TIMEOUT_MS / 4,
      );
      expect(String(answer.content['body'])).toMatch(
        /^This room is end-to-end encrypted \(m\.megolm\.v1\.aes-sha2\)\. .*does not link encrypted rooms/,
      );
      expect((await e.a.provisioning.rooms()).map((r) => r.roomId)).not.toContain(secret);
    }),
    STEP_TIMEOUT_MS,
  );

  describe('a MUC hubbed by B, mirrored into a Matrix room by A', () => {
    let alice: MatrixSide;
    let bob: XmppSide;
    let roomUri: string;

    it(
      'bob links his MUC and invites the puppet of @alice: A mirrors it into a Matrix room that alice joins',
      scenario(async (e) => {
        const muc = mucJid('lounge');
        roomUri = await e.linkMuc(bobUser, muc, BOB_NICK);
        expect(roomUri.startsWith(`mimi://${XMPP_GATEWAY}/r/`)).toBe(true);
        const mirrorRoom = await e.inviteMatrixUser(bobUser, muc, roomUri, aliceClient.userId);
        expect(await e.a.provisioning.room(roomUri)).toMatchObject({ role: 'follower', hub: XMPP_GATEWAY });
        // alice joins through the room's portal alias, as any Matrix user of A's homeserver can.
        const alias = e.ids.portalAlias(roomUri)!;
        expect(await aliceClient.join(alias)).toBe(mirrorRoom);
        alice = new MatrixSide(aliceClient, mirrorRoom);
        bob = new XmppSide(bobUser, muc, BOB_NICK);
        await waitFor(async () => (await aliceClient.joinedMembers(mirrorRoom)).includes(e.ghostOfXmppUser(bob.jid)), {
          what: "bob's ghost in the mirror room",
        });
        await e.epochsSettled(roomUri);
      }),
      STEP_TIMEOUT_MS,
    );

    itConverses(() => ({ alice, bob }), 'xmpp-hubbed');

    itReadsAndShowsAvatars(() => ({ alice, bob }));

    it(
      'moderator deletes, XMPP → Matrix: bob (the MUC’s owner) moderates alice’s message; Matrix shows its redaction',
      scenario(async () => {
        const text = `alice says something ${RUN}`;
        const since = bob.mark();
        const eventId = await alice.say(text);
        const seen = await bob.sees((el) => el.getChildText('body') === text, "alice's message", since);
        await bob.user.iq(
          xml(
            'iq',
            { type: 'set', to: bob.muc },
            xml(
              'apply-to',
              { xmlns: NS.FASTEN, id: stanzaIdOf(seen, bob.muc)! },
              xml(
                'moderate',
                { xmlns: NS.MODERATE_0 },
                xml('retract', { xmlns: NS.RETRACT_0 }),
                xml('reason', {}, 'off topic'),
              ),
            ),
          ),
        );
        await alice.sees((x) => x.type === 'm.room.redaction' && redactedBy(x) === eventId);
      }),
      STEP_TIMEOUT_MS,
    );

    /** The bot's private answer to a command bob typed in the MUC (from `since` on). */
    const botAnswer = (since: number) =>
      bobUser.waitFor(
        (el) =>
          el.name === 'message' &&
          el.attrs.type === 'chat' &&
          String(el.attrs.from).startsWith(`${bob.muc}/`) &&
          /^(Invited|!mimi invite failed)/.test(el.getChildText('body') ?? ''),
        "the bot's answer to !mimi invite",
        { since, timeoutMs: STEP_TIMEOUT_MS / 2 },
      );

    it(
      '`!mimi invite @dave:synapse.test` typed in the MUC reaches dave as a Matrix invite into the mirror room (seen through /sync)',
      scenario(async (e) => {
        const dave = await e.registerMatrixUser('dave');
        const daveUri = e.matrixUserUri(dave.userId);
        const since = bobUser.mark();
        await bob.say(`!mimi invite ${dave.userId}`);
        expect((await botAnswer(since)).getChildText('body')).toBe(
          `Invited ${dave.userId} (${daveUri}): they are a participant of the MIMI room and get an invitation on their side.`,
        );
        const invite = await dave.waitForEvent(
          (x) =>
            x.room_id === alice.roomId &&
            x.type === 'm.room.member' &&
            x.state_key === dave.userId &&
            x.content['membership'] === 'invite',
          STEP_TIMEOUT_MS / 2,
        );
        expect(invite.sender).toBe(e.ids.botUserId);
        expect(await dave.join(alice.roomId)).toBe(alice.roomId);
        const daveSide = new MatrixSide(dave, alice.roomId);
        await bob.say(`hello dave ${RUN}`);
        await daveSide.sees(
          (x) => x.sender === e.ghostOfXmppUser(bob.jid) && x.content['body'] === `hello dave ${RUN}`,
        );
      }),
      STEP_TIMEOUT_MS,
    );

    it(
      'an invite by address of a Matrix user A does not have is refused, with A’s answer to /identifierQuery',
      scenario(async (e) => {
        const since = bobUser.mark();
        await bob.say('!mimi invite @nobody:synapse.test');
        expect((await botAnswer(since)).getChildText('body')).toBe(
          `!mimi invite failed: ${MATRIX_GATEWAY} has no user @nobody:synapse.test (notFound)`,
        );
        expect((await e.b.provisioning.room(roomUri))?.participants.map((p) => p.userUri)).not.toContain(
          e.matrixUserUri('@nobody:synapse.test'),
        );
      }),
      STEP_TIMEOUT_MS,
    );
  });
});
