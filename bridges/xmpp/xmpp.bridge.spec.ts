import { Logger } from '@nestjs/common';
import { ErrorCode, PlatformError } from '../../src/common/errors';
import { Platform, userUri } from '../../src/common/ids';
import { type InboundEvent, ParticipantRole, type RemoteUser } from '../../src/ports';
import { MemoryStateStore } from './state/bridge-state';
import { NS } from './protocol/namespaces';
import { FakeMucService, FakeXmppTransport } from './testing/fake-xmpp-transport';
import { RecordingSink } from './testing/recording-sink';
import { xml, type XmlElement } from './protocol/xml';
import { originIdFor } from './outbound/origin-id';
import { XmppBridge } from './xmpp.bridge';

const COMPONENT = 'mimi.test';
const BOT_FULL_JID = `mimibot@${COMPONENT}/mimi`;
const ROOM = 'lounge@conference.test';
const ROOM_REF = { platform: Platform.Xmpp, roomId: ROOM };
const ALICE_JID = 'alice@example.org';
const ALICE = {
  nick: 'alice',
  jid: `${ALICE_JID}/phone`,
  affiliation: 'owner',
  role: 'moderator',
  occupantId: 'occ-alice',
};
const DAVE: RemoteUser = { userUri: userUri('follower.example', 'dave'), displayName: 'Dave' };
const DAVE_PUPPET = `dave=follower.example@${COMPONENT}/mimi`;
const RELAY_ADDRESS = 'relay@example.org/r';
const FILES_HOST = 'files.example';
const SHORT_TIMEOUT_MS = 300;

interface Harness {
  bridge: XmppBridge;
  transport: FakeXmppTransport;
  muc: FakeMucService;
  sink: RecordingSink;
  store: MemoryStateStore;
}

async function harness(
  opts: { mode?: 'component' | 'relay'; store?: MemoryStateStore; selfPingIntervalMs?: number } = {},
): Promise<Harness> {
  const mode = opts.mode ?? 'component';
  const transport = new FakeXmppTransport(
    mode === 'component' ? 'component' : 'client',
    mode === 'component' ? COMPONENT : RELAY_ADDRESS,
  );
  const muc = new FakeMucService();
  muc.seat(ROOM, { ...ALICE });
  transport.respond = muc.respond;
  const sink = new RecordingSink();
  const store = opts.store ?? new MemoryStateStore();
  const bridge = new XmppBridge({
    mode,
    transport,
    componentDomain: mode === 'component' ? COMPONENT : undefined,
    botNick: 'MIMI',
    links: [ROOM],
    attachmentHosts: [FILES_HOST],
    stateStore: store,
    joinTimeoutMs: 2000,
    iqTimeoutMs: 2000,
    selfPingIntervalMs: opts.selfPingIntervalMs ?? 0,
    sinkRetryInitialMs: 10,
  });
  await bridge.start(sink.sink);
  return { bridge, transport, muc, sink, store };
}

/** A groupchat message from a native occupant, as the MUC reflects it to the bot. */
function fromAlice(
  h: Harness,
  body: string | undefined,
  extra: XmlElement[] = [],
  id = `m-${Math.random()}`,
): XmlElement[] {
  const occupant = h.muc.room(ROOM).get('alice')!;
  return h.muc.broadcast(
    ROOM,
    occupant,
    xml('message', { type: 'groupchat', id }, body !== undefined ? xml('body', {}, body) : undefined, extra),
  );
}

async function deliver(h: Harness, stanzas: XmlElement[]): Promise<void> {
  for (const s of stanzas) if (s.attrs.to === BOT_FULL_JID || s.attrs.to === RELAY_ADDRESS) await h.transport.inject(s);
}

const isPost = (e: InboundEvent): boolean => e.kind === 'message' && e.action.type === 'post';

describe(XmppBridge.name, () => {
  let h: Harness;
  beforeAll(() => Logger.overrideLogger(false));
  afterEach(async () => h?.bridge.stop());

  describe('start', () => {
    it('joins the linked MUC as the bot, asking for no history, and reports present occupants', async () => {
      h = await harness();
      const join = await h.transport.waitForSent((el) => el.name === 'presence', 'the join');
      expect(join.toString()).toBe(
        `<presence from="${BOT_FULL_JID}" to="${ROOM}/MIMI"><x xmlns="http://jabber.org/protocol/muc"><history maxstanzas="0"/></x></presence>`,
      );
      await h.sink.waitFor((e) => e.kind === 'role', 'alice as owner');
      expect(h.sink.events.map((e) => e.kind)).toEqual(['membership', 'role']);
      expect(h.sink.events[0]).toMatchObject({
        kind: 'membership',
        membership: 'join',
        user: { platform: Platform.Xmpp, userId: ALICE_JID, displayName: 'alice' },
      });
      expect(h.sink.events[1]).toMatchObject({ kind: 'role', role: ParticipantRole.Owner });
      expect(h.bridge.isOwnUser(BOT_FULL_JID)).toBe(true);
      expect(h.bridge.isOwnUser(DAVE_PUPPET)).toBe(true);
      expect(h.bridge.isOwnUser(ALICE_JID)).toBe(false);
    });

    it('configures a room its own join created (XEP-0045 §10.1), so it does not stay locked', async () => {
      h = await harness();
      const fresh = { platform: Platform.Xmpp, roomId: 'fresh@conference.test' };
      const since = h.transport.sent.length;
      await h.bridge.getRoomSnapshot(fresh);
      const config = await h.transport.waitForSent(
        (el) => el.getChild('query', NS.MUC_OWNER) !== undefined,
        'the config',
        since,
      );
      const fields = config
        .getChild('query', NS.MUC_OWNER)!
        .getChild('x', NS.DATA)!
        .getChildren('field')
        .map((f) => [f.attrs.var, f.getChildText('value')]);
      expect(fields).toEqual(
        expect.arrayContaining([
          ['muc#roomconfig_persistentroom', '1'],
          ['muc#roomconfig_enablearchiving', '1'],
        ]),
      );
    });

    it('fails with PlatformUnavailable when the server cannot be reached', async () => {
      const transport = new FakeXmppTransport('component', COMPONENT);
      transport.start = async () => {
        throw new PlatformError(ErrorCode.PlatformUnavailable, 'refused');
      };
      const bridge = new XmppBridge({
        mode: 'component',
        transport,
        componentDomain: COMPONENT,
        botNick: 'MIMI',
        stateStore: new MemoryStateStore(),
      });
      await expect(bridge.start(async () => undefined)).rejects.toMatchObject({ code: ErrorCode.PlatformUnavailable });
    });
  });

  describe('inbound messages', () => {
    beforeEach(async () => {
      h = await harness();
      await h.sink.waitFor((e) => e.kind === 'role', 'the initial occupants');
    });

    it('reports a message with the MUC stanza-id, the real JID and the text', async () => {
      const stanzas = fromAlice(h, 'hello');
      await deliver(h, stanzas);
      const e = await h.sink.waitFor(isPost, 'the post');
      expect(e).toMatchObject({
        platformEventId: stanzas[0]!.getChild('stanza-id', NS.SID)!.attrs.id,
        sender: { userId: ALICE_JID, displayName: 'alice' },
        action: { type: 'post', body: { kind: 'text', text: 'hello' } },
      });
    });

    it('treats /me as an emote and keeps attachments from allowed hosts only', async () => {
      await deliver(h, fromAlice(h, '/me waves'));
      const url = `https://${FILES_HOST}/a.jpg`;
      await deliver(
        h,
        fromAlice(h, url, [
          xml('x', { xmlns: NS.OOB }, xml('url', {}, url)),
          xml('x', { xmlns: NS.OOB }, xml('url', {}, 'http://127.0.0.1/x')),
        ]),
      );
      const [emote, file] = await h.sink.waitForCount(isPost, 2, 'two posts');
      expect(emote).toMatchObject({ action: { body: { kind: 'emote', text: 'waves' } } });
      expect(file).toMatchObject({ action: { body: { attachments: [{ url, contentType: 'image/jpeg' }] } } });
      expect(file!.kind === 'message' && file!.action.type === 'post' && file!.action.body.attachments).toHaveLength(1);
    });

    it('drops a stanza it cannot read and goes on with the next', async () => {
      await deliver(h, fromAlice(h, 'bad', [xml('replace', { xmlns: NS.CORRECT })]));
      await deliver(h, fromAlice(h, 'good'));
      await h.sink.waitFor(isPost, 'the good message');
      expect(h.transport.handlerErrors).toHaveLength(1);
      expect(h.sink.matching((e) => e.kind === 'message').map((e) => e.kind === 'message' && e.action.type)).toEqual([
        'post',
      ]);
    });

    it('reports the same archived message only once', async () => {
      const stanzas = fromAlice(h, 'once');
      await deliver(h, stanzas);
      await deliver(h, stanzas);
      await h.sink.waitFor(isPost, 'the post');
      const later = fromAlice(h, 'marker');
      await deliver(h, later);
      await h.sink.waitForCount(isPost, 2, 'the marker');
      expect(h.sink.matching(isPost)).toHaveLength(2);
    });

    it('retries a message the core refused, holding the archive cursor before it until then', async () => {
      let refusals = 0;
      h.sink.refuseWhen = (e) => isPost(e) && refusals++ < 2;
      const stanzas = fromAlice(h, 'flaky');
      const stanzaId = stanzas[0]!.getChild('stanza-id', NS.SID)!.attrs.id!;
      await deliver(h, stanzas);
      await h.sink.waitFor(isPost, 'the retried post');
      expect(h.sink.refused).toHaveLength(2);
      await h.bridge.stop();
      expect(h.store.load().rooms[ROOM]!.cursor?.stanzaId).toBe(stanzaId);
    });

    it('diffs XEP-0444 reaction sets into react and unreact', async () => {
      const target = fromAlice(h, 'vote');
      await deliver(h, target);
      const targetId = target[0]!.getChild('stanza-id', NS.SID)!.attrs.id!;
      const reactions = (...emojis: string[]): XmlElement[] =>
        fromAlice(h, undefined, [
          xml(
            'reactions',
            { xmlns: NS.REACTIONS, id: targetId },
            emojis.map((e) => xml('reaction', {}, e)),
          ),
        ]);
      await deliver(h, reactions('👍'));
      await deliver(h, reactions('👎'));
      const changes = await h.sink.waitForCount(
        (e) => e.kind === 'message' && e.action.type !== 'post',
        3,
        'three changes',
      );
      const thumbsUp = changes[0]!;
      expect(changes.map((e) => e.kind === 'message' && e.action)).toEqual([
        { type: 'react', target: { platformEventId: targetId }, key: '👍' },
        { type: 'unreact', reaction: { platformEventId: thumbsUp.platformEventId } },
        { type: 'react', target: { platformEventId: targetId }, key: '👎' },
      ]);
    });

    it('reports a subject change as room metadata', async () => {
      await h.transport.inject(
        xml(
          'message',
          { from: `${ROOM}/alice`, to: BOT_FULL_JID, type: 'groupchat', id: 's1' },
          xml('subject', {}, 'New topic'),
        ),
      );
      const meta = await h.sink.waitFor((e) => e.kind === 'roomMetadata', 'the topic');
      expect(meta).toMatchObject({ topic: 'New topic' });
    });
  });

  describe('post', () => {
    beforeEach(async () => {
      h = await harness();
      await h.sink.waitFor((e) => e.kind === 'role', 'the initial occupants');
    });

    it('joins the puppet, sends from it with origin-id, and resolves on the reflection with the stanza-id', async () => {
      const key = 'key-1';
      const result = await h.bridge.post(
        ROOM_REF,
        DAVE,
        { type: 'post', body: { kind: 'text', text: 'hi' } },
        { idempotencyKey: key, timeoutMs: 2000 },
      );
      const originId = originIdFor(key);
      const sent = h.transport.sent.find((el) => el.name === 'message')!;
      expect(sent.toString()).toBe(
        `<message from="${DAVE_PUPPET}" to="${ROOM}" type="groupchat" id="${originId}"><body>hi</body><origin-id xmlns="urn:xmpp:sid:0" id="${originId}"/></message>`,
      );
      expect(h.muc.room(ROOM).get('Dave')?.jid).toBe(DAVE_PUPPET);
      expect(result.echoKeys).toEqual([originId]);
      expect(result.platformEventId).toMatch(/^sid-/);
      const echo = await h.sink.waitFor((e) => e.platformEventId === result.platformEventId, 'the echo');
      expect(echo).toMatchObject({ sender: { userUri: DAVE.userUri }, echoKeys: [originId] });
      expect(h.sink.matching((e) => e.kind === 'membership' && 'userUri' in e.user)).toEqual([]);
    });

    it('does not send twice for the same idempotency key', async () => {
      const opts = { idempotencyKey: 'same', timeoutMs: 2000 };
      const action = { type: 'post', body: { kind: 'text', text: 'once' } } as const;
      const [a, b] = await Promise.all([
        h.bridge.post(ROOM_REF, DAVE, action, opts),
        h.bridge.post(ROOM_REF, DAVE, action, opts),
      ]);
      const c = await h.bridge.post(ROOM_REF, DAVE, action, opts);
      expect(b).toEqual(a);
      expect(c).toEqual(a);
      expect(h.transport.sent.filter((el) => el.name === 'message')).toHaveLength(1);
    });

    it('rejects with a retryable Timeout when the MUC does not reflect in time', async () => {
      h.muc.swallowMessages = true;
      const err = await h.bridge
        .post(
          ROOM_REF,
          DAVE,
          { type: 'post', body: { kind: 'text', text: 'lost' } },
          { idempotencyKey: 'k', timeoutMs: SHORT_TIMEOUT_MS },
        )
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: ErrorCode.Timeout, retryable: true });
    });

    it('refuses a stanza over the size limit before sending anything', async () => {
      const err = await h.bridge
        .post(
          ROOM_REF,
          DAVE,
          { type: 'post', body: { kind: 'text', text: 'z'.repeat(600 * 1024) } },
          { idempotencyKey: 'big', timeoutMs: 2000 },
        )
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: ErrorCode.PlatformRejected, retryable: false });
      expect(h.transport.sent.filter((el) => el.name === 'message')).toEqual([]);
    });

    it('maps a MUC refusal (no voice) to a permanent PlatformRejected', async () => {
      h.muc.messageError = () => 'forbidden';
      const err = await h.bridge
        .post(
          ROOM_REF,
          DAVE,
          { type: 'post', body: { kind: 'text', text: 'muted' } },
          { idempotencyKey: 'm', timeoutMs: 2000 },
        )
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: ErrorCode.PlatformRejected, retryable: false });
      expect((err as PlatformError).humanMessage).toMatch(/may not speak/);
    });

    it('rejoins and sends again, same id, when the MUC says the puppet is not an occupant', async () => {
      await h.bridge.setMembership(ROOM_REF, DAVE, 'join');
      h.muc.room(ROOM).delete('Dave'); // the room forgot the puppet
      const res = await h.bridge.post(
        ROOM_REF,
        DAVE,
        { type: 'post', body: { kind: 'text', text: 'again' } },
        { idempotencyKey: 'r', timeoutMs: 2000 },
      );
      const sends = h.transport.sent.filter((el) => el.name === 'message');
      expect(sends.map((el) => el.attrs.id)).toEqual([originIdFor('r'), originIdFor('r')]);
      expect(res.platformEventId).toMatch(/^sid-/);
    });

    it('corrects, retracts and reacts with the ids XMPP clients expect', async () => {
      const opts = (k: string): { idempotencyKey: string; timeoutMs: number } => ({
        idempotencyKey: k,
        timeoutMs: 2000,
      });
      const first = await h.bridge.post(
        ROOM_REF,
        DAVE,
        { type: 'post', body: { kind: 'text', text: 'v1' } },
        opts('p1'),
      );
      await h.bridge.post(
        ROOM_REF,
        DAVE,
        { type: 'edit', target: { platformEventId: first.platformEventId }, body: { kind: 'text', text: 'v2' } },
        opts('p2'),
      );
      const reaction = await h.bridge.post(
        ROOM_REF,
        DAVE,
        { type: 'react', target: { platformEventId: first.platformEventId }, key: '❤' },
        opts('p3'),
      );
      await h.bridge.post(
        ROOM_REF,
        DAVE,
        { type: 'unreact', reaction: { platformEventId: reaction.platformEventId } },
        opts('p4'),
      );
      await h.bridge.post(
        ROOM_REF,
        DAVE,
        { type: 'delete', target: { platformEventId: first.platformEventId } },
        opts('p5'),
      );
      const [, edit, react, unreact, retract] = h.transport.sent.filter((el) => el.name === 'message') as XmlElement[];
      expect(edit!.getChild('replace', NS.CORRECT)!.attrs.id).toBe(originIdFor('p1'));
      expect(react!.getChild('reactions', NS.REACTIONS)!.toString()).toBe(
        `<reactions xmlns="urn:xmpp:reactions:0" id="${first.platformEventId}"><reaction>❤</reaction></reactions>`,
      );
      expect(react!.getChild('store', NS.HINTS)).toBeDefined();
      expect(unreact!.getChild('reactions', NS.REACTIONS)!.children).toEqual([]);
      expect(retract!.getChild('retract', NS.RETRACT)!.attrs.id).toBe(first.platformEventId);
      const err = await h.bridge
        .post(ROOM_REF, DAVE, { type: 'unreact', reaction: { platformEventId: 'unknown' } }, opts('p6'))
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: ErrorCode.PlatformRejected });
    });

    it('rejects a room that is not a MUC JID', async () => {
      await expect(
        h.bridge.post(
          { platform: Platform.Matrix, roomId: '!x:y' },
          DAVE,
          { type: 'post', body: { kind: 'text', text: 'x' } },
          { idempotencyKey: 'x', timeoutMs: 100 },
        ),
      ).rejects.toMatchObject({ code: ErrorCode.PlatformRejected });
    });
  });

  describe('nicks', () => {
    it('takes the next visible candidate on a conflict and ASCII when the server refuses the nick', async () => {
      h = await harness();
      await h.sink.waitFor((e) => e.kind === 'role', 'the initial occupants');
      h.muc.seat(ROOM, {
        nick: 'Dаve',
        jid: 'carol@example.org/x',
        affiliation: 'none',
        role: 'participant',
        occupantId: 'occ-c',
      });
      await h.transport.inject(h.muc.presenceOf(ROOM, h.muc.room(ROOM).get('Dаve')!, BOT_FULL_JID)); // Cyrillic а
      await h.bridge.setMembership(ROOM_REF, DAVE, 'join');
      expect(h.bridge.puppetNick(ROOM_REF, DAVE.userUri)).toBe('Dave (mimi)');
      h.muc.rejectNick = (nick) => /[^\x20-\x7e]/.test(nick);
      const zoe: RemoteUser = { userUri: userUri('follower.example', 'zoe'), displayName: 'Zoë' };
      await h.bridge.setMembership(ROOM_REF, zoe, 'join');
      expect(h.bridge.puppetNick(ROOM_REF, zoe.userUri)).toBe('Zoe');
      const occupiedBy = h.muc.room(ROOM).get('Dave (mimi)')?.jid;
      expect(occupiedBy).toBe(DAVE_PUPPET);
    });
  });

  describe('membership and moderation', () => {
    beforeEach(async () => {
      h = await harness();
      await h.sink.waitFor((e) => e.kind === 'role', 'the initial occupants');
    });

    it('reports a puppet kicked by a moderator and does not rejoin it by itself', async () => {
      await h.bridge.setMembership(ROOM_REF, DAVE, 'join');
      const puppet = h.muc.room(ROOM).get('Dave')!;
      h.muc.room(ROOM).delete('Dave');
      for (const to of [BOT_FULL_JID, DAVE_PUPPET]) {
        const p = h.muc.presenceOf(ROOM, puppet, to, to === DAVE_PUPPET ? ['307', '110'] : ['307'], 'unavailable');
        p.getChild('x', NS.MUC_USER)!
          .getChild('item')!
          .append(xml('actor', { nick: 'alice' }), xml('reason', {}, 'out'));
        await h.transport.inject(p);
      }
      const kick = await h.sink.waitFor((e) => e.kind === 'membership' && e.membership === 'kick', 'the kick');
      expect(kick).toMatchObject({ user: { userUri: DAVE.userUri }, reason: 'out' });
      await h.bridge.stop();
      expect(h.store.load().rooms[ROOM]?.puppets[DAVE.userUri]).toBeUndefined();
    });

    it('reports a mediated invitation of a puppet JID (XEP-0045 §7.8.2) as an invite of that MIMI user', async () => {
      const forwarded = (to: string, id: string): XmlElement =>
        xml(
          'message',
          { from: ROOM, to, id },
          xml('x', { xmlns: NS.MUC_USER }, xml('invite', { from: ALICE.jid }, xml('reason', {}, 'join us'))),
          xml('body', {}, `${ALICE.jid} invited you to the room ${ROOM}`),
        );
      await h.transport.inject(forwarded(`dave=follower.example@${COMPONENT}`, 'inv-1'));
      // Not a puppet address: nothing to report (and a MUC's message is never bounced).
      await h.transport.inject(forwarded(`mimibot@${COMPONENT}`, 'inv-2'));
      const invite = await h.sink.waitFor((e) => e.kind === 'membership' && e.membership === 'invite', 'the invite');
      expect(invite).toEqual({
        kind: 'membership',
        room: ROOM_REF,
        platformEventId: `xmpp-invite:${ROOM}/inv-1`,
        user: { userUri: DAVE.userUri },
        membership: 'invite',
        by: { platform: Platform.Xmpp, userId: ALICE_JID },
        reason: 'join us',
        timestamp: expect.any(Number),
      });
      expect(h.sink.matching((e) => e.kind === 'membership' && e.membership === 'invite')).toHaveLength(1);
      expect(h.transport.sent.filter((el) => el.attrs.type === 'error')).toEqual([]);
    });

    it('kicks by nick and bans by real JID with muc#admin items', async () => {
      h.muc.seat(ROOM, {
        nick: 'carol',
        jid: 'carol@example.org/x',
        affiliation: 'none',
        role: 'participant',
        occupantId: 'occ-c',
      });
      await h.transport.inject(h.muc.presenceOf(ROOM, h.muc.room(ROOM).get('carol')!, BOT_FULL_JID));
      const since = h.transport.sent.length;
      await h.bridge.moderate(ROOM_REF, { platform: Platform.Xmpp, userId: 'carol@example.org' }, 'kick', 'bye');
      await h.bridge.moderate(ROOM_REF, { platform: Platform.Xmpp, userId: 'carol@example.org' }, 'ban');
      const iqs = h.transport.sent.slice(since).filter((el) => el.name === 'iq');
      expect(iqs.map((el) => el.getChild('query', NS.MUC_ADMIN)!.getChild('item')!.toString())).toEqual([
        '<item nick="carol" role="none"><reason>bye</reason></item>',
        '<item jid="carol@example.org" affiliation="outcast"/>',
      ]);
    });

    it('refuses an affiliation for an occupant whose real JID it does not know', async () => {
      await expect(
        h.bridge.setRole(ROOM_REF, { platform: Platform.Xmpp, userId: `${ROOM}/ghost` }, ParticipantRole.Admin),
      ).rejects.toMatchObject({ code: ErrorCode.PlatformRejected, retryable: false });
    });
  });

  describe('the stream', () => {
    it('answers IQs with RFC 6120 results and errors, and bounces direct messages (not MUC ones)', async () => {
      h = await harness();
      const since = h.transport.sent.length;
      await h.transport.inject(
        xml('iq', { from: 'x@example.org/a', to: DAVE_PUPPET, type: 'get', id: 'q1' }, xml('ping', { xmlns: NS.PING })),
      );
      await h.transport.inject(
        xml(
          'iq',
          { from: 'x@example.org/a', to: DAVE_PUPPET, type: 'get', id: 'q2' },
          xml('query', { xmlns: 'urn:example' }),
        ),
      );
      await h.transport.inject(
        xml('message', { from: 'x@example.org/a', to: DAVE_PUPPET, type: 'chat', id: 'dm' }, xml('body', {}, 'psst')),
      );
      await h.transport.inject(
        xml('message', { from: `${ROOM}/alice`, to: DAVE_PUPPET, type: 'chat', id: 'pm' }, xml('body', {}, 'psst')),
      );
      const out = h.transport.sent.slice(since).map(String);
      expect(out[0]).toBe(`<iq from="${DAVE_PUPPET}" to="x@example.org/a" id="q1" type="result"/>`);
      expect(out[1]).toContain('<service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>');
      await h.transport.waitForSent((el) => el.name === 'message' && el.attrs.id === 'dm', 'the bounce', since);
      const bounce = h.transport.sent.find((el) => el.attrs.id === 'dm')!;
      expect(bounce.attrs).toMatchObject({ type: 'error', to: 'x@example.org/a', from: DAVE_PUPPET });
      expect(h.transport.sent.find((el) => el.attrs.id === 'pm')).toBeUndefined();
    });

    it('rejoins after a new session and replays the archive after its cursor', async () => {
      h = await harness();
      await h.sink.waitFor((e) => e.kind === 'role', 'the initial occupants');
      await deliver(h, fromAlice(h, 'seen'));
      await h.sink.waitFor(isPost, 'the first post');
      h.transport.goOffline();
      fromAlice(h, 'missed 1');
      fromAlice(h, 'missed 2');
      const since = h.transport.sent.length;
      h.transport.goOnline();
      await h.sink.waitForCount(isPost, 3, 'the replayed posts');
      const mam = h.transport.sent.slice(since).find((el) => el.getChild('query', NS.MAM));
      expect(mam?.getChild('query', NS.MAM)?.getChild('set', NS.RSM)?.getChildText('after')).toBe('sid-1');
      expect(
        h.sink.matching(isPost).map((e) => e.kind === 'message' && e.action.type === 'post' && e.action.body.text),
      ).toEqual(['seen', 'missed 1', 'missed 2']);
    });

    it('rejoins when its XEP-0410 self-ping says it is no longer an occupant', async () => {
      h = await harness({ selfPingIntervalMs: 50 });
      await h.sink.waitFor((e) => e.kind === 'role', 'the initial occupants');
      const since = h.transport.sent.length;
      h.muc.room(ROOM).delete('MIMI'); // removed without being told (e.g. a MUC restart)
      await h.transport.waitForSent(
        (el) => el.name === 'presence' && el.attrs.to === `${ROOM}/MIMI`,
        'the rejoin',
        since,
      );
      await h.transport.waitForSent((el) => el.getChild('ping', NS.PING) !== undefined, 'a self-ping', since);
    });

    it('keeps occupancy over an XEP-0198 resumption (no rejoin)', async () => {
      h = await harness({ mode: 'relay' });
      await h.sink.waitFor((e) => e.kind === 'role', 'the initial occupants');
      const joins = (): number => h.transport.sent.filter((el) => el.name === 'presence').length;
      const before = joins();
      h.transport.goOffline();
      h.transport.goOnline(true);
      await h.bridge.post(
        ROOM_REF,
        DAVE,
        { type: 'post', body: { kind: 'text', text: 'after resume' } },
        { idempotencyKey: 'sm', timeoutMs: 2000 },
      );
      expect(joins()).toBe(before);
    });
  });

  describe('relay mode', () => {
    it('posts "<Name>: text" with the XEP-0172 nick and recognises the echo as the MIMI user', async () => {
      h = await harness({ mode: 'relay' });
      await h.sink.waitFor((e) => e.kind === 'role', 'the initial occupants');
      const res = await h.bridge.post(
        ROOM_REF,
        DAVE,
        { type: 'post', body: { kind: 'text', text: 'hello' } },
        { idempotencyKey: 'r1', timeoutMs: 2000 },
      );
      const sent = h.transport.sent.find((el) => el.name === 'message')!;
      expect(sent.attrs.from).toBeUndefined();
      expect(sent.getChildText('body')).toBe('Dave: hello');
      expect(sent.getChildText('nick', NS.NICK)).toBe('Dave');
      const echo = await h.sink.waitFor((e) => e.platformEventId === res.platformEventId, 'the echo');
      expect(echo).toMatchObject({ sender: { userUri: DAVE.userUri }, action: { body: { text: 'hello' } } });
      expect(h.bridge.isOwnUser(RELAY_ADDRESS)).toBe(true);
      expect(h.bridge.isOwnUser(`${ROOM}/MIMI`)).toBe(true);
    });

    it('does not join puppets', async () => {
      h = await harness({ mode: 'relay' });
      await h.bridge.setMembership(ROOM_REF, DAVE, 'join');
      expect([...h.muc.room(ROOM).keys()].sort()).toEqual(['MIMI', 'alice']);
    });
  });
});
