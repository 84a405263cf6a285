/**
 * RELIABILITY T28, the Matrix → XMPP direction at unit level: a Matrix event near Synapse's
 * 64 KiB limit, mapped by the Matrix bridge and posted by the XMPP bridge against the stanza size
 * limit of its mode (Prosody's defaults: 512 KiB for a component stream, 256 KiB for c2s). XML
 * escaping makes the stanza up to five times the text (`&` → `&amp;`). The XMPP server is the
 * bridge harness's fake; the real-Prosody e2e is "refuses an oversized body cleanly and keeps
 * the component connected".
 */
import { Logger } from '@nestjs/common';
import { ErrorCode } from '../../src/common/errors';
import type { InboundEvent, MessageAction } from '../../src/ports';
import { MatrixIds } from '../../bridges/matrix/matrix-ids';
import { type MapperContext, type MatrixEvent, mapMatrixEvent } from '../../bridges/matrix/matrix-event.mapper';
import { stanzaBytes } from '../../bridges/xmpp/protocol/xml';
import { DAVE, type Harness, ROOM_REF, harness } from '../kits/xmpp/bridge-harness';

/** Synapse refuses an event whose canonical JSON is over 65 536 bytes. */
const MATRIX_EVENT_LIMIT = 65_536;
const ids = new MatrixIds('_mimi_', 'hs.test', 'mimibot');
const ctx: MapperContext = {
  ids,
  homeserverUrl: 'http://127.0.0.1:8008',
  mentions: { userUriOf: () => undefined, mxidOf: () => undefined },
};

/** An m.room.message whose JSON is just under the Matrix limit, its body `unit` repeated. */
function nearLimitEvent(unit: string): MatrixEvent {
  const base: MatrixEvent = {
    event_id: '$near-limit',
    room_id: '!room:hs.test',
    sender: '@alice:hs.test',
    origin_server_ts: 1_700_000_000_000,
    type: 'm.room.message',
    content: { msgtype: 'm.text', body: '' },
  };
  const room = MATRIX_EVENT_LIMIT - 512 - Buffer.byteLength(JSON.stringify(base));
  return { ...base, content: { msgtype: 'm.text', body: unit.repeat(Math.floor(room / Buffer.byteLength(unit))) } };
}

function postActionOf(ev: MatrixEvent): MessageAction {
  const mapped = mapMatrixEvent(ev, ctx);
  if (mapped.kind !== 'inbound') throw new Error(`expected inbound, got ${mapped.kind}`);
  const message = mapped.events.find((e): e is Extract<InboundEvent, { kind: 'message' }> => e.kind === 'message');
  if (message === undefined || message.action.type !== 'post') throw new Error('expected a post');
  return message.action;
}

describe('a Matrix event near 64 KiB posted to XMPP (T28)', () => {
  let h: Harness;
  beforeAll(() => Logger.overrideLogger(false));
  afterEach(async () => h?.bridge.stop());

  const sentMessages = () => h.transport.sent.filter((el) => el.name === 'message');
  const post = (action: MessageAction, idempotencyKey: string) =>
    h.bridge.post(ROOM_REF, DAVE, action, { idempotencyKey, timeoutMs: 5000 });

  it('is bridged as one stanza within the component limit, even when every character is escaped', async () => {
    h = await harness({ mode: 'component' });
    for (const [i, unit] of ['a', '&', '<>', '\u20ac'].entries()) {
      const ev = nearLimitEvent(unit);
      const size = Buffer.byteLength(JSON.stringify(ev));
      expect(size).toBeGreaterThan(MATRIX_EVENT_LIMIT - 1024);
      expect(size).toBeLessThanOrEqual(MATRIX_EVENT_LIMIT);
      const action = postActionOf(ev);
      const result = await post(action, `near-limit-${i}`);
      expect(result.platformEventId).toEqual(expect.any(String));
      const sent = sentMessages()[i]!;
      expect(stanzaBytes(sent)).toBeLessThanOrEqual(512 * 1024);
      expect(sent.getChildText('body')).toBe((ev.content as { body: string }).body);
    }
    expect(sentMessages()).toHaveLength(4);
  });

  it('is refused cleanly in relay mode when escaping takes the stanza past the c2s limit, and the next post goes out', async () => {
    h = await harness({ mode: 'relay' });
    const escaped = postActionOf(nearLimitEvent('&'));
    const err = await post(escaped, 'escaped').catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: ErrorCode.PlatformRejected,
      retryable: false,
      message: expect.stringMatching(/exceeds the XMPP server's limit of 262144 bytes/),
    });
    expect(sentMessages()).toEqual([]);
    // The same size of plain text fits, and the connection is still used for it.
    const plain = await post(postActionOf(nearLimitEvent('a')), 'plain');
    expect(plain.platformEventId).toEqual(expect.any(String));
    expect(sentMessages()).toHaveLength(1);
    expect(stanzaBytes(sentMessages()[0]!)).toBeLessThanOrEqual(256 * 1024);
  });
});
