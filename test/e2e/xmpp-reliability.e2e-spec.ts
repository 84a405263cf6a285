/**
 * XMPP reliability cases of docs/RELIABILITY.md against one real Prosody 0.12 (Debian), with the
 * bridge in process and a recording sink in place of the core:
 *
 * - T34: a native occupant takes a departed user's nick; a native client sends a forged
 *   occupant-id and a copied origin-id, and references (a correction, a reply) naming it;
 * - T36: a moderator's real client kicks the gateway's own occupant; a second component instance
 *   connects with the same name;
 * - T37: relay mode over a client stream (XEP-0198): the stream is cut with stanzas in flight both
 *   ways and stays down past Prosody's `smacks_hibernation_time`, so the resumption is refused
 *   (`<failed/>`) and the bridge starts a new session.
 *
 * Prosody runs with `smacks_hibernation_time = 3` (seconds) for the T37 case.
 */
import { randomUUID } from 'node:crypto';
import { Platform, userUri } from '../../src/common/ids';
import type { BridgeHost, InboundEvent, LegacyRoomRef, LinkStatus, RemoteUser } from '../../src/ports';
import { MemoryStateStore } from '../../bridges/xmpp/state/bridge-state';
import { NS } from '../../bridges/xmpp/protocol/namespaces';
import { xml, type XmlElement } from '../../bridges/xmpp/protocol/xml';
import { XmppBridge } from '../../bridges/xmpp/xmpp.bridge';
import { clientTransport } from '../../bridges/xmpp/session/xmpp-transport';
import { RecordingSink } from '../kits/xmpp/recording-sink';
import { PROSODY_MUC_DOMAIN, ProsodyServer } from '../servers/prosody/prosody-server';
import { XmppTestUser } from '../servers/prosody/xmpp-test-user';
import { prosodyComponentBridge } from '../servers/prosody/component-bridge';
import { FaultProxy } from '../support/fault-proxy';

const COMPONENT_DOMAIN = 'mimi.localhost';
const BOT_JID = `mimibot@${COMPONENT_DOMAIN}`;
const BOT_NICK = 'MIMI';
const RELAY_NICK = 'MIMI relay';
/** Prosody's smacks_hibernation_time here (seconds). */
const HIBERNATION_S = 3;
const account = (username: string) => ({ username, password: `${username}-pw` });
const ALICE = account('alice');
const BOB = account('bob');
const CAROL = account('carol');
const RELAY = account('relay');
const MIMI_DAVE: RemoteUser = { userUri: userUri('follower.example', 'dave'), displayName: 'Dave' };
const POST_TIMEOUT_MS = 15_000;

function roomJid(label: string): string {
  return `${label}-${randomUUID().slice(0, 8)}@${PROSODY_MUC_DOMAIN}`;
}

function inRoom(room: string): (e: InboundEvent) => boolean {
  return (e) => e.room.roomId === room;
}

function bodyIs(room: string, text: string): (e: InboundEvent) => boolean {
  return (e) => inRoom(room)(e) && e.kind === 'message' && e.action.type === 'post' && e.action.body.text === text;
}

function stanzaIdOf(el: XmlElement, room: string): string | undefined {
  return el.getChildren('stanza-id', NS.SID).find((s) => s.attrs.by === room)?.attrs.id;
}

/**
 * Send a groupchat message exactly as given (id, children: no origin-id added) and wait for its
 * reflection; returns the reflection.
 */
async function sendRaw(user: XmppTestUser, room: string, id: string, children: XmlElement[]): Promise<XmlElement> {
  const since = user.mark();
  await user.send(xml('message', { to: room, type: 'groupchat', id }, children));
  return user.waitFor(
    (el) => el.name === 'message' && el.attrs.type === 'groupchat' && el.attrs.id === id,
    `reflection of ${id}`,
    { since },
  );
}

describe('XMPP reliability against Prosody (T34, T36, T37)', () => {
  let prosody: ProsodyServer;
  let bridge: XmppBridge;
  let sink: RecordingSink;
  let alice: XmppTestUser;
  let bob: XmppTestUser;

  function componentBridge(connectTimeoutMs?: number): XmppBridge {
    return prosodyComponentBridge(prosody, {
      componentDomain: COMPONENT_DOMAIN,
      botNick: BOT_NICK,
      stateStore: new MemoryStateStore(),
      joinTimeoutMs: 6_000,
      ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}),
    });
  }

  /** A room owned by alice where everyone sees real JIDs, the bot a member, linked to the bridge. */
  async function linkedRoom(label: string, botAffiliation = 'owner'): Promise<{ jid: string; ref: LegacyRoomRef }> {
    const jid = roomJid(label);
    await alice.createRoom(jid, 'alice', { 'muc#roomconfig_whois': 'anyone' });
    await alice.setAffiliation(jid, BOT_JID, botAffiliation);
    const ref = { platform: Platform.Xmpp, roomId: jid };
    await bridge.getRoomSnapshot(ref);
    return { jid, ref };
  }

  beforeAll(async () => {
    prosody = await ProsodyServer.start({
      componentDomain: COMPONENT_DOMAIN,
      accounts: [ALICE, BOB, CAROL, RELAY],
      extraGlobal: `smacks_hibernation_time = ${HIBERNATION_S}`,
    });
    alice = await XmppTestUser.connect(prosody.c2sService, ALICE.username, ALICE.password);
    bob = await XmppTestUser.connect(prosody.c2sService, BOB.username, BOB.password);
    sink = new RecordingSink();
    bridge = componentBridge();
    await bridge.start(sink.sink);
  });

  afterAll(async () => {
    // In this order: the bridge and the clients leave before the server goes.
    for (const running of [bridge, alice, bob, prosody]) await running?.stop();
  });

  describe('T34 MUC identity spoofing', () => {
    it('attributes by real JID and occupant-id, not nick or copied ids; references by stanza-id only (T34)', async () => {
      const { jid, ref } = await linkedRoom('spoof');
      await bridge.setMembership(ref, MIMI_DAVE, 'join');
      await bob.join(jid, 'bob');

      // Carol speaks and leaves; bob takes her nick and speaks as "carol".
      const carol = await XmppTestUser.connect(prosody.c2sService, CAROL.username, CAROL.password);
      let carolMsg: { id: string; stanzaId: string };
      try {
        await carol.join(jid, 'carol');
        carolMsg = await carol.say(jid, 'carol was here');
        await sink.waitFor(bodyIs(jid, 'carol was here'), "carol's message");
        await carol.leave(jid);
      } finally {
        await carol.stop();
      }
      await bob.leave(jid);
      await bob.join(jid, 'carol');
      const asCarol = await bob.say(jid, 'bob in carol’s nick');
      const taken = await sink.waitFor(bodyIs(jid, 'bob in carol’s nick'), 'the message from the taken nick');
      expect(taken).toMatchObject({ sender: { platform: Platform.Xmpp, userId: bob.jid } });
      expect(sink.matching(bodyIs(jid, 'carol was here'))[0]).toMatchObject({ sender: { userId: carol.jid } });

      // A correction from the taken nick naming carol's message id does not edit carol's message.
      const correctionId = randomUUID();
      await sendRaw(bob, jid, correctionId, [
        xml('body', {}, 'carol says something else'),
        xml('replace', { xmlns: NS.CORRECT, id: carolMsg.id }),
      ]);
      const correction = await sink.waitFor(
        (e) => inRoom(jid)(e) && e.kind === 'message' && e.action.type === 'edit' && e.sender.displayName === 'carol',
        'the correction from the taken nick',
      );
      expect(correction).toMatchObject({ sender: { userId: bob.jid } });
      expect(
        correction.kind === 'message' && correction.action.type === 'edit' && correction.action.target,
      ).not.toEqual({ platformEventId: carolMsg.stanzaId });

      // Dave (a MIMI user, a puppet here) posts; bob sees its origin-id and occupant-id and copies both.
      const since = bob.mark();
      const dave = await bridge.post(
        ref,
        MIMI_DAVE,
        { type: 'post', body: { kind: 'text', text: 'dave speaking' } },
        { idempotencyKey: randomUUID(), timeoutMs: POST_TIMEOUT_MS },
      );
      const daveSeen = await bob.waitFor((el) => stanzaIdOf(el, jid) === dave.platformEventId, "dave's post", {
        since,
      });
      const daveOriginId = daveSeen.getChild('origin-id', NS.SID)?.attrs.id;
      const daveOccupantId = daveSeen.getChild('occupant-id', 'urn:xmpp:occupant-id:0')?.attrs.id;
      expect(daveOriginId).toBe(dave.echoKeys[0]);
      expect(daveOccupantId).toBeDefined();

      const forged = await sendRaw(bob, jid, daveOriginId!, [
        xml('body', {}, 'forged as dave'),
        xml('origin-id', { xmlns: NS.SID, id: daveOriginId! }),
        xml('occupant-id', { xmlns: 'urn:xmpp:occupant-id:0', id: daveOccupantId! }),
      ]);
      // Prosody replaced the client's occupant-id with the real one.
      expect(forged.getChild('occupant-id', 'urn:xmpp:occupant-id:0')?.attrs.id).not.toBe(daveOccupantId);
      const forgedEvent = await sink.waitFor(bodyIs(jid, 'forged as dave'), 'the forged message');
      expect(forgedEvent).toMatchObject({ sender: { platform: Platform.Xmpp, userId: bob.jid } });
      expect(forgedEvent.kind === 'message' && forgedEvent.sender).not.toHaveProperty('userUri');
      expect(forgedEvent).not.toHaveProperty('echoKeys');

      // A correction and a reply naming the copied origin-id never reach dave's message.
      await sendRaw(bob, jid, randomUUID(), [
        xml('body', {}, 'corrected copy'),
        xml('replace', { xmlns: NS.CORRECT, id: daveOriginId! }),
      ]);
      const edit = await sink.waitFor(
        (e) =>
          inRoom(jid)(e) && e.kind === 'message' && e.action.type === 'edit' && e.action.body.text === 'corrected copy',
        'the correction naming the copied origin-id',
      );
      expect(edit).toMatchObject({
        sender: { userId: bob.jid },
        action: { target: { platformEventId: stanzaIdOf(forged, jid) } },
      });
      await sendRaw(bob, jid, randomUUID(), [
        xml('body', {}, 'reply to the copied id'),
        xml('reply', { xmlns: NS.REPLY, id: daveOriginId!, to: `${jid}/Dave` }),
      ]);
      const reply = await sink.waitFor(bodyIs(jid, 'reply to the copied id'), 'the reply naming the origin-id');
      expect(reply.kind === 'message' && reply.action.type === 'post' && reply.action.inReplyTo).not.toEqual({
        platformEventId: dave.platformEventId,
      });

      // Nothing bob sent is attributed to dave; dave's own post came back once, as the echo.
      const fromDave = sink.matching(
        (e) =>
          inRoom(jid)(e) && e.kind === 'message' && 'userUri' in e.sender && e.sender.userUri === MIMI_DAVE.userUri,
      );
      expect(fromDave.map((e) => e.platformEventId)).toEqual([dave.platformEventId]);
      expect(asCarol.stanzaId).not.toBe('');
    });
  });

  describe('T36 the gateway’s own occupant removed', () => {
    it('rejoins after a moderator kicks its occupant; what was said meanwhile and after arrives once (T36)', async () => {
      const { jid, ref } = await linkedRoom('kick', 'member');
      await bob.join(jid, 'bob');
      await bridge.setMembership(ref, MIMI_DAVE, 'join');
      const first = await bob.say(jid, 'before the kick');
      await sink.waitFor((e) => e.platformEventId === first.stanzaId, 'the first message');

      const since = alice.mark();
      await alice.setRole(jid, BOT_NICK, 'none', 'go away');
      await alice.waitFor(
        (el) => el.name === 'presence' && el.attrs.from === `${jid}/${BOT_NICK}` && el.attrs.type === 'unavailable',
        'the bot kicked',
        { since },
      );
      const during = await bob.say(jid, 'while the bridge is out');
      await alice.waitFor(
        (el) => el.name === 'presence' && el.attrs.from === `${jid}/${BOT_NICK}` && el.attrs.type === undefined,
        'the bot back',
        { since, timeoutMs: 30_000 },
      );
      const after = await bob.say(jid, 'after the rejoin');
      await sink.waitFor((e) => e.platformEventId === after.stanzaId, 'the message after the rejoin', 30_000);
      await sink.waitFor((e) => e.platformEventId === during.stanzaId, 'the message while out', 30_000);
      const posted = await bridge.post(
        ref,
        MIMI_DAVE,
        { type: 'post', body: { kind: 'text', text: 'dave after the rejoin' } },
        { idempotencyKey: randomUUID(), timeoutMs: POST_TIMEOUT_MS },
      );
      await bob.waitFor((el) => stanzaIdOf(el, jid) === posted.platformEventId, "dave's post after the rejoin");

      for (const id of [first.stanzaId, during.stanzaId, after.stanzaId]) {
        expect(sink.matching((e) => e.platformEventId === id)).toHaveLength(1);
      }
      expect(bridge.botNickIn(ref)).toBe(BOT_NICK);
      const archived = await alice.archive(jid);
      expect(archived.filter((el) => el.getChildText('body') === 'dave after the rejoin')).toHaveLength(1);
    });

    it('keeps the connected component when a second instance connects with the same name (T36)', async () => {
      const { jid } = await linkedRoom('twin');
      await bob.join(jid, 'bob');
      const twin = componentBridge(4_000);
      const twinSink = new RecordingSink();
      const refused = await twin.start(twinSink.sink).then(
        () => undefined,
        (e: unknown) => e,
      );
      await twin.stop();
      expect(refused).toBeInstanceOf(Error);
      const msg = await bob.say(jid, 'after the twin tried');
      await sink.waitFor((e) => e.platformEventId === msg.stanzaId, 'a message after the twin', 30_000);
      expect(sink.matching((e) => e.platformEventId === msg.stanzaId)).toHaveLength(1);
      expect(twinSink.events).toEqual([]);
    });
  });

  describe('T37 relay mode: resumption after the hibernation expired', () => {
    let relay: XmppBridge | undefined;
    let proxy: FaultProxy | undefined;

    afterAll(async () => {
      await relay?.stop();
      await proxy?.close();
    });

    it('starts a new session on <failed/>: posts in flight land once, what was said meanwhile arrives once (T37)', async () => {
      const room = roomJid('hibernate');
      await alice.createRoom(room, 'alice', { 'muc#roomconfig_whois': 'anyone' });
      await alice.setAffiliation(room, `${RELAY.username}@localhost`, 'admin');
      await bob.join(room, 'bob');
      proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: prosody.c2sPort }, label: 'relay>prosody' });
      const relaySink = new RecordingSink();
      const host: BridgeHost = {
        link: async () => ({}) as LinkStatus,
        unlink: async () => undefined,
        status: async () => undefined,
        joinRemote: async () => {
          throw new Error('not used');
        },
      };
      const transport = clientTransport(
        { service: `xmpp://127.0.0.1:${proxy.port}`, jid: `${RELAY.username}@localhost`, password: RELAY.password },
        { initialMs: 100, maxMs: 1000 },
      );
      relay = new XmppBridge({
        mode: 'relay',
        transport,
        botNick: RELAY_NICK,
        links: [room],
        stateStore: new MemoryStateStore(),
        joinTimeoutMs: 10_000,
      });
      await relay.start(relaySink.sink, host);
      expect(transport.streamManagement).toBe(true);
      // What the server answers to stream management requests (<enabled/>, <resumed/>, <failed/>).
      const smAnswers: string[] = [];
      const entity = (transport as unknown as { entity: { on(e: 'nonza', f: (el: XmlElement) => void): void } }).entity;
      entity.on('nonza', (el) => {
        if (el.attrs.xmlns === 'urn:xmpp:sm:3' && el.name !== 'r' && el.name !== 'a') smAnswers.push(el.name);
      });
      const ref = { platform: Platform.Xmpp, roomId: room };
      const warm = await bob.say(room, 'before the cut');
      await relaySink.waitFor((e) => e.platformEventId === warm.stanzaId, 'a message before the cut');
      const post = (text: string) =>
        relay!.post(
          ref,
          MIMI_DAVE,
          { type: 'post', body: { kind: 'text', text } },
          { idempotencyKey: randomUUID(), timeoutMs: 90_000 },
        );

      // In flight downstream: the MUC got it, the relay never sees the reflection.
      const sinceBob = bob.mark();
      proxy.set({ down: { stallRate: 1 } });
      const reflectionLost = post('reached the room, reflection lost');
      await bob.waitFor(
        (el) => el.getChildText('body') === 'Dave: reached the room, reflection lost',
        'B in the room',
        {
          since: sinceBob,
        },
      );
      // In flight upstream: never reaches the MUC on this stream.
      proxy.set({ up: { stallRate: 1 }, down: { stallRate: 1 } });
      const neverArrived = post('lost on the way up');
      await new Promise((r) => setTimeout(r, 500));
      const missedLive = await bob.say(room, 'said while the relay hibernates');

      // Cut, and refuse every new connection until Prosody has given the session up.
      proxy.set({ dropRate: 1 });
      proxy.cutAll();
      await bob.waitFor(
        (el) => el.name === 'presence' && el.attrs.from === `${room}/${RELAY_NICK}` && el.attrs.type === 'unavailable',
        'the relay’s session expired',
        { since: sinceBob, timeoutMs: 30_000 + HIBERNATION_S * 1000 },
      );
      const missedAfterExpiry = await bob.say(room, 'said after the session expired');
      proxy.heal();

      // A new session (the resumption failed): the relay rejoins, catches up and sends again.
      await bob.waitFor(
        (el) => el.name === 'presence' && el.attrs.from === `${room}/${RELAY_NICK}` && el.attrs.type === undefined,
        'the relay rejoined',
        { since: sinceBob, timeoutMs: 60_000 },
      );
      const [b, a] = await Promise.all([reflectionLost, neverArrived]);
      for (const m of [missedLive, missedAfterExpiry]) {
        await relaySink.waitFor((e) => e.platformEventId === m.stanzaId, 'a message said while away', 30_000);
      }
      const after = await bob.say(room, 'after the new session');
      await relaySink.waitFor((e) => e.platformEventId === after.stanzaId, 'a live message after');

      // The resumption was tried and refused, then stream management enabled on the new session.
      expect(smAnswers).toEqual(['failed', 'enabled']);
      expect(transport.streamManagement).toBe(true);
      for (const m of [warm, missedLive, missedAfterExpiry, after]) {
        expect(relaySink.matching((e) => e.platformEventId === m.stanzaId)).toHaveLength(1);
      }
      const archived = await alice.archive(room);
      const bodies = archived.map((el) => el.getChildText('body'));
      expect(bodies.filter((x) => x === 'Dave: reached the room, reflection lost')).toHaveLength(1);
      expect(bodies.filter((x) => x === 'Dave: lost on the way up')).toHaveLength(1);
      // Bob saw each once, and each post's result names the stanza-id bob saw.
      const seenByBob = bob.groupchats(room, sinceBob);
      for (const [text, result] of [
        ['Dave: reached the room, reflection lost', b],
        ['Dave: lost on the way up', a],
      ] as const) {
        const seen = seenByBob.filter((el) => el.getChildText('body') === text);
        expect(seen).toHaveLength(1);
        expect(stanzaIdOf(seen[0]!, room)).toBe(result.platformEventId);
      }
    });
  });
});
