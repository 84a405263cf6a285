import { Logger } from '@nestjs/common';
import { ErrorCode, PlatformError } from '../../src/common/errors';
import { Platform } from '../../src/common/ids';
import { ParticipantRole } from '../../src/ports';
import { NS } from './protocol/namespaces';
import { xml } from './protocol/xml';
import { MemoryStateStore } from './state/bridge-state';
import {
  ALICE_JID,
  BOT_FULL_JID,
  COMPONENT,
  DAVE,
  DAVE_PUPPET,
  deliver,
  fromAlice,
  type Harness,
  harness,
  isPost,
  RELAY_ADDRESS,
  ROOM,
  ROOM_REF,
} from '../../test/kits/xmpp/bridge-harness';
import { FakeXmppTransport } from '../../test/kits/xmpp/fake-xmpp-transport';
import { XmppBridge } from './xmpp.bridge';

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
