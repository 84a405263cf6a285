import { Logger } from '@nestjs/common';
import { ErrorCode } from '../../../src/common/errors';
import { Platform, userUri } from '../../../src/common/ids';
import { ParticipantRole, type RemoteUser } from '../../../src/ports';
import { NS } from '../protocol/namespaces';
import { xml, type XmlElement } from '../protocol/xml';
import {
  ALICE,
  ALICE_JID,
  BOT_FULL_JID,
  COMPONENT,
  DAVE,
  DAVE_PUPPET,
  type Harness,
  harness,
  ROOM,
  ROOM_REF,
} from '../../../test/kits/xmpp/bridge-harness';
import { XmppBridge } from '../xmpp.bridge';

describe(XmppBridge.name, () => {
  let h: Harness;
  beforeAll(() => Logger.overrideLogger(false));
  afterEach(async () => h?.bridge.stop());

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

  describe('names', () => {
    it('a puppet that joined before its name was known takes the name with its first post', async () => {
      h = await harness();
      await h.sink.waitFor((e) => e.kind === 'role', 'the initial occupants');
      const unnamed: RemoteUser = { userUri: DAVE.userUri };
      await h.bridge.setMembership(ROOM_REF, unnamed, 'join');
      const firstNick = h.bridge.puppetNick(ROOM_REF, DAVE.userUri);
      expect(firstNick).not.toBe('Dave');
      await h.bridge.post(
        ROOM_REF,
        DAVE,
        { type: 'post', body: { kind: 'text', text: 'named now' } },
        { idempotencyKey: 'n1', timeoutMs: 2000 },
      );
      expect(h.bridge.puppetNick(ROOM_REF, DAVE.userUri)).toBe('Dave');
      const message = h.transport.sent.find((el) => el.name === 'message' && el.getChildText('body') === 'named now')!;
      const change = h.transport.sent.findIndex((el) => el.name === 'presence' && el.attrs.to === `${ROOM}/Dave`);
      expect(change).toBeGreaterThanOrEqual(0);
      expect(change).toBeLessThan(h.transport.sent.indexOf(message));
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
});
