import { Logger } from '@nestjs/common';
import { NS } from '../protocol/namespaces';
import { xml, type XmlElement } from '../protocol/xml';
import {
  ALICE_JID,
  BOT_FULL_JID,
  deliver,
  FILES_HOST,
  fromAlice,
  type Harness,
  harness,
  isPost,
  ROOM,
} from '../../../test/kits/xmpp/bridge-harness';
import { CanaryServer } from '../../../test/support/canary-server';
import { XmppBridge } from '../xmpp.bridge';

describe(XmppBridge.name, () => {
  let h: Harness;
  beforeAll(() => Logger.overrideLogger(false));
  afterEach(async () => h?.bridge.stop());

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

    it('keeps OOB links to loopback, link-local, private hosts and file: as text only, fetching none (T27)', async () => {
      const canary = await CanaryServer.start();
      try {
        const urls = [
          canary.url('/a.png'),
          canary.url('/b.png', 'https'),
          `http://localhost:${canary.port}/c.png`,
          'http://169.254.169.254/latest/meta-data/d.png',
          'https://10.0.0.1/e.png',
          'https://192.168.1.1/f.png',
          'file:///etc/passwd',
        ];
        for (const url of urls) await deliver(h, fromAlice(h, url, [xml('x', { xmlns: NS.OOB }, xml('url', {}, url))]));
        const posts = await h.sink.waitForCount(isPost, urls.length, 'every post');
        expect(posts.map((e) => e.kind === 'message' && e.action.type === 'post' && e.action.body)).toEqual(
          urls.map((text) => ({ kind: 'text', text })),
        );
        expect(canary.requests).toEqual([]);
        expect(canary.hits).toBe(0);
      } finally {
        await canary.close();
      }
    });

    it('drops an XHTML-IM payload (XEP-0071) with script and reports only the plain body (T29)', async () => {
      const xhtml = xml(
        'html',
        { xmlns: 'http://jabber.org/protocol/xhtml-im' },
        xml(
          'body',
          { xmlns: 'http://www.w3.org/1999/xhtml' },
          xml('p', { onclick: 'alert(1)' }, 'rich ', xml('script', {}, 'alert(2)')),
          xml('a', { href: 'javascript:alert(3)' }, 'link'),
          xml('img', { src: 'x', onerror: 'alert(4)' }),
        ),
      );
      await deliver(h, fromAlice(h, 'plain body only', [xhtml]));
      const post = await h.sink.waitFor(isPost, 'the post');
      expect(post).toMatchObject({ action: { type: 'post', body: { kind: 'text', text: 'plain body only' } } });
      expect(post.kind === 'message' && post.action.type === 'post' && post.action.body.markdown).toBeUndefined();
      expect(JSON.stringify(post)).not.toMatch(/script|alert|javascript|onerror|onclick|xhtml|rich/);
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

    it('resolves a correction within its sender’s own messages: a copied message id reaches no one else’s (T34)', async () => {
      const stanzaIdOf = (stanzas: XmlElement[]) => stanzas[0]!.getChild('stanza-id', NS.SID)!.attrs.id!;
      const original = fromAlice(h, 'mine', [], 'shared-id');
      await deliver(h, original);
      // Mallory (another occupant) sends a message with the same id, then corrects "it".
      const mallory = {
        nick: 'mallory',
        jid: 'mallory@example.org/x',
        affiliation: 'none',
        role: 'participant',
        occupantId: 'occ-mallory',
      };
      h.muc.seat(ROOM, mallory);
      const from = (body: string, extra: XmlElement[], id: string) =>
        h.muc.broadcast(
          ROOM,
          h.muc.room(ROOM).get('mallory')!,
          xml('message', { type: 'groupchat', id }, xml('body', {}, body), extra),
        );
      const copy = from('copy', [], 'shared-id');
      await deliver(h, copy);
      await deliver(h, from('corrected', [xml('replace', { xmlns: NS.CORRECT, id: 'shared-id' })], 'm-2'));
      await deliver(h, fromAlice(h, 'mine, corrected', [xml('replace', { xmlns: NS.CORRECT, id: 'shared-id' })]));
      const edits = await h.sink.waitForCount((e) => e.kind === 'message' && e.action.type === 'edit', 2, 'two edits');
      expect(
        edits.map((e) => e.kind === 'message' && e.action.type === 'edit' && e.action.target.platformEventId),
      ).toEqual([stanzaIdOf(copy), stanzaIdOf(original)]);
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
});
