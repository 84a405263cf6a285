/**
 * The XMPP bridge (component mode, XEP-0114) against a real Prosody 0.12 from Debian, with real
 * @xmpp/client connections as the MUC's native users and a recording sink in place of the core.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, PlatformError } from '../../src/common/errors';
import { Platform, userUri } from '../../src/common/ids';
import {
  type InboundEvent,
  type LegacyRoomRef,
  type MessageAction,
  ParticipantRole,
  type RemoteUser,
} from '../../src/ports';
import { FileStateStore } from '../../bridges/xmpp/state/bridge-state';
import { NS } from '../../bridges/xmpp/protocol/namespaces';
import { puppetJid } from '../../bridges/xmpp/protocol/puppet-jid';
import { RecordingSink } from '../kits/xmpp/recording-sink';
import { xml, type XmlElement } from '../../bridges/xmpp/protocol/xml';
import { XmppBridge } from '../../bridges/xmpp/xmpp.bridge';
import { clientTransport } from '../../bridges/xmpp/session/xmpp-transport';
import { MemoryStateStore } from '../../bridges/xmpp/state/bridge-state';
import type { BridgeHost, LinkStatus } from '../../src/ports';
import { PROSODY_MUC_DOMAIN, ProsodyServer } from '../servers/prosody/prosody-server';
import { XmppTestUser } from '../servers/prosody/xmpp-test-user';
import { prosodyComponentBridge } from '../servers/prosody/component-bridge';
import { waitFor } from '../support/e2e-wait';

const COMPONENT_DOMAIN = 'mimi.localhost';
const BOT_JID = `mimibot@${COMPONENT_DOMAIN}`;
const BOT_NICK = 'MIMI';
const ALICE = { username: 'alice', password: 'alice-pw' };
const BOB = { username: 'bob', password: 'bob-pw' };
const CAROL = { username: 'carol', password: 'carol-pw' };
const RELAY = { username: 'relay', password: 'relay-pw' };
const RELAY_NICK = 'MIMI relay';
const FOLLOWER = 'follower.example';
const MIMI_DAVE: RemoteUser = { userUri: userUri(FOLLOWER, 'dave'), displayName: 'Dave' };
const MIMI_ERIN: RemoteUser = { userUri: userUri(FOLLOWER, 'erin'), displayName: 'Erin' };
const MIMI_ALICE: RemoteUser = { userUri: userUri(FOLLOWER, 'alice2'), displayName: 'Alice' };
const MIMI_CYRILLIC_ALICE: RemoteUser = { userUri: userUri(FOLLOWER, 'alice3'), displayName: 'Аlice' };
const ATTACHMENT_HOST = 'files.example';
const POST_TIMEOUT_MS = 15_000;

function roomJid(label: string): string {
  return `${label}-${randomUUID().slice(0, 8)}@${PROSODY_MUC_DOMAIN}`;
}

function isMessage(e: InboundEvent, type: MessageAction['type']): e is Extract<InboundEvent, { kind: 'message' }> {
  return e.kind === 'message' && e.action.type === type;
}

function inRoom(room: string): (e: InboundEvent) => boolean {
  return (e) => e.room.roomId === room;
}

function stanzaIdOf(el: XmlElement, room: string): string | undefined {
  return el.getChildren('stanza-id', NS.SID).find((s) => s.attrs.by === room)?.attrs.id;
}

describe('XMPP bridge, component mode, against Prosody', () => {
  let prosody: ProsodyServer;
  let stateDir: string;
  let bridge: XmppBridge;
  let sink: RecordingSink;
  let alice: XmppTestUser;
  let bob: XmppTestUser;

  function newBridge(): XmppBridge {
    return prosodyComponentBridge(prosody, {
      componentDomain: COMPONENT_DOMAIN,
      botNick: BOT_NICK,
      attachmentHosts: [ATTACHMENT_HOST],
      stateStore: new FileStateStore(join(stateDir, 'xmpp-state.json')),
      joinTimeoutMs: 10_000,
    });
  }

  /** A room owned by alice, with the bridge's bot as owner too, linked to the bridge. */
  async function linkedRoom(label: string): Promise<{ jid: string; ref: LegacyRoomRef }> {
    const jid = roomJid(label);
    await alice.createRoom(jid, 'alice');
    await alice.setAffiliation(jid, BOT_JID, 'owner');
    const ref = { platform: Platform.Xmpp, roomId: jid };
    await bridge.getRoomSnapshot(ref);
    return { jid, ref };
  }

  beforeAll(async () => {
    prosody = await ProsodyServer.start({ componentDomain: COMPONENT_DOMAIN, accounts: [ALICE, BOB, CAROL, RELAY] });
    stateDir = mkdtempSync(join(tmpdir(), 'xmpp-bridge-state-'));
    alice = await XmppTestUser.connect(prosody.c2sService, ALICE.username, ALICE.password, { rejoin: true });
    bob = await XmppTestUser.connect(prosody.c2sService, BOB.username, BOB.password, { rejoin: true });
    sink = new RecordingSink();
    bridge = newBridge();
    await bridge.start(sink.sink);
  });

  afterAll(async () => {
    await bridge?.stop();
    await alice?.stop();
    await bob?.stop();
    await prosody?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it('reports an occupant message with the MUC stanza-id and the real JID', async () => {
    const { jid } = await linkedRoom('plain');
    const sent = await alice.say(jid, 'hello from XMPP');
    const event = await sink.waitFor(
      (e) => inRoom(jid)(e) && isMessage(e, 'post') && e.platformEventId === sent.stanzaId,
      'the occupant message',
    );
    expect(event).toMatchObject({
      kind: 'message',
      sender: { platform: Platform.Xmpp, userId: alice.jid, displayName: 'alice' },
      action: { type: 'post', body: { kind: 'text', text: 'hello from XMPP' } },
    });
    expect(sent.stanzaId).not.toBe('');
  });

  it('posts as a puppet from its own nick; accepted on the reflection, which comes back as an echo', async () => {
    const { jid, ref } = await linkedRoom('puppet');
    await bob.join(jid, 'bob');
    const since = bob.mark();
    const result = await bridge.post(
      ref,
      MIMI_DAVE,
      { type: 'post', body: { kind: 'text', text: 'hi from MIMI' } },
      { idempotencyKey: `k-${randomUUID()}`, timeoutMs: POST_TIMEOUT_MS },
    );
    const seen = await bob.waitFor(
      (el) => el.name === 'message' && el.getChildText('body') === 'hi from MIMI',
      'the puppet message',
      { since },
    );
    expect(seen.attrs.from).toBe(`${jid}/Dave`);
    expect(stanzaIdOf(seen, jid)).toBe(result.platformEventId);
    expect(result.echoKeys).toHaveLength(1);
    const echo = await sink.waitFor(
      (e) => inRoom(jid)(e) && e.kind === 'message' && e.platformEventId === result.platformEventId,
      'the echo',
    );
    expect(echo).toMatchObject({ sender: { userUri: MIMI_DAVE.userUri }, echoKeys: result.echoKeys });
  });

  describe('inbound: occupant actions reach the sink', () => {
    it('maps a correction (XEP-0308) to an edit of the original stanza-id', async () => {
      const { jid } = await linkedRoom('edit');
      const original = await alice.say(jid, 'teh typo');
      await alice.say(jid, 'the typo', [xml('replace', { xmlns: NS.CORRECT, id: original.id })]);
      const edit = await sink.waitFor((e) => inRoom(jid)(e) && isMessage(e, 'edit'), 'the edit');
      expect(edit).toMatchObject({
        action: { type: 'edit', target: { platformEventId: original.stanzaId }, body: { text: 'the typo' } },
        sender: { userId: alice.jid },
      });
    });

    it('maps a retraction (XEP-0424) to a delete', async () => {
      const { jid } = await linkedRoom('retract');
      const original = await alice.say(jid, 'oops');
      await alice.say(jid, 'retracted', [
        xml('retract', { xmlns: NS.RETRACT, id: original.stanzaId }),
        xml('fallback', { xmlns: NS.FALLBACK, for: NS.RETRACT }),
      ]);
      const del = await sink.waitFor((e) => inRoom(jid)(e) && isMessage(e, 'delete'), 'the delete');
      expect(del).toMatchObject({ action: { type: 'delete', target: { platformEventId: original.stanzaId } } });
    });

    it('diffs reaction sets (XEP-0444) into react and unreact', async () => {
      const { jid } = await linkedRoom('react');
      const original = await alice.say(jid, 'vote');
      const reactions = (...emojis: string[]): XmlElement[] => [
        xml(
          'reactions',
          { xmlns: NS.REACTIONS, id: original.stanzaId },
          emojis.map((e) => xml('reaction', {}, e)),
        ),
        xml('store', { xmlns: NS.HINTS }),
      ];
      await bob.join(jid, 'bob');
      await bob.say(jid, undefined, reactions('👍', '🎉'));
      const reacts = await sink.waitForCount((e) => inRoom(jid)(e) && isMessage(e, 'react'), 2, 'reacts');
      expect(reacts.map((e) => (e.kind === 'message' && e.action.type === 'react' ? e.action.key : ''))).toEqual([
        '👍',
        '🎉',
      ]);
      const thumbs = reacts[0]!;
      await bob.say(jid, undefined, reactions('🎉'));
      const unreact = await sink.waitFor((e) => inRoom(jid)(e) && isMessage(e, 'unreact'), 'the unreact');
      expect(unreact).toMatchObject({
        action: { type: 'unreact', reaction: { platformEventId: thumbs.platformEventId } },
        sender: { userId: bob.jid },
      });
      expect(sink.matching((e) => inRoom(jid)(e) && isMessage(e, 'react'))).toHaveLength(2);
    });

    it('maps a reply (XEP-0461) to inReplyTo and drops the fallback quote (XEP-0428)', async () => {
      const { jid } = await linkedRoom('reply');
      const original = await alice.say(jid, 'question?');
      await bob.join(jid, 'bob');
      const quote = '> alice: question?\n';
      await bob.say(jid, `${quote}answer!`, [
        xml('reply', { xmlns: NS.REPLY, to: `${jid}/alice`, id: original.stanzaId }),
        xml(
          'fallback',
          { xmlns: NS.FALLBACK, for: NS.REPLY },
          xml('body', { start: '0', end: String([...quote].length) }),
        ),
      ]);
      const reply = await sink.waitFor(
        (e) => inRoom(jid)(e) && isMessage(e, 'post') && e.action.type === 'post' && e.action.inReplyTo !== undefined,
        'the reply',
      );
      expect(reply).toMatchObject({
        action: { body: { text: 'answer!' }, inReplyTo: { platformEventId: original.stanzaId } },
      });
    });

    it('passes attachments (XEP-0066) from allowed hosts only, never fetching them', async () => {
      const { jid } = await linkedRoom('oob');
      const allowed = `https://${ATTACHMENT_HOST}/u/cat.png`;
      const foreign = 'https://evil.example/x.png';
      await alice.say(jid, allowed, [xml('x', { xmlns: NS.OOB }, xml('url', {}, allowed))]);
      await alice.say(jid, foreign, [xml('x', { xmlns: NS.OOB }, xml('url', {}, foreign))]);
      // The body line repeating the OOB URL is the file, not text: it is not passed on as a caption.
      const withFile = await sink.waitFor(
        (e) =>
          inRoom(jid)(e) &&
          isMessage(e, 'post') &&
          e.action.type === 'post' &&
          e.action.body.attachments?.[0]?.url === allowed,
        'the allowed attachment',
      );
      expect(withFile).toMatchObject({
        action: { body: { text: '', attachments: [{ url: allowed, contentType: 'image/png', filename: 'cat.png' }] } },
      });
      const plain = await sink.waitFor(
        (e) => inRoom(jid)(e) && isMessage(e, 'post') && e.action.type === 'post' && e.action.body.text === foreign,
        'the foreign link',
      );
      expect(plain.kind === 'message' && plain.action.type === 'post' && plain.action.body.attachments).toBeFalsy();
    });
  });

  describe('outbound: puppet actions appear in the MUC', () => {
    it('edits, replies, reacts and retracts with the references XMPP clients expect', async () => {
      const { jid, ref } = await linkedRoom('outbound');
      await bob.join(jid, 'bob');
      const opts = (): { idempotencyKey: string; timeoutMs: number } => ({
        idempotencyKey: randomUUID(),
        timeoutMs: POST_TIMEOUT_MS,
      });
      const asked = await alice.say(jid, 'anyone there?');
      const since = bob.mark();
      const first = await bridge.post(ref, MIMI_ERIN, { type: 'post', body: { kind: 'text', text: 'frist' } }, opts());
      await bridge.post(
        ref,
        MIMI_ERIN,
        { type: 'edit', target: { platformEventId: first.platformEventId }, body: { kind: 'text', text: 'first' } },
        opts(),
      );
      await bridge.post(
        ref,
        MIMI_ERIN,
        {
          type: 'post',
          body: { kind: 'text', text: 'yes!' },
          inReplyTo: { platformEventId: asked.stanzaId },
        },
        opts(),
      );
      const reacted = await bridge.post(
        ref,
        MIMI_ERIN,
        { type: 'react', target: { platformEventId: asked.stanzaId }, key: '👋' },
        opts(),
      );
      await bridge.post(
        ref,
        MIMI_ERIN,
        { type: 'unreact', reaction: { platformEventId: reacted.platformEventId } },
        opts(),
      );
      await bridge.post(ref, MIMI_ERIN, { type: 'delete', target: { platformEventId: first.platformEventId } }, opts());

      await bob.waitFor((el) => el.getChild('retract', NS.RETRACT) !== undefined, 'the retraction', { since });
      const fromErin = bob.groupchats(jid, since).filter((el) => el.attrs.from === `${jid}/Erin`);
      expect(fromErin).toHaveLength(6);
      const [posted, edit, reply, react, unreact, retract] = fromErin as XmlElement[] as [
        XmlElement,
        XmlElement,
        XmlElement,
        XmlElement,
        XmlElement,
        XmlElement,
      ];
      expect(posted.getChildText('body')).toBe('frist');
      expect(edit.getChild('replace', NS.CORRECT)?.attrs.id).toBe(first.echoKeys[0]);
      expect(edit.getChildText('body')).toBe('first');
      expect(reply.getChild('reply', NS.REPLY)?.attrs).toMatchObject({ id: asked.stanzaId, to: `${jid}/alice` });
      expect(reply.getChildText('body')).toBe('> alice: anyone there?\nyes!');
      expect(react.getChild('reactions', NS.REACTIONS)?.attrs.id).toBe(asked.stanzaId);
      expect(
        react
          .getChild('reactions', NS.REACTIONS)
          ?.getChildren('reaction')
          .map((r) => r.getText()),
      ).toEqual(['👋']);
      expect(unreact.getChild('reactions', NS.REACTIONS)?.getChildren('reaction')).toEqual([]);
      expect(retract.getChild('retract', NS.RETRACT)?.attrs.id).toBe(first.platformEventId);
    });

    it('sends attachments as XEP-0066 and XEP-0447 with the URL in the body', async () => {
      const { jid, ref } = await linkedRoom('files');
      await bob.join(jid, 'bob');
      const url = `https://${ATTACHMENT_HOST}/f/report.pdf`;
      const since = bob.mark();
      await bridge.post(
        ref,
        MIMI_ERIN,
        {
          type: 'post',
          body: {
            kind: 'text',
            text: 'the report',
            attachments: [
              { url, contentType: 'application/pdf', filename: 'report.pdf', size: 1234 },
              { url: 'https://elsewhere.example/secret.zip', contentType: 'application/zip', filename: 'secret.zip' },
            ],
          },
        },
        { idempotencyKey: randomUUID(), timeoutMs: POST_TIMEOUT_MS },
      );
      const msg = await bob.waitFor(
        (el) => el.name === 'message' && el.attrs.from === `${jid}/Erin`,
        'the attachment',
        {
          since,
        },
      );
      expect(msg.getChildText('body')).toBe(`the report\n${url}\n[attachment not bridged: secret.zip]`);
      expect(msg.getChildren('x', NS.OOB).map((x) => x.getChildText('url'))).toEqual([url]);
      expect(msg.getChild('file-sharing', NS.SFS)?.getChild('file', NS.FILE_METADATA)?.getChildText('size')).toBe(
        '1234',
      );
    });

    it('is idempotent on the idempotency key', async () => {
      const { jid, ref } = await linkedRoom('idem');
      await bob.join(jid, 'bob');
      const since = bob.mark();
      const key = randomUUID();
      const action: MessageAction = { type: 'post', body: { kind: 'text', text: 'only once' } };
      const [a, b] = await Promise.all([
        bridge.post(ref, MIMI_DAVE, action, { idempotencyKey: key, timeoutMs: POST_TIMEOUT_MS }),
        bridge.post(ref, MIMI_DAVE, action, { idempotencyKey: key, timeoutMs: POST_TIMEOUT_MS }),
      ]);
      const c = await bridge.post(ref, MIMI_DAVE, action, { idempotencyKey: key, timeoutMs: POST_TIMEOUT_MS });
      expect(b).toEqual(a);
      expect(c).toEqual(a);
      await alice.say(jid, 'marker after');
      await bob.waitFor((el) => el.getChildText('body') === 'marker after', 'the marker', { since });
      expect(bob.groupchats(jid, since).filter((el) => el.getChildText('body') === 'only once')).toHaveLength(1);
    });

    it('refuses an oversized body cleanly and keeps the component connected', async () => {
      const { jid, ref } = await linkedRoom('large');
      const huge = 'x'.repeat(600 * 1024);
      const err = await bridge
        .post(
          ref,
          MIMI_DAVE,
          { type: 'post', body: { kind: 'text', text: huge } },
          {
            idempotencyKey: randomUUID(),
            timeoutMs: POST_TIMEOUT_MS,
          },
        )
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PlatformError);
      expect(err).toMatchObject({ code: ErrorCode.PlatformRejected, retryable: false });
      expect((err as PlatformError).humanMessage).toMatch(/too large/);
      // Just under Prosody's 512 KiB component limit still goes through, on the same stream.
      const big = 'y'.repeat(500 * 1024);
      const ok = await bridge.post(
        ref,
        MIMI_DAVE,
        { type: 'post', body: { kind: 'text', text: big } },
        {
          idempotencyKey: randomUUID(),
          timeoutMs: POST_TIMEOUT_MS,
        },
      );
      expect(ok.platformEventId).not.toBe('');
      const after = await alice.say(jid, 'still flowing');
      await sink.waitFor((e) => e.platformEventId === after.stanzaId, 'a message after the refusal');
    });
  });

  describe('membership and roles', () => {
    it('reports joins, leaves, kicks and affiliation changes of occupants', async () => {
      const { jid } = await linkedRoom('members');
      const carol = await XmppTestUser.connect(prosody.c2sService, CAROL.username, CAROL.password);
      try {
        await carol.join(jid, 'carol');
        await sink.waitFor(
          (e) => inRoom(jid)(e) && e.kind === 'membership' && e.membership === 'join' && e.user.displayName === 'carol',
          'carol joining',
        );
        await alice.setAffiliation(jid, carol.jid, 'admin');
        const isCarol = (e: InboundEvent): boolean => inRoom(jid)(e) && 'user' in e && e.user.displayName === 'carol';
        const role = await sink.waitFor((e) => isCarol(e) && e.kind === 'role', 'carol made admin');
        expect(role).toMatchObject({ user: { userId: carol.jid }, role: ParticipantRole.Admin });
        await alice.setAffiliation(jid, carol.jid, 'none');
        await sink.waitFor(
          (e) => isCarol(e) && e.kind === 'role' && e.role === ParticipantRole.Member,
          'carol back to member',
        );
        // Leaving the MUC and coming back is presence, not membership (inbound/membership-rule.ts).
        const carolIs = (m: string) => (e: InboundEvent) =>
          inRoom(jid)(e) && e.kind === 'membership' && e.membership === m && e.user.displayName === 'carol';
        await carol.leave(jid);
        await carol.join(jid, 'carol');
        const back = await carol.say(jid, 'carol is back');
        await sink.waitFor((e) => e.platformEventId === back.stanzaId, 'carol’s message after coming back');
        expect(sink.matching(carolIs('leave'))).toEqual([]);
        expect(sink.matching(carolIs('join'))).toHaveLength(1);
        // `!mimi leave` is the explicit leave.
        await carol.say(jid, '!mimi leave');
        await sink.waitFor(carolIs('leave'), 'carol leaving');
        await alice.setRole(jid, 'carol', 'none', 'spam');
        const kick = await sink.waitFor(
          (e) => inRoom(jid)(e) && e.kind === 'membership' && e.membership === 'kick',
          'carol kicked',
        );
        expect(kick).toMatchObject({ user: { userId: carol.jid }, reason: 'spam', by: { userId: alice.jid } });
      } finally {
        await carol.stop();
      }
    });

    it('carries out kicks, bans and role changes from MIMI', async () => {
      const { jid, ref } = await linkedRoom('moderate');
      const carol = await XmppTestUser.connect(prosody.c2sService, CAROL.username, CAROL.password);
      try {
        await carol.join(jid, 'carol');
        await bob.join(jid, 'bob');
        for (const nick of ['carol', 'bob']) {
          await sink.waitFor((e) => inRoom(jid)(e) && e.kind === 'membership' && e.user.displayName === nick, nick);
        }
        const sinceBob = bob.mark();
        await bridge.setRole(ref, { platform: Platform.Xmpp, userId: bob.jid }, ParticipantRole.Moderator);
        await bob.waitFor(
          (el) =>
            el.name === 'presence' &&
            el.attrs.from === `${jid}/bob` &&
            el.getChild('x', NS.MUC_USER)?.getChild('item')?.attrs.role === 'moderator',
          'bob made moderator',
          { since: sinceBob },
        );
        await bridge.setRole(ref, { platform: Platform.Xmpp, userId: bob.jid }, ParticipantRole.Admin);
        await bob.waitFor(
          (el) =>
            el.name === 'presence' &&
            el.attrs.from === `${jid}/bob` &&
            el.getChild('x', NS.MUC_USER)?.getChild('item')?.attrs.affiliation === 'admin',
          'bob made admin',
          { since: sinceBob },
        );
        const sinceCarol = carol.mark();
        await bridge.moderate(ref, { platform: Platform.Xmpp, userId: carol.jid }, 'kick', 'from MIMI');
        const kicked = await carol.waitFor(
          (el) => el.name === 'presence' && el.attrs.type === 'unavailable' && el.attrs.from === `${jid}/carol`,
          'carol kicked',
          { since: sinceCarol },
        );
        const codes = kicked
          .getChild('x', NS.MUC_USER)
          ?.getChildren('status')
          .map((st) => st.attrs.code);
        expect(codes).toContain('307');
        await bridge.moderate(ref, { platform: Platform.Xmpp, userId: carol.jid }, 'ban');
        const refused = await carol.join(jid, 'carol');
        expect(refused.attrs.type).toBe('error');
        expect(refused.getChild('error')?.getChild('forbidden', NS.STANZAS)).toBeDefined();
        await bridge.moderate(ref, { platform: Platform.Xmpp, userId: carol.jid }, 'unban');
        const back = await carol.join(jid, 'carol');
        expect(back.attrs.type).toBeUndefined();
      } finally {
        await carol.stop();
      }
    });

    it('gives puppets affiliations and reports a puppet kicked by an XMPP moderator', async () => {
      const { jid, ref } = await linkedRoom('puppetmod');
      await bridge.setMembership(ref, MIMI_DAVE, 'join');
      await bridge.setRole(ref, MIMI_DAVE, ParticipantRole.Admin);
      const admins = await alice.iq(
        xml(
          'iq',
          { to: jid, type: 'get' },
          xml('query', { xmlns: NS.MUC_ADMIN }, xml('item', { affiliation: 'admin' })),
        ),
      );
      const adminJids = admins
        .getChild('query', NS.MUC_ADMIN)
        ?.getChildren('item')
        .map((i) => i.attrs.jid);
      expect(adminJids).toContain(puppetJid(MIMI_DAVE.userUri, COMPONENT_DOMAIN));
      await bridge.setRole(ref, MIMI_DAVE, ParticipantRole.Member);
      const nick = bridge.puppetNick(ref, MIMI_DAVE.userUri);
      expect(nick).toBe('Dave');
      await alice.setRole(jid, nick!, 'none', 'not wanted');
      const kick = await sink.waitFor(
        (e) => inRoom(jid)(e) && e.kind === 'membership' && e.membership === 'kick',
        'the puppet kick',
      );
      expect(kick).toMatchObject({ user: { userUri: MIMI_DAVE.userUri }, reason: 'not wanted' });
      expect(
        sink.matching(
          (e) => inRoom(jid)(e) && e.kind === 'membership' && 'userUri' in e.user && e.membership === 'join',
        ),
      ).toEqual([]);
    });

    it('lists members with roles in the room snapshot', async () => {
      const { ref } = await linkedRoom('snapshot');
      await bridge.setMembership(ref, MIMI_ERIN, 'join');
      const snap = await bridge.getRoomSnapshot(ref);
      const byId = new Map(snap.members.map((m) => ['userUri' in m.user ? m.user.userUri : m.user.userId, m.role]));
      expect(byId.get(alice.jid)).toBe(ParticipantRole.Owner);
      expect(byId.get(MIMI_ERIN.userUri)).toBe(ParticipantRole.Member);
      expect(byId.has(BOT_JID)).toBe(false);
    });
  });

  describe('join rule', () => {
    it('reads an open MUC as public and a members-only or password-protected one as invite-only', async () => {
      const open = roomJid('open');
      await alice.createRoom(open, 'alice', { 'muc#roomconfig_membersonly': '0' });
      const membersOnly = roomJid('members-only');
      await alice.createRoom(membersOnly, 'alice', { 'muc#roomconfig_membersonly': '1' });
      const locked = roomJid('password');
      await alice.createRoom(locked, 'alice', {
        'muc#roomconfig_membersonly': '0',
        'muc#roomconfig_passwordprotectedroom': '1',
        'muc#roomconfig_roomsecret': 'sesame',
      });
      const ref = (roomId: string): LegacyRoomRef => ({ platform: Platform.Xmpp, roomId });

      await expect(bridge.joinRule(ref(open))).resolves.toBe('public');
      await expect(bridge.joinRule(ref(membersOnly))).resolves.toBe('invite');
      await expect(bridge.joinRule(ref(locked))).resolves.toBe('invite');
    });
  });

  describe('nicks', () => {
    it('resolves nick collisions and look-alikes deterministically and visibly', async () => {
      const { jid, ref } = await linkedRoom('nicks');
      const carol = await XmppTestUser.connect(prosody.c2sService, CAROL.username, CAROL.password);
      try {
        await carol.join(jid, 'Alice');
        await bridge.setMembership(ref, MIMI_ALICE, 'join');
        await bridge.setMembership(ref, MIMI_CYRILLIC_ALICE, 'join');
        expect(bridge.puppetNick(ref, MIMI_ALICE.userUri)).toBe('Alice (mimi)');
        expect(bridge.puppetNick(ref, MIMI_CYRILLIC_ALICE.userUri)).toBe('Аlice (mimi 2)');
        // A display name the server's strict resourceprep refuses falls back to ASCII.
        const zoe: RemoteUser = { userUri: userUri(FOLLOWER, 'zoe'), displayName: 'Zoë ꞵ' };
        await bridge.setMembership(ref, zoe, 'join');
        expect(bridge.puppetNick(ref, zoe.userUri)).toBe('Zoe');
      } finally {
        await carol.stop();
      }
    });

    it('moves a puppet aside when a native occupant arrives with a look-alike nick', async () => {
      const { jid, ref } = await linkedRoom('lookalike');
      const dave2: RemoteUser = { userUri: userUri(FOLLOWER, 'dave2'), displayName: 'Dave' };
      await bridge.setMembership(ref, dave2, 'join');
      expect(bridge.puppetNick(ref, dave2.userUri)).toBe('Dave');
      const carol = await XmppTestUser.connect(prosody.c2sService, CAROL.username, CAROL.password);
      try {
        const since = carol.mark();
        await carol.join(jid, 'Dаve'); // Cyrillic а
        await carol.waitFor(
          (el) => el.name === 'presence' && el.attrs.from === `${jid}/Dave (mimi)`,
          'the puppet renamed',
          { since },
        );
        await waitFor(() => bridge.puppetNick(ref, dave2.userUri) === 'Dave (mimi)', { what: 'the new puppet nick' });
      } finally {
        await carol.stop();
      }
    });
  });

  describe('robustness', () => {
    it('survives malformed stanzas: errors for what is addressed to it, nothing lost after', async () => {
      const { jid, ref } = await linkedRoom('malformed');
      await bridge.setMembership(ref, MIMI_DAVE, 'join');
      const puppet = `${puppetJid(MIMI_DAVE.userUri, COMPONENT_DOMAIN)}/mimi`;
      // Extensions without their required ids: the bridge cannot parse these messages.
      await alice.say(jid, 'broken', [xml('replace', { xmlns: NS.CORRECT })]);
      await alice.say(jid, undefined, [
        xml('reactions', { xmlns: NS.REACTIONS }, xml('reaction', {}, '👍')),
        xml('store', { xmlns: NS.HINTS }),
      ]);
      // An IQ the component does not serve, and a direct message to a puppet.
      const since = alice.mark();
      const iqErr = await alice
        .iq(xml('iq', { to: puppet, type: 'get' }, xml('query', { xmlns: 'urn:example:unknown' })))
        .catch((e: unknown) => e);
      expect(String(iqErr)).toMatch(/service-unavailable/);
      await alice.send(xml('message', { to: puppet, type: 'chat', id: 'dm-1' }, xml('body', {}, 'psst')));
      const bounce = await alice.waitFor((el) => el.name === 'message' && el.attrs.id === 'dm-1', 'the DM bounce', {
        since,
      });
      expect(bounce.attrs.type).toBe('error');
      const pong = await alice.iq(xml('iq', { to: puppet, type: 'get' }, xml('ping', { xmlns: NS.PING })));
      expect(pong.attrs.type).toBe('result');
      const after = await alice.say(jid, 'after the garbage');
      await sink.waitFor((e) => e.platformEventId === after.stanzaId, 'the next message');
      const posted = await bridge.post(
        ref,
        MIMI_DAVE,
        { type: 'post', body: { kind: 'text', text: 'still here' } },
        {
          idempotencyKey: randomUUID(),
          timeoutMs: POST_TIMEOUT_MS,
        },
      );
      expect(posted.platformEventId).not.toBe('');
      expect(sink.matching((e) => inRoom(jid)(e) && e.kind === 'message' && e.action.type === 'edit')).toEqual([]);
    });

    it('tells the author of a message when the MIMI side refused it', async () => {
      const { jid, ref } = await linkedRoom('notify');
      const msg = await alice.say(jid, 'will fail');
      await sink.waitFor((e) => e.platformEventId === msg.stanzaId, 'the message');
      const since = alice.mark();
      await bridge.notifyFailure(ref, { platformEventId: msg.stanzaId }, 'the MIMI hub refused your message');
      const notice = await alice.waitFor(
        (el) => el.name === 'message' && el.attrs.type === 'chat' && el.attrs.from === `${jid}/${BOT_NICK}`,
        'the notice',
        { since },
      );
      expect(notice.getChildText('body')).toBe('⚠ the MIMI hub refused your message');
    });

    it('creates a persistent, archived mirror room for follower mode', async () => {
      const mirrorUri = 'mimi://hub.example/r/general' as const;
      const ref = await bridge.createMirrorRoom(mirrorUri as never, { name: 'General (MIMI)' });
      expect(ref.roomId).toMatch(new RegExp(`^general-[0-9a-f]{8}@${PROSODY_MUC_DOMAIN.replace('.', '\\.')}$`));
      const again = await bridge.createMirrorRoom(mirrorUri as never, { name: 'General (MIMI)' });
      expect(again).toEqual(ref);
      const info = await alice.iq(xml('iq', { to: ref.roomId, type: 'get' }, xml('query', { xmlns: NS.DISCO_INFO })));
      const features = info
        .getChild('query', NS.DISCO_INFO)
        ?.getChildren('feature')
        .map((f) => f.attrs.var);
      expect(features).toEqual(expect.arrayContaining(['muc_persistent', NS.MAM, 'muc_semianonymous']));
      expect(info.getChild('query', NS.DISCO_INFO)?.getChild('identity')?.attrs.name).toBe('General (MIMI)');
      const res = await bridge.post(
        ref,
        MIMI_DAVE,
        { type: 'post', body: { kind: 'text', text: 'mirrored' } },
        {
          idempotencyKey: randomUUID(),
          timeoutMs: POST_TIMEOUT_MS,
        },
      );
      expect(res.platformEventId).not.toBe('');
    });
  });

  describe('resilience', () => {
    it('rejoins after Prosody restarts mid-stream; nothing lost or doubled, pending posts land once', async () => {
      const { jid, ref } = await linkedRoom('restart');
      await bob.join(jid, 'bob');
      await bridge.setMembership(ref, MIMI_DAVE, 'join');
      const bodies = (from: number, to: number): string[] =>
        Array.from({ length: to - from + 1 }, (_, i) => `restart message ${from + i}`);
      const before = bodies(1, 3);
      for (const b of before) await alice.say(jid, b);
      const isBody = (b: string) => (e: InboundEvent) =>
        inRoom(jid)(e) && e.kind === 'message' && e.action.type === 'post' && e.action.body.text === b;
      for (const b of before) await sink.waitFor(isBody(b), b);

      const aliceMark = alice.mark();
      const bobMark = bob.mark();
      await prosody.halt('SIGTERM');
      // A MIMI post while the server is down: accepted once it is back.
      const whileDown = bridge.post(
        ref,
        MIMI_DAVE,
        { type: 'post', body: { kind: 'text', text: 'sent while down' } },
        {
          idempotencyKey: randomUUID(),
          timeoutMs: 60_000,
        },
      );
      await prosody.launch();
      await alice.rejoined(jid, aliceMark);
      await bob.rejoined(jid, bobMark);
      const after = bodies(4, 6);
      for (const b of after) await alice.say(jid, b);
      const accepted = await whileDown;
      for (const b of after) await sink.waitFor(isBody(b), b, 30_000);
      await sink.waitFor((e) => e.platformEventId === accepted.platformEventId, 'the echo of the post sent while down');

      for (const b of [...before, ...after]) expect(sink.matching(isBody(b))).toHaveLength(1);
      const ids = sink.events.filter(inRoom(jid)).map((e) => e.platformEventId);
      expect(new Set(ids).size).toBe(ids.length);
      const archived = await alice.archive(jid);
      expect(archived.filter((el) => el.getChildText('body') === 'sent while down')).toHaveLength(1);
      for (const b of [...before, ...after]) {
        expect(archived.filter((el) => el.getChildText('body') === b)).toHaveLength(1);
      }
      expect(bridge.puppetNick(ref, MIMI_DAVE.userUri)).toBe('Dave');
    });

    it('replays what it missed from the archive after its own restart, once', async () => {
      const { jid, ref } = await linkedRoom('catchup');
      const seen = await alice.say(jid, 'before the bridge stops');
      await sink.waitFor((e) => e.platformEventId === seen.stanzaId, 'the first message');
      await bridge.stop();
      const missed: string[] = [];
      for (let i = 1; i <= 5; i++) missed.push((await alice.say(jid, `missed ${i}`)).stanzaId);
      const second = new RecordingSink();
      bridge = newBridge();
      await bridge.start(second.sink);
      const replayed = await second.waitForCount(
        (e) => inRoom(jid)(e) && e.kind === 'message',
        missed.length,
        'the replayed messages',
      );
      expect(replayed.map((e) => e.platformEventId)).toEqual(missed);
      expect(second.matching((e) => e.platformEventId === seen.stanzaId)).toEqual([]);
      const live = await alice.say(jid, 'live again');
      await second.waitFor((e) => e.platformEventId === live.stanzaId, 'a live message');
      expect(bridge.botNickIn(ref)).toBe(BOT_NICK);
      sink = second;
    });

    it('keeps the archive cursor before a message the core refused, and retries it', async () => {
      const { jid } = await linkedRoom('refuse');
      let refusals = 0;
      sink.refuseWhen = (e) =>
        e.kind === 'message' && e.action.type === 'post' && e.action.body.text === 'refused once' && refusals++ === 0;
      try {
        const msg = await alice.say(jid, 'refused once');
        const recorded = await sink.waitFor((e) => e.platformEventId === msg.stanzaId, 'the retried message');
        expect(recorded.kind).toBe('message');
        expect(sink.refused.map((e) => e.platformEventId)).toEqual([msg.stanzaId]);
        expect(sink.matching((e) => e.platformEventId === msg.stanzaId)).toHaveLength(1);
      } finally {
        sink.refuseWhen = undefined;
      }
    });
  });

  describe('relay mode (one client account) on the same server', () => {
    let relay: XmppBridge;
    let relaySink: RecordingSink;
    let relayRoom: string;
    const linked: LegacyRoomRef[] = [];
    const host: BridgeHost = {
      link: async (room) => {
        linked.push(room);
        return {} as LinkStatus;
      },
      unlink: async () => undefined,
      status: async () => undefined,
      joinRemote: async () => {
        throw new Error('not used');
      },
    };

    beforeAll(async () => {
      relayRoom = roomJid('relay');
      await alice.createRoom(relayRoom, 'alice');
      await alice.setAffiliation(relayRoom, `${RELAY.username}@localhost`, 'admin');
      await bob.join(relayRoom, 'bob');
      relaySink = new RecordingSink();
      relay = new XmppBridge({
        mode: 'relay',
        transport: clientTransport(
          {
            service: prosody.c2sService,
            jid: `${RELAY.username}@localhost`,
            password: RELAY.password,
            resource: 'relay',
          },
          { initialMs: 100, maxMs: 1000 },
        ),
        botNick: RELAY_NICK,
        links: [relayRoom],
        attachmentHosts: [ATTACHMENT_HOST],
        stateStore: new MemoryStateStore(),
      });
      await relay.start(relaySink.sink, host);
    });

    afterAll(async () => {
      await relay?.stop();
    });

    it('links the configured MUC through the host and reports occupants and their messages', async () => {
      expect(linked).toEqual([{ platform: Platform.Xmpp, roomId: relayRoom }]);
      await relaySink.waitFor(
        (e) => e.kind === 'membership' && e.membership === 'join' && e.user.displayName === 'bob',
        'bob present',
      );
      const msg = await bob.say(relayRoom, 'hello relay');
      const event = await relaySink.waitFor((e) => e.platformEventId === msg.stanzaId, 'the message');
      expect(event).toMatchObject({ sender: { userId: bob.jid }, action: { body: { text: 'hello relay' } } });
    });

    it('relays MIMI users with their names and recognises the reflection as their echo', async () => {
      const ref = { platform: Platform.Xmpp, roomId: relayRoom };
      const since = bob.mark();
      const res = await relay.post(
        ref,
        MIMI_DAVE,
        { type: 'post', body: { kind: 'text', text: 'hi via relay' } },
        {
          idempotencyKey: randomUUID(),
          timeoutMs: POST_TIMEOUT_MS,
        },
      );
      const seen = await bob.waitFor(
        (el) => el.name === 'message' && el.attrs.from === `${relayRoom}/${RELAY_NICK}`,
        'relayed',
        {
          since,
        },
      );
      expect(seen.getChildText('body')).toBe('Dave: hi via relay');
      expect(seen.getChildText('nick', NS.NICK)).toBe('Dave');
      expect(stanzaIdOf(seen, relayRoom)).toBe(res.platformEventId);
      const echo = await relaySink.waitFor((e) => e.platformEventId === res.platformEventId, 'the echo');
      expect(echo).toMatchObject({
        sender: { userUri: MIMI_DAVE.userUri },
        echoKeys: res.echoKeys,
        action: { body: { text: 'hi via relay' } },
      });
      const emote = await relay.post(
        ref,
        MIMI_ERIN,
        { type: 'post', body: { kind: 'emote', text: 'waves' } },
        {
          idempotencyKey: randomUUID(),
          timeoutMs: POST_TIMEOUT_MS,
        },
      );
      const waved = await bob.waitFor((el) => stanzaIdOf(el, relayRoom) === emote.platformEventId, 'the emote', {
        since,
      });
      expect(waved.getChildText('body')).toBe('* Erin waves');
    });

    it('uses stream management (XEP-0198) and resumes after a dropped connection without losing messages', async () => {
      const transport = (relay as unknown as { transport: { streamManagement: boolean } }).transport;
      expect(transport.streamManagement).toBe(true);
      const entity = (transport as unknown as { entity: { socket: { destroy(): void } | null } }).entity;
      const sinceBob = bob.mark();
      entity.socket?.destroy();
      const during = await bob.say(relayRoom, 'while the relay reconnects');
      await relaySink.waitFor((e) => e.platformEventId === during.stanzaId, 'the message sent during the drop', 30_000);
      const after = await bob.say(relayRoom, 'after the resumption');
      await relaySink.waitFor((e) => e.platformEventId === after.stanzaId, 'a later message');
      expect(relaySink.matching((e) => e.platformEventId === during.stanzaId)).toHaveLength(1);
      expect(transport.streamManagement).toBe(true);
      // Resumed, not rejoined: the other occupants saw no new presence from the relay.
      expect(
        bob.received
          .slice(sinceBob)
          .filter((el) => el.name === 'presence' && el.attrs.from === `${relayRoom}/${RELAY_NICK}`),
      ).toEqual([]);
    });

    it('moderates with the relay account and refuses what it cannot do', async () => {
      const ref = { platform: Platform.Xmpp, roomId: relayRoom };
      const carol = await XmppTestUser.connect(prosody.c2sService, CAROL.username, CAROL.password);
      try {
        await carol.join(relayRoom, 'carol');
        await relaySink.waitFor(
          (e) => e.kind === 'membership' && e.membership === 'join' && e.user.displayName === 'carol',
          'the relay seeing carol',
        );
        const since = carol.mark();
        await relay.moderate(ref, { platform: Platform.Xmpp, userId: carol.jid }, 'kick');
        await carol.waitFor((el) => el.name === 'presence' && el.attrs.type === 'unavailable', 'carol kicked', {
          since,
        });
        // An admin cannot make someone owner (XEP-0045 §10.3 is for owners).
        const err = await relay
          .setRole(ref, { platform: Platform.Xmpp, userId: carol.jid }, ParticipantRole.Owner)
          .catch((e: unknown) => e);
        expect(err).toMatchObject({ code: ErrorCode.PlatformRejected });
      } finally {
        await carol.stop();
      }
    });
  });
});
