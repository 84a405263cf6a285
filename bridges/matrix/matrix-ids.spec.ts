import fc from 'fast-check';
import { MatrixIds, decodeLocal, encodeLocal, mediaDownloadUrl, mxcOfDownloadUrl, parseMxc } from './matrix-ids';

const HS = 'hs.test';
const HS_URL = 'http://127.0.0.1:8008';
const ids = new MatrixIds('_mimi_', HS, 'mimibot');

describe('MatrixIds', () => {
  it.each([
    ['mimi://follower.example/u/carol', '@_mimi_follower.example_carol:hs.test'],
    ['mimi://follower.example/u/Carol_X', '@_mimi_follower.example_=43arol=5f=58:hs.test'],
    ['mimi://f.example/u/%40a%3Ab', '@_mimi_f.example_=2540a=253=41b:hs.test'],
    ['mimi://f.example/u/zoë', '@_mimi_f.example_zo=c3=ab:hs.test'],
  ])('maps %s to the ghost %s and back', (uri, ghost) => {
    expect(ids.ghostUserId(uri)).toBe(ghost);
    expect(ids.userUriOfGhost(ghost)).toBe(uri);
    expect(ids.isOwnUser(ghost)).toBe(true);
  });

  it.each([
    ['a room URI', 'mimi://f.example/r/general'],
    ['a non-MIMI URI', 'https://f.example/u/carol'],
    ['an upper-case domain', 'mimi://F.example/u/carol'],
    ['a very long name', `mimi://f.example/u/${'x'.repeat(300)}`],
  ])('has no ghost for %s', (_what, uri) => {
    expect(ids.ghostUserId(uri)).toBeUndefined();
  });

  it.each([
    ['a native user', '@alice:hs.test'],
    ['a ghost of another homeserver', '@_mimi_f.example_carol:other.test'],
    ['a non-canonical escape', '@_mimi_f.example_=63arol:hs.test'],
    ['an upper-case escape', '@_mimi_f.example_=C3=AB:hs.test'],
    ['invalid UTF-8', '@_mimi_f.example_=ff:hs.test'],
    ['no domain part', '@_mimi__carol:hs.test'],
  ])('finds no MIMI user behind %s', (_what, mxid) => {
    expect(ids.userUriOfGhost(mxid)).toBeUndefined();
  });

  it('knows the bot and the namespace as its own users', () => {
    expect(ids.botUserId).toBe('@mimibot:hs.test');
    expect(ids.isOwnUser('@mimibot:hs.test')).toBe(true);
    expect(ids.isOwnUser('@_mimi_anything:hs.test')).toBe(true);
    expect(ids.isOwnUser('@alice:hs.test')).toBe(false);
    expect(ids.isOwnUser('@mimibot:other.test')).toBe(false);
  });

  it('maps room URIs to portal aliases and back', () => {
    expect(ids.portalAlias('mimi://hub.example/r/general')).toBe('#_mimi_hub.example_general:hs.test');
    expect(ids.roomUriOfPortalAlias('#_mimi_hub.example_general:hs.test')).toBe('mimi://hub.example/r/general');
    expect(ids.roomUriOfPortalAlias('#general:hs.test')).toBeUndefined();
    expect(ids.portalAlias('mimi://hub.example/u/carol')).toBeUndefined();
  });

  it('round-trips any user local part (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 30 }), (local) => {
        const uri = `mimi://f.example/u/${local}`;
        const ghost = ids.ghostUserId(uri);
        if (ghost === undefined) return true; // not a canonical MIMI URI (e.g. contains a newline)
        return /^@[a-z0-9._=-]+:hs\.test$/.test(ghost) && ids.userUriOfGhost(ghost) === uri;
      }),
    );
  });

  it('decodes only what it encodes (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (s) => {
        expect(decodeLocal(encodeLocal(s))).toBe(s);
      }),
    );
  });
});

describe('media URLs', () => {
  it('maps mxc URIs to authenticated download URLs and back', () => {
    const url = mediaDownloadUrl(HS_URL, 'mxc://hs.test/AbC_d-1');
    expect(url).toBe('http://127.0.0.1:8008/_matrix/client/v1/media/download/hs.test/AbC_d-1');
    expect(mxcOfDownloadUrl(HS_URL, url!)).toBe('mxc://hs.test/AbC_d-1');
  });

  it.each([
    ['another host', 'https://evil.example/_matrix/client/v1/media/download/hs.test/abc'],
    ['a path escape', 'http://127.0.0.1:8008/_matrix/client/v1/media/download/hs.test/../../admin'],
    ['a query', 'http://127.0.0.1:8008/_matrix/client/v1/media/download/hs.test/abc?x=1'],
    ['the legacy endpoint', 'http://127.0.0.1:8008/_matrix/media/v3/download/hs.test/abc'],
  ])('refuses %s', (_what, url) => {
    expect(mxcOfDownloadUrl(HS_URL, url)).toBeUndefined();
  });

  it('rejects malformed mxc URIs', () => {
    expect(parseMxc('mxc://hs.test/a/b')).toBeUndefined();
    expect(parseMxc('https://hs.test/a')).toBeUndefined();
    expect(mediaDownloadUrl(HS_URL, 'mxc://hs.test/../x')).toBeUndefined();
  });
});
