import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { NS } from '../protocol/namespaces';
import { xml } from '../protocol/xml';
import * as kit from '../../../test/kits/xmpp/bridge-harness';
import { XmppBridge } from '../xmpp.bridge';
import { vcardAvatarUrl } from './vcard-avatars';

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 7, 7, 7]);
const SHA1 = createHash('sha1').update(PNG).digest('hex');

describe(`${XmppBridge.name}: avatars by vCard (XEP-0054, XEP-0153)`, () => {
  let h: kit.Harness;
  beforeAll(() => Logger.overrideLogger(false));
  beforeEach(async () => {
    h = await kit.harness();
    await h.sink.waitFor((e) => e.kind === 'role', 'the initial occupants');
  });
  afterEach(async () => h?.bridge.stop());

  it('a native’s message carries the avatar its presence announced, which the bridge holds and fetches by vCard', async () => {
    const presence = h.muc.presenceOf(kit.ROOM, h.muc.room(kit.ROOM).get('alice')!, kit.BOT_FULL_JID);
    presence.children.push(xml('x', { xmlns: NS.VCARD_UPDATE }, xml('photo', {}, SHA1)));
    await h.transport.inject(presence);
    await kit.deliver(h, kit.fromAlice(h, 'hi'));
    const post = await h.sink.waitFor(kit.isPost, 'the post');
    const url = vcardAvatarUrl(kit.ALICE_JID, SHA1);
    expect(post).toMatchObject({ sender: { userId: kit.ALICE_JID, displayName: 'alice', avatarUrl: url } });
    expect(h.bridge.holdsMedia(url)).toBe(true);
    const since = h.transport.sent.length;
    const download = h.bridge.downloadMedia(url, 1000);
    const request = await h.transport.waitForSent(
      (el) => el.getChild('vCard', NS.VCARD) !== undefined,
      'the vCard get',
      since,
    );
    expect(request.attrs).toMatchObject({ type: 'get', to: kit.ALICE_JID });
    await h.transport.inject(
      xml(
        'iq',
        { type: 'result', id: request.attrs.id, from: kit.ALICE_JID, to: request.attrs.from },
        xml(
          'vCard',
          { xmlns: NS.VCARD },
          xml('PHOTO', {}, xml('TYPE', {}, 'image/png'), xml('BINVAL', {}, Buffer.from(PNG).toString('base64'))),
        ),
      ),
    );
    expect(await download).toEqual({ bytes: PNG, contentType: 'image/png' });
  });

  it('a MIMI user’s avatar is its puppet’s vCard photo, announced by hash in the room and given to a vCard request', async () => {
    await h.bridge.setMembership(kit.ROOM_REF, kit.DAVE, 'join');
    const since = h.transport.sent.length;
    await h.bridge.setProfile(kit.DAVE, { bytes: PNG, contentType: 'image/png' });
    const update = await h.transport.waitForSent(
      (el) => el.name === 'presence' && el.attrs.from === kit.DAVE_PUPPET,
      "the puppet's presence",
      since,
    );
    expect(update.attrs.to).toBe(`${kit.ROOM}/Dave`);
    expect(update.getChild('x', NS.VCARD_UPDATE)?.getChildText('photo')).toBe(SHA1);
    // A client in the room asks the occupant for its vCard; the MUC passes it on to the puppet's bare JID.
    const puppet = kit.DAVE_PUPPET.split('/')[0]!;
    const at = h.transport.sent.length;
    await h.transport.inject(
      xml('iq', { type: 'get', id: 'v1', from: `${kit.ROOM}/alice`, to: puppet }, xml('vCard', { xmlns: NS.VCARD })),
    );
    const answer = h.transport.sent.slice(at).find((el) => el.name === 'iq' && el.attrs.id === 'v1')!;
    expect(answer.attrs.type).toBe('result');
    expect(answer.getChild('vCard', NS.VCARD)?.getChild('PHOTO')?.getChildText('BINVAL')).toBe(
      Buffer.from(PNG).toString('base64'),
    );
  });
});
