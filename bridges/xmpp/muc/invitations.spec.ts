import { Platform } from '../../../src/common/ids';
import { ComponentMode } from '../mode/component.mode';
import { NS } from '../protocol/namespaces';
import type { XmlElement } from '../protocol/xml';
import { XmppInvitations, bareJidOfHandle, buildDirectInvitation, defaultUserDomains } from './invitations';

const MODE = new ComponentMode('mimi.b.test');

describe(bareJidOfHandle.name, () => {
  it.each([
    ['xmpp:bob@b.test', 'bob@b.test'],
    ['xmpp:Bob@B.Test/phone?message', 'bob@b.test'],
    ['bob@b.test/laptop', 'bob@b.test'],
    ['xmpp:bob%40x@b.test', undefined],
    ['xmpp://me@b.test/bob@b.test', 'bob@b.test'],
  ])('%j → %s', (handle, jid) => expect(bareJidOfHandle(handle)).toBe(jid));

  it.each(['bob', 'b.test', '@carol:b.test', 'xmpp:', 'bo b@b.test'])('%j is no JID of a user', (h) =>
    expect(bareJidOfHandle(h)).toBeUndefined(),
  );
});

describe(defaultUserDomains.name, () => {
  it('takes the parents of the MUC service and the component domain, once', () => {
    expect(defaultUserDomains('conference.b.test', 'mimi.b.test')).toEqual(['b.test']);
    expect(defaultUserDomains('muc.x.test', undefined)).toEqual(['x.test']);
    expect(defaultUserDomains(undefined, 'localhost')).toEqual([]);
  });
});

describe(XmppInvitations.name, () => {
  const sent: XmlElement[] = [];
  const invitations = new XmppInvitations(MODE, async (el) => void sent.push(el), ['b.test']);

  it('finds a JID of a user domain by handle or nick; other domains and the component’s own JIDs are not ours', async () => {
    await expect(invitations.lookup({ type: 'handle', value: 'xmpp:bob@b.test' })).resolves.toEqual({
      kind: 'found',
      userId: 'bob@b.test',
    });
    await expect(invitations.lookup({ type: 'nick', value: 'bob' })).resolves.toEqual({
      kind: 'found',
      userId: 'bob@b.test',
    });
    for (const value of ['xmpp:bob@elsewhere.test', 'mimibot@mimi.b.test', '@carol:b.test']) {
      await expect(invitations.lookup({ type: 'handle', value })).resolves.toEqual({ kind: 'notMine' });
    }
  });

  it('sends an XEP-0249 direct invitation from the bot to the user, naming the MUC', async () => {
    sent.length = 0;
    await invitations.invite(
      { platform: Platform.Xmpp, roomId: 'lobby@conference.b.test' },
      { platform: Platform.Xmpp, userId: 'bob@b.test' },
      { reason: 'You were added to the MIMI room mimi://a.example/r/lobby' },
    );
    expect(sent).toHaveLength(1);
    const el = sent[0]!;
    expect(el.attrs).toMatchObject({ to: 'bob@b.test', from: MODE.botFrom() });
    expect(el.getChild('x', NS.CONFERENCE)?.attrs).toMatchObject({
      jid: 'lobby@conference.b.test',
      reason: 'You were added to the MIMI room mimi://a.example/r/lobby',
    });
    expect(el.getChildText('body')).toBe(
      'You were added to the MIMI room mimi://a.example/r/lobby: xmpp:lobby@conference.b.test?join',
    );
  });

  it('builds an invitation without a reason as the bare element', () => {
    const el = buildDirectInvitation({ to: 'bob@b.test', room: 'r@muc.b.test' });
    expect(el.getChild('x', NS.CONFERENCE)?.attrs.reason).toBeUndefined();
    expect(el.getChild('body')).toBeUndefined();
  });
});
