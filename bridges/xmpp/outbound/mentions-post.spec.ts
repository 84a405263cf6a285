import { Logger } from '@nestjs/common';
import { userUri } from '../../../src/common/ids';
import { NS } from '../protocol/namespaces';
import { xml } from '../protocol/xml';
import {
  ALICE_JID,
  DAVE,
  type Harness,
  deliver,
  fromAlice,
  harness,
  isPost,
  ROOM,
  ROOM_REF,
} from '../../../test/kits/xmpp/bridge-harness';
import type { NativeUsers } from '../muc/mention-directory';

/** alice@example.org is `mimi://xmpp.example/u/xmpp:alice@example.org` (the core's identity mapping). */
const ALICE_URI = `mimi://xmpp.example/u/xmpp:${ALICE_JID}`;
const NATIVES: NativeUsers = {
  userUriOf: (id) => `mimi://xmpp.example/u/xmpp:${id}`,
  userIdOf: (uri) => (uri.startsWith('mimi://xmpp.example/u/xmpp:') ? uri.slice(27) : undefined),
};

describe('XMPP bridge: mentions', () => {
  let h: Harness;
  beforeAll(() => Logger.overrideLogger(false));
  beforeEach(async () => {
    h = await harness({ nativeUsers: NATIVES });
    await h.sink.waitFor((e) => e.kind === 'role', 'the initial occupants');
  });
  afterEach(async () => h?.bridge.stop());

  it('posts a MIMI mention of a native occupant as their nick with an XEP-0372 reference', async () => {
    await h.bridge.post(
      ROOM_REF,
      DAVE,
      { type: 'post', body: { kind: 'text', text: 'hi Alice!', markdown: `hi [Alice Smith](${ALICE_URI})!` } },
      { idempotencyKey: 'm1', timeoutMs: 2000 },
    );
    const sent = h.transport.sent.find((el) => el.name === 'message')!;
    expect(sent.getChildText('body')).toBe('hi alice!');
    expect(sent.getChild('reference', NS.REFERENCE)?.attrs).toEqual({
      xmlns: NS.REFERENCE,
      type: 'mention',
      uri: `xmpp:${ROOM}/alice`,
      begin: '3',
      end: '8',
    });
  });

  it('mentions a MIMI user by their puppet’s nick, once the puppet has joined', async () => {
    const opts = (k: string) => ({ idempotencyKey: k, timeoutMs: 2000 });
    await h.bridge.post(ROOM_REF, DAVE, { type: 'post', body: { kind: 'text', text: 'joined' } }, opts('j'));
    const erin = { userUri: userUri('follower.example', 'erin'), displayName: 'Erin' };
    await h.bridge.post(
      ROOM_REF,
      erin,
      { type: 'post', body: { kind: 'text', text: 'x', markdown: `[@dave](${DAVE.userUri}): hello` } },
      opts('m2'),
    );
    const withRef = h.transport.sent.find((el) => el.getChild('reference', NS.REFERENCE) !== undefined);
    expect(withRef?.getChildText('body')).toBe('Dave: hello');
    expect(withRef?.getChild('reference', NS.REFERENCE)?.attrs.uri).toBe(`xmpp:${ROOM}/Dave`);
  });

  it('reports an occupant’s XEP-0372 mention of a puppet as a Markdown link to the MIMI user', async () => {
    await h.bridge.post(
      ROOM_REF,
      DAVE,
      { type: 'post', body: { kind: 'text', text: 'joined' } },
      {
        idempotencyKey: 'j2',
        timeoutMs: 2000,
      },
    );
    await deliver(
      h,
      fromAlice(h, 'thanks Dave', [
        xml('reference', { xmlns: NS.REFERENCE, type: 'mention', begin: '7', end: '11', uri: `xmpp:${ROOM}/Dave` }),
      ]),
    );
    const ev = await h.sink.waitFor(
      (e) => isPost(e) && e.kind === 'message' && e.action.type === 'post' && e.action.body.text === 'thanks Dave',
      'alice’s message',
    );
    expect(ev).toMatchObject({ action: { body: { markdown: `thanks [Dave](${DAVE.userUri})` } } });
  });
});
