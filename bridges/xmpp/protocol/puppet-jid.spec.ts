import fc from 'fast-check';
import { userUri } from '../../../src/common/ids';
import {
  BOT_LOCALPART,
  mirrorRoomLocalpart,
  puppetJid,
  puppetLocalpart,
  userUriLocalName,
  userUriOfPuppetLocalpart,
} from './puppet-jid';

const DOMAIN = 'follower.example';
const COMPONENT = 'mimi.example';

describe('puppet JIDs', () => {
  it('maps a MIMI user to a readable, case-safe local part', () => {
    expect(puppetLocalpart(userUri(DOMAIN, 'dave'))).toBe('dave=follower.example');
    expect(puppetLocalpart(userUri(DOMAIN, 'Dave_O.K'))).toBe('_44ave_5f_4f._4b=follower.example');
    expect(puppetJid(userUri(DOMAIN, 'dave'), COMPONENT)).toBe(`dave=follower.example@${COMPONENT}`);
  });

  it('round-trips every user URI and never produces forbidden JID characters', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), (local) => {
        const uri = userUri(DOMAIN, local);
        const lp = puppetLocalpart(uri);
        expect(lp).toMatch(/^[a-z0-9._=-]+$/);
        expect(userUriOfPuppetLocalpart(lp)).toBe(uri);
      }),
    );
  });

  it('does not mistake the bot or other local parts for puppets', () => {
    expect(userUriOfPuppetLocalpart(BOT_LOCALPART)).toBeUndefined();
    expect(userUriOfPuppetLocalpart('abc=')).toBeUndefined();
    expect(userUriOfPuppetLocalpart('a_zz=example.org')).toBeUndefined();
    expect(() => puppetLocalpart('mimi://example.org/r/room')).toThrow(/user URI/);
  });

  it('gives the readable name of a user', () => {
    expect(userUriLocalName(userUri(DOMAIN, 'zoë'))).toBe('zoë');
  });
});

describe('mirrorRoomLocalpart', () => {
  it('is a readable slug plus a hash of the whole URI', () => {
    const a = mirrorRoomLocalpart('mimi://hub.example/r/General Chat');
    expect(a).toMatch(/^general-chat-[0-9a-f]{8}$/);
    expect(mirrorRoomLocalpart('mimi://other.example/r/General Chat')).not.toBe(a);
    expect(mirrorRoomLocalpart('mimi://hub.example/r/%F0%9F%8E%89')).toMatch(/^room-[0-9a-f]{8}$/);
  });
});
