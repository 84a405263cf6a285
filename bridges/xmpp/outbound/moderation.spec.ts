import { Logger } from '@nestjs/common';
import { ErrorCode } from '../../../src/common/errors';
import { NS } from '../protocol/namespaces';
import { buildModerateRetract, parseModeration } from '../protocol/stanzas';
import { xml } from '../protocol/xml';
import {
  DAVE,
  deliver,
  fromAlice,
  type Harness,
  harness,
  ROOM,
  ROOM_REF,
} from '../../../test/kits/xmpp/bridge-harness';
import { moderationEventId } from './moderation';

/** The room's XEP-0425 0.2 announcement (Prosody's mod_muc_moderation) that `nick` retracted `stanzaId`. */
function announcementV0(stanzaId: string, nick: string, to?: string) {
  return xml(
    'message',
    { from: ROOM, to, type: 'groupchat' },
    xml(
      'apply-to',
      { xmlns: NS.FASTEN, id: stanzaId },
      xml('moderated', { xmlns: NS.MODERATE_0, by: `${ROOM}/${nick}` }, xml('retract', { xmlns: NS.RETRACT_0 })),
    ),
  );
}

describe('XEP-0425 moderation stanzas', () => {
  it('builds the 1.0 request and the 0.2 fastening Prosody’s mod_muc_moderation reads', () => {
    const p = { from: 'bot@c/x', to: ROOM, id: 'i1', stanzaId: 's1', reason: 'spam' };
    expect(buildModerateRetract({ ...p, version: 1 }).toString()).toBe(
      `<iq from="bot@c/x" to="${ROOM}" type="set" id="i1"><moderate xmlns="urn:xmpp:message-moderate:1" id="s1"><retract xmlns="urn:xmpp:message-retract:1"/><reason>spam</reason></moderate></iq>`,
    );
    expect(buildModerateRetract({ ...p, version: 0 }).toString()).toBe(
      `<iq from="bot@c/x" to="${ROOM}" type="set" id="i1"><apply-to xmlns="urn:xmpp:fasten:0" id="s1"><moderate xmlns="urn:xmpp:message-moderate:0"><retract xmlns="urn:xmpp:message-retract:0"/><reason>spam</reason></moderate></apply-to></iq>`,
    );
  });

  it('reads both announcement forms, and nothing from an ordinary retraction', () => {
    const v1 = xml(
      'message',
      { from: ROOM, type: 'groupchat' },
      xml(
        'retract',
        { xmlns: NS.RETRACT, id: 's1' },
        xml('moderated', { xmlns: NS.MODERATE, by: `${ROOM}/alice` }),
        xml('reason', {}, 'spam'),
      ),
    );
    expect(parseModeration(v1)).toEqual({ stanzaId: 's1', by: `${ROOM}/alice`, reason: 'spam' });
    const v0 = announcementV0('s2', 'alice');
    expect(parseModeration(v0)).toEqual({ stanzaId: 's2', by: `${ROOM}/alice` });
    const own = xml(
      'message',
      { from: `${ROOM}/bob`, type: 'groupchat' },
      xml('retract', { xmlns: NS.RETRACT, id: 's3' }),
    );
    expect(parseModeration(own)).toBeUndefined();
  });
});

describe('XMPP bridge: moderator deletes', () => {
  let h: Harness;
  beforeAll(() => Logger.overrideLogger(false));
  afterEach(async () => h?.bridge.stop());
  const opts = (k: string) => ({ idempotencyKey: k, timeoutMs: 2000 });

  /** alice's message, as the bridge recorded it: its stanza-id. */
  async function aliceSays(text: string): Promise<string> {
    await deliver(h, fromAlice(h, text));
    const ev = await h.sink.waitFor(
      (e) => e.kind === 'message' && e.action.type === 'post' && e.action.body.text === text,
      'alice’s message',
    );
    return ev.platformEventId;
  }

  it('moderates a MIMI moderator’s delete of an occupant’s message through the bot, and does not report it back', async () => {
    h = await harness({ moderation: 0 });
    const target = await aliceSays('spam');
    const res = await h.bridge.post(
      ROOM_REF,
      DAVE,
      { type: 'delete', target: { platformEventId: target } },
      opts('d1'),
    );
    expect(res.platformEventId).toBe(moderationEventId(ROOM, target));
    expect(h.muc.moderated).toEqual([
      { room: ROOM, stanzaId: target, reason: 'Deleted by Dave, a moderator of the MIMI room' },
    ]);
    expect(h.transport.sent.filter((el) => el.getChild('retract', NS.RETRACT))).toEqual([]);
    // The retry of the same post does not moderate twice.
    expect(
      await h.bridge.post(ROOM_REF, DAVE, { type: 'delete', target: { platformEventId: target } }, opts('d1')),
    ).toEqual(res);
    expect(h.muc.moderated).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 50));
    expect(h.sink.matching((e) => e.kind === 'message' && e.action.type === 'delete')).toEqual([]);
  });

  it('retracts a MIMI user’s own message with XEP-0424, as before', async () => {
    h = await harness({ moderation: 0 });
    const mine = await h.bridge.post(ROOM_REF, DAVE, { type: 'post', body: { kind: 'text', text: 'oops' } }, opts('p'));
    await h.bridge.post(
      ROOM_REF,
      DAVE,
      { type: 'delete', target: { platformEventId: mine.platformEventId } },
      opts('d'),
    );
    expect(h.muc.moderated).toEqual([]);
    const retract = h.transport.sent.find((el) => el.getChild('retract', NS.RETRACT) !== undefined);
    expect(retract?.getChild('retract', NS.RETRACT)?.attrs.id).toBe(mine.platformEventId);
  });

  it('refuses a moderator’s delete in a room without XEP-0425, for good', async () => {
    h = await harness();
    const target = await aliceSays('spam');
    await expect(
      h.bridge.post(ROOM_REF, DAVE, { type: 'delete', target: { platformEventId: target } }, opts('d2')),
    ).rejects.toMatchObject({ code: ErrorCode.PlatformRejected, retryable: false });
    expect(h.muc.moderated).toEqual([]);
  });

  it('reports a native moderator’s retraction as their delete of the message', async () => {
    h = await harness({ moderation: 0 });
    const target = await aliceSays('to be moderated');
    const announcement = announcementV0(target, 'alice', 'mimibot@mimi.test/mimi');
    await h.transport.inject(announcement);
    const ev = await h.sink.waitFor((e) => e.kind === 'message' && e.action.type === 'delete', 'the delete');
    expect(ev).toMatchObject({
      platformEventId: moderationEventId(ROOM, target),
      sender: { userId: 'alice@example.org' },
      action: { type: 'delete', target: { platformEventId: target } },
    });
  });
});
