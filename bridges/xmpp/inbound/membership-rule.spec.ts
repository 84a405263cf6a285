import { Logger } from '@nestjs/common';
import type { InboundEvent } from '../../../src/ports';
import { NS } from '../protocol/namespaces';
import { parseMucPresence } from '../protocol/stanzas';
import { xml } from '../protocol/xml';
import { BOT_FULL_JID, type Harness, harness, ROOM } from '../../../test/kits/xmpp/bridge-harness';
import { isLeaveCommand, membershipEnded } from './membership-rule';

const unavailable = (...codes: number[]) =>
  parseMucPresence(
    xml(
      'presence',
      { from: `${ROOM}/carol`, to: BOT_FULL_JID, type: 'unavailable' },
      xml(
        'x',
        { xmlns: NS.MUC_USER },
        xml('item', { affiliation: 'none', role: 'none' }),
        codes.map((c) => xml('status', { code: String(c) })),
      ),
    ),
  );

describe('membership rule (presence is not membership)', () => {
  it('reads only MUC removals as the end of a membership, never going offline', () => {
    expect(membershipEnded(unavailable())).toBeUndefined();
    expect(membershipEnded(unavailable(307))).toBe('kick');
    expect(membershipEnded(unavailable(321))).toBe('kick');
    expect(membershipEnded(unavailable(322))).toBe('kick');
    expect(membershipEnded(unavailable(333))).toBe('kick');
    expect(membershipEnded(unavailable(301))).toBe('ban');
  });

  it('knows the explicit leave command, and nothing that merely mentions it', () => {
    expect(isLeaveCommand('!mimi leave')).toBe(true);
    expect(isLeaveCommand('  !MIMI   Leave ')).toBe(true);
    expect(isLeaveCommand('I will !mimi leave later')).toBe(false);
    expect(isLeaveCommand(undefined)).toBe(false);
  });

  describe('through the bridge', () => {
    let h: Harness;
    beforeAll(() => Logger.overrideLogger(false));
    afterEach(async () => h?.bridge.stop());

    const carolEvents = (kind: string) =>
      h.sink.matching(
        (e: InboundEvent) => e.kind === 'membership' && e.membership === kind && e.user.displayName === 'carol',
      );

    it('an occupant who goes offline and comes back is neither a leave nor a new join; `!mimi leave` is a leave', async () => {
      h = await harness();
      await h.sink.waitFor((e) => e.kind === 'role', 'the initial occupants');
      h.muc.seat(ROOM, {
        nick: 'carol',
        jid: 'carol@example.org/x',
        affiliation: 'none',
        role: 'participant',
        occupantId: 'occ-c',
      });
      const carol = h.muc.room(ROOM).get('carol')!;
      await h.transport.inject(h.muc.presenceOf(ROOM, carol, BOT_FULL_JID));
      await h.sink.waitFor((e) => e.kind === 'membership' && e.membership === 'join', 'carol joining');
      await h.transport.inject(h.muc.presenceOf(ROOM, carol, BOT_FULL_JID, [], 'unavailable'));
      await h.transport.inject(h.muc.presenceOf(ROOM, carol, BOT_FULL_JID));
      await h.transport.inject(
        xml(
          'message',
          { from: `${ROOM}/carol`, to: BOT_FULL_JID, type: 'groupchat', id: 'leave-1' },
          xml('body', {}, '!mimi leave'),
          xml('stanza-id', { xmlns: NS.SID, by: ROOM, id: 'sid-leave-1' }),
        ),
      );
      await h.sink.waitFor((e) => e.kind === 'membership' && e.membership === 'leave', 'carol leaving');
      expect(carolEvents('join')).toHaveLength(1);
      expect(carolEvents('leave')).toHaveLength(1);
      expect(h.sink.matching((e) => e.kind === 'message')).toEqual([]);
    });
  });
});
