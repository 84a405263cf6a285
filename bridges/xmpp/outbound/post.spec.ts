import { Logger } from '@nestjs/common';
import { ErrorCode, PlatformError } from '../../../src/common/errors';
import { Platform } from '../../../src/common/ids';
import { originIdFor } from '../outbound/origin-id';
import { NS } from '../protocol/namespaces';
import { type XmlElement } from '../protocol/xml';
import {
  DAVE,
  DAVE_PUPPET,
  FILES_HOST,
  type Harness,
  harness,
  ROOM,
  ROOM_REF,
  SHORT_TIMEOUT_MS,
} from '../../../test/kits/xmpp/bridge-harness';
import { XmppBridge } from '../xmpp.bridge';

describe(XmppBridge.name, () => {
  let h: Harness;
  beforeAll(() => Logger.overrideLogger(false));
  afterEach(async () => h?.bridge.stop());

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

    describe("the stanza size limit (the default: Prosody's 512 KiB for component streams), in UTF-8 bytes", () => {
      const LIMIT = 512 * 1024;
      /** 3 bytes of UTF-8 and one UTF-16 code unit: counting code units would see a third of the size. */
      const EURO = '\u20ac';
      const sentMessages = () => h.transport.sent.filter((el) => el.name === 'message');
      const post = (text: string, idempotencyKey: string) =>
        h.bridge.post(
          ROOM_REF,
          DAVE,
          { type: 'post', body: { kind: 'text', text } },
          { idempotencyKey, timeoutMs: 5000 },
        );
      /** Text of exactly `bytes` UTF-8 bytes, nearly all of them in multi-byte characters. */
      const textOfBytes = (bytes: number) => EURO.repeat(Math.floor(bytes / 3)) + 'a'.repeat(bytes % 3);

      it.each([
        ['just under', -1],
        ['at', 0],
        ['over', 1],
      ])('multi-byte text %s the limit', async (_where, offset) => {
        // The stanza around the body: a probe post's size less its one-byte body (same key length, same ids).
        await post('x', 'probe-000');
        const envelope = Buffer.byteLength(sentMessages()[0]!.toString(), 'utf8') - 1;
        const text = textOfBytes(LIMIT - envelope + offset);

        const outcome = await post(text, 'sized-000').catch((e: unknown) => e);

        if (offset <= 0) {
          expect(outcome).toMatchObject({ platformEventId: expect.any(String) });
          expect(Buffer.byteLength(sentMessages()[1]!.toString(), 'utf8')).toBe(LIMIT + offset);
        } else {
          expect(outcome).toBeInstanceOf(PlatformError);
          expect(outcome).toMatchObject({
            code: ErrorCode.PlatformRejected,
            retryable: false,
            message: `stanza of ${LIMIT + 1} bytes exceeds the XMPP server's limit of ${LIMIT} bytes`,
          });
          expect(sentMessages()).toHaveLength(1);
        }
      });
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

    it('sends every file of a post: one XEP-0066 and one XEP-0447 element each, in order, and a line each in the body', async () => {
      const files = [
        { url: `https://${FILES_HOST}/a.png`, contentType: 'image/png', filename: 'a.png' },
        { url: 'https://elsewhere.example/x.zip', contentType: 'application/zip', filename: 'x.zip' },
        { url: `https://${FILES_HOST}/b.pdf`, contentType: 'application/pdf', filename: 'b.pdf', size: 9 },
      ];
      const result = await h.bridge.post(
        ROOM_REF,
        DAVE,
        { type: 'post', body: { kind: 'text', text: 'two files', attachments: files } },
        { idempotencyKey: 'files', timeoutMs: 2000 },
      );
      const sent = h.transport.sent.find((el) => el.name === 'message')!;
      expect(sent.getChildren('x', NS.OOB).map((x) => x.getChildText('url'))).toEqual([files[0]!.url, files[2]!.url]);
      expect(
        sent.getChildren('file-sharing', NS.SFS).map((f) => f.getChild('file', NS.FILE_METADATA)!.getChildText('name')),
      ).toEqual(['a.png', 'b.pdf']);
      expect(sent.getChildText('body')).toBe(
        `two files\n${files[0]!.url}\n${files[2]!.url}\n[attachment not bridged: x.zip]`,
      );
      // The reflection reads back with both files.
      const echo = await h.sink.waitFor((e) => e.platformEventId === result.platformEventId, 'the echo');
      expect(echo).toMatchObject({
        action: {
          body: {
            attachments: [
              { url: files[0]!.url, contentType: 'image/png', filename: 'a.png' },
              { url: files[2]!.url, contentType: 'application/pdf', filename: 'b.pdf', size: 9 },
            ],
          },
        },
      });
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
});
