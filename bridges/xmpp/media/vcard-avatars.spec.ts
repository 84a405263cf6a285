import { createHash } from 'node:crypto';
import { ErrorCode } from '../../../src/common/errors';
import { NS } from '../protocol/namespaces';
import { type XmlElement, xml } from '../protocol/xml';
import { VcardAvatars, parseVcardAvatarUrl, photoHashOf, vcardAvatarUrl } from './vcard-avatars';

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
const SHA1 = createHash('sha1').update(PNG).digest('hex');
const PUPPET = 'alice=a.example@mimi.localhost';

function vcard(photo?: { type?: string; bytes: Uint8Array }): XmlElement {
  return xml(
    'iq',
    { type: 'result' },
    xml(
      'vCard',
      { xmlns: NS.VCARD },
      photo === undefined
        ? undefined
        : xml(
            'PHOTO',
            {},
            photo.type !== undefined ? xml('TYPE', {}, photo.type) : undefined,
            xml(
              'BINVAL',
              {},
              Buffer.from(photo.bytes)
                .toString('base64')
                .replace(/(.{4})/g, '$1\n'),
            ),
          ),
    ),
  );
}

function avatars(answer: XmlElement = vcard({ type: 'image/png', bytes: PNG })) {
  const sent: XmlElement[] = [];
  const service = new VcardAvatars(
    async (el) => {
      sent.push(el);
      return answer;
    },
    () => 'bot@mimi.localhost/mimi',
  );
  return { service, sent };
}

describe('vCard avatars (XEP-0054, XEP-0153)', () => {
  it('names a native occupant’s avatar by JID and photo hash, and reads it back; nothing else is one', () => {
    const url = vcardAvatarUrl('bob@localhost/phone', SHA1);
    expect(url).toBe(`xmpp:bob@localhost?vcard;photo=${SHA1}`);
    expect(parseVcardAvatarUrl(url)).toEqual({ jid: 'bob@localhost', sha1: SHA1 });
    for (const other of ['https://localhost/a.png', `xmpp:bob@localhost?vcard;photo=xyz`, 'xmpp:bob@localhost']) {
      expect(parseVcardAvatarUrl(other)).toBeUndefined();
    }
  });

  it('reads the photo hash of a presence: a hash, none (empty), or nothing said', () => {
    const presence = (photo?: string) =>
      xml(
        'presence',
        {},
        photo === undefined ? undefined : xml('x', { xmlns: NS.VCARD_UPDATE }, xml('photo', {}, photo)),
      );
    expect(photoHashOf(presence(SHA1.toUpperCase()))).toBe(SHA1);
    expect(photoHashOf(presence(''))).toBe('');
    expect(photoHashOf(presence())).toBeUndefined();
    expect(photoHashOf(presence('not a hash'))).toBeUndefined();
  });

  it('downloads a native’s photo by a vCard request to the JID, from the bot', async () => {
    const { service, sent } = avatars();
    expect(await service.download(vcardAvatarUrl('bob@localhost', SHA1), 1000)).toEqual({
      bytes: PNG,
      contentType: 'image/png',
    });
    expect(sent.map((el) => el.toString())).toEqual([
      `<iq type="get" to="bob@localhost" from="bot@mimi.localhost/mimi"><vCard xmlns="vcard-temp"/></iq>`,
    ]);
  });

  it('refuses a photo over the limit, a vCard without a photo, and a URL not its own', async () => {
    await expect(avatars().service.download(vcardAvatarUrl('bob@localhost', SHA1), 3)).rejects.toMatchObject({
      code: ErrorCode.PayloadTooLarge,
    });
    await expect(avatars(vcard()).service.download(vcardAvatarUrl('bob@localhost', SHA1), 100)).rejects.toMatchObject({
      code: ErrorCode.NotFound,
    });
    await expect(avatars().service.download('https://localhost/a.png', 100)).rejects.toMatchObject({
      code: ErrorCode.PlatformRejected,
    });
  });

  it('answers a vCard request to a puppet with its photo, an empty vCard before it has one, and nothing for others', () => {
    const { service } = avatars();
    const get = (to: string) => xml('iq', { type: 'get', to, from: 'room@muc/bob' }, xml('vCard', { xmlns: NS.VCARD }));
    const isPuppet = (jid: string) => jid.startsWith('alice=');
    expect(service.answer(get(PUPPET), isPuppet)?.toString()).toBe('<vCard xmlns="vcard-temp"/>');
    expect(service.setPuppetAvatar(`${PUPPET}/mimi`, { bytes: PNG, contentType: 'image/png' })).toBe(SHA1);
    expect(service.photoOf(PUPPET)).toBe(SHA1);
    expect(service.answer(get(PUPPET), isPuppet)?.toString()).toBe(
      `<vCard xmlns="vcard-temp"><PHOTO><TYPE>image/png</TYPE><BINVAL>${Buffer.from(PNG).toString('base64')}</BINVAL></PHOTO></vCard>`,
    );
    expect(service.answer(get('bob@localhost'), isPuppet)).toBeUndefined();
    expect(
      service.answer(xml('iq', { type: 'get', to: PUPPET }, xml('ping', { xmlns: NS.PING })), isPuppet),
    ).toBeUndefined();
  });

  it('keeps no photo too large for one stanza', () => {
    const { service } = avatars();
    service.setPuppetAvatar(PUPPET, { bytes: PNG, contentType: 'image/png' });
    expect(
      service.setPuppetAvatar(PUPPET, { bytes: new Uint8Array(300 * 1024), contentType: 'image/png' }),
    ).toBeUndefined();
    expect(service.photoOf(PUPPET)).toBeUndefined();
  });
});
