import fc from 'fast-check';
import { Platform } from '../common/ids';
import { GATEWAY_BOT_LOCALPART, gatewayBotUri, legacyUserUri, parseLegacyUserUri } from './identity';

const DOMAIN = 'gw.example';
const MATRIX_USER = '@alice:hs.example';
const MATRIX_USER_URI = 'mimi://gw.example/u/matrix:%40alice%3Ahs.example';
const XMPP_NICK = 'room@muc.example/Nick With Spaces';

describe('legacyUserUri', () => {
  it('puts the platform and the percent-encoded user ID under our domain', () => {
    expect(legacyUserUri(DOMAIN, Platform.Matrix, MATRIX_USER)).toBe(MATRIX_USER_URI);
  });

  it('refuses an empty user ID and a malformed platform name', () => {
    expect(() => legacyUserUri(DOMAIN, Platform.Matrix, '')).toThrow('must not be empty');
    expect(() => legacyUserUri(DOMAIN, 'Not A Platform', MATRIX_USER)).toThrow('not a platform name');
  });
});

describe('parseLegacyUserUri', () => {
  it('reverses legacyUserUri for any user ID', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.values(Platform)),
        fc.string({ minLength: 1, unit: 'grapheme' }),
        (platform, userId) => {
          expect(parseLegacyUserUri(legacyUserUri(DOMAIN, platform, userId))).toEqual({
            domain: DOMAIN,
            platform,
            userId,
          });
        },
      ),
    );
  });

  it('reads an XMPP occupant with spaces and slashes', () => {
    expect(parseLegacyUserUri(legacyUserUri(DOMAIN, Platform.Xmpp, XMPP_NICK))?.userId).toBe(XMPP_NICK);
  });

  it('is undefined for the gateway bot, room URIs, unknown platforms and non-canonical spellings', () => {
    expect(gatewayBotUri(DOMAIN)).toBe(`mimi://${DOMAIN}/u/${GATEWAY_BOT_LOCALPART}`);
    expect(parseLegacyUserUri(gatewayBotUri(DOMAIN))).toBeUndefined();
    expect(parseLegacyUserUri('mimi://gw.example/r/matrix:%40alice')).toBeUndefined();
    expect(parseLegacyUserUri('mimi://gw.example/u/irc:alice')).toBeUndefined();
    expect(parseLegacyUserUri('mimi://gw.example/u/matrix:@alice:hs.example')).toBeUndefined();
    expect(parseLegacyUserUri('mimi://gw.example/u/matrix:%E0%A4%A')).toBeUndefined();
    expect(parseLegacyUserUri('mimi://gw.example/u/matrix:')).toBeUndefined();
  });
});
