import { ValidationError } from '../../common/errors';
import { CborMap } from './cbor';
import { buildTextMessage } from './content-builders';
import { decodeMimiContent, encodeMimiContentWithId } from './mimi-content';
import { SENDER_PROFILE_KEY, getSenderProfile, senderProfileExtensions, senderProfileFromCbor } from './sender-profile';

const SENDER = 'mimi://a.example/u/matrix:%40alice%3Ahs';
const ROOM = 'mimi://a.example/r/club';
const AVATAR = 'https://hs.example/_matrix/client/v1/media/download/hs.example/abc';

describe('senderProfile extension (docs/EXTENSIONS.md)', () => {
  it('crosses the wire: written by a builder, read back after encoding and decoding', () => {
    const msg = buildTextMessage({
      senderUri: SENDER,
      roomUri: ROOM,
      text: 'hi',
      extraExtensions: senderProfileExtensions({ displayName: 'Alice Liddell', avatarUrl: AVATAR }),
    });
    const { bytes } = encodeMimiContentWithId(msg, SENDER, ROOM);
    expect(getSenderProfile(decodeMimiContent(bytes).extensions)).toEqual({
      displayName: 'Alice Liddell',
      avatarUrl: AVATAR,
    });
  });

  it('is absent when the profile says nothing', () => {
    expect(senderProfileExtensions(undefined)).toEqual([]);
    expect(senderProfileExtensions({})).toEqual([]);
    expect(senderProfileExtensions({ displayName: '   ' })).toEqual([]);
  });

  it('sends only what fits: no non-https avatar, a long name cut on a character boundary', () => {
    const [[key, value]] = senderProfileExtensions({
      displayName: 'é'.repeat(200),
      avatarUrl: 'http://hs.example/avatar.png',
    }) as [[string, CborMap]];
    expect(key).toBe(SENDER_PROFILE_KEY);
    const p = senderProfileFromCbor(value);
    expect(p.avatarUrl).toBeUndefined();
    expect(p.displayName).toBe('é'.repeat(128));
    expect(senderProfileExtensions({ avatarUrl: 'mxc://hs/abc' })).toEqual([]);
  });

  it.each([
    ['not a map', 'Alice'],
    ['a name that is not text', new CborMap([['name', 7]])],
    ['an empty name', new CborMap([['name', '']])],
    ['a name over 256 octets', new CborMap([['name', 'x'.repeat(257)]])],
    ['a javascript: avatar', new CborMap([['avatar', 'javascript:alert(1)']])],
    ['an avatar that is no URI', new CborMap([['avatar', 'not a uri']])],
  ])('refuses %s', (_what, value) => {
    expect(() => senderProfileFromCbor(value)).toThrow(ValidationError);
  });

  it('ignores map keys it does not know (room for later fields)', () => {
    expect(
      senderProfileFromCbor(
        new CborMap([
          ['name', 'Bob'],
          ['pronouns', 'he/him'],
        ]),
      ),
    ).toEqual({
      displayName: 'Bob',
    });
  });
});
