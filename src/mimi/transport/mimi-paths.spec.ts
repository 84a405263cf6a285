import fc from 'fast-check';
import { ValidationError } from '../../common/errors';
import { parseMimiUri } from '../../common/ids';
import {
  MIMI_ROUTES,
  ParseDomainPipe,
  ParseDownloadUrlPipe,
  ParseRoomUriPipe,
  ParseUserUriPipe,
  endpointPathSegment,
  parseMimiPathParam,
  parseRoomPathSegment,
  roomPathSegment,
} from './mimi-paths';

const CLUB_ROOM = 'mimi://a.example/r/club';
const CLUB_SEGMENT = 'mimi%3A%2F%2Fa.example%2Fr%2Fclub';
const ALICE = 'mimi://a.example/u/alice';
const DOMAINS = ['a.example', 'b.example', 'gw.chat.example.org', 'xn--bcher-kva.example'];

/** Any MIMI URI parseMimiUri accepts: arbitrary Unicode local parts, including `/`, `%`, `?`, `#`. */
const mimiUri = fc
  .record({
    domain: fc.constantFrom(...DOMAINS),
    kind: fc.constantFrom('r', 'u'),
    local: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
  })
  .map(({ domain, kind, local }) => `mimi://${domain}/${kind}/${local}`)
  .filter((uri) => parseMimiUri(uri) !== undefined);

describe('roomPathSegment / parseRoomPathSegment', () => {
  it('percent-encodes the full room URI as one segment', () => {
    expect(roomPathSegment(CLUB_ROOM)).toBe(CLUB_SEGMENT);
    expect(parseRoomPathSegment(CLUB_SEGMENT)).toBe(CLUB_ROOM);
  });

  it('are exact inverses and never produce a path, query or fragment delimiter', () => {
    fc.assert(
      fc.property(mimiUri, (uri) => {
        const segment = roomPathSegment(uri);
        expect(segment).not.toMatch(/[/?#]/);
        expect(parseRoomPathSegment(segment)).toBe(uri);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps a literal % in the URI distinct from its encoding', () => {
    const encodedLocal = 'mimi://a.example/r/a%20b';
    expect(roomPathSegment(encodedLocal)).toBe('mimi%3A%2F%2Fa.example%2Fr%2Fa%2520b');
    expect(parseRoomPathSegment(roomPathSegment(encodedLocal))).toBe(encodedLocal);
  });

  it('accepts non-canonical (lower-case hex) encodings on receipt', () => {
    expect(parseRoomPathSegment(CLUB_SEGMENT.toLowerCase())).toBe(CLUB_ROOM);
  });

  it('rejects what is not a MIMI URI, bad encodings, raw slashes and lone surrogates', () => {
    expect(() => roomPathSegment('https://a.example/r/club')).toThrow(ValidationError);
    expect(() => roomPathSegment(`mimi://a.example/r/\ud800`)).toThrow(ValidationError);
    expect(() => parseRoomPathSegment('mimi%3A%2F%2Fa.example%2Fr%2F%E0%A4%A')).toThrow(ValidationError);
    expect(() => parseRoomPathSegment('a.example%2Fr%2Fclub')).toThrow(ValidationError);
    expect(() => parseRoomPathSegment('mimi:/a.example/r/club')).toThrow(ValidationError);
  });
});

describe('parseMimiPathParam and the pipes', () => {
  it('accepts the expected kind only', () => {
    expect(parseMimiPathParam(CLUB_ROOM, 'r')).toBe(CLUB_ROOM);
    expect(parseMimiPathParam(ALICE, 'u')).toBe(ALICE);
    expect(() => parseMimiPathParam(ALICE, 'r')).toThrow(ValidationError);
    expect(() => parseMimiPathParam(CLUB_ROOM, 'u')).toThrow(ValidationError);
    expect(new ParseRoomUriPipe().transform(CLUB_ROOM)).toBe(CLUB_ROOM);
    expect(new ParseUserUriPipe().transform(ALICE)).toBe(ALICE);
    expect(() => new ParseRoomUriPipe().transform('club')).toThrow(ValidationError);
  });
});

describe('MIMI_ROUTES', () => {
  it('uses the draft path templates (protocol-06 §5.2–§5.6, §5.8)', () => {
    expect(MIMI_ROUTES).toEqual({
      keyMaterial: 'keyMaterial/:targetUser',
      update: 'update/:roomId',
      notify: 'notify/:roomId',
      submitMessage: 'submitMessage/:roomId',
      groupInfo: 'groupInfo/:roomId',
      identifierQuery: 'identifierQuery/:domain',
      requestConsent: 'requestConsent/:targetDomain',
      updateConsent: 'updateConsent/:requesterDomain',
      reportAbuse: 'reportAbuse/:roomId',
      proxyDownload: 'proxyDownload/:downloadUrl',
    });
  });
});

describe('endpointPathSegment and ParseDomainPipe (protocol-06 §5.7 domains in the path)', () => {
  it('puts a provider domain as it is, lower-cased, and a MIMI URI percent-encoded', () => {
    expect(endpointPathSegment('requestConsent', 'B.Example')).toBe('b.example');
    expect(endpointPathSegment('updateConsent', 'a.example')).toBe('a.example');
    expect(endpointPathSegment('reportAbuse', 'mimi://a.example/r/x')).toBe('mimi%3A%2F%2Fa.example%2Fr%2Fx');
  });

  it('refuses a URI where a domain belongs, and a domain where a URI belongs', () => {
    expect(() => endpointPathSegment('requestConsent', 'mimi://a.example/u/x')).toThrow(ValidationError);
    expect(() => endpointPathSegment('reportAbuse', 'a.example')).toThrow(ValidationError);
    expect(new ParseDomainPipe().transform('A.example')).toBe('a.example');
    expect(() => new ParseDomainPipe().transform('a.example/../x')).toThrow(ValidationError);
  });
});

describe('proxyDownload paths (protocol-06 §5.10.2)', () => {
  const asset = 'https://b.example:8443/mimiAsset/mimi%3A%2F%2Fa.example%2Fr%2Fx/b.example/abc';

  it('puts the whole download URL, percent-encoded, into one segment; Express decoding gives it back', () => {
    const segment = endpointPathSegment('proxyDownload', asset);
    expect(segment).not.toMatch(/[/?#]/);
    expect(decodeURIComponent(segment)).toBe(asset);
    expect(new ParseDownloadUrlPipe().transform(decodeURIComponent(segment)).href).toBe(asset);
  });

  it('refuses what is not an https URL, and URLs with credentials or a fragment', () => {
    for (const bad of ['http://b.example/x', 'b.example/x', 'https://u:p@b.example/x', 'https://b.example/x#f', '']) {
      expect(() => new ParseDownloadUrlPipe().transform(bad)).toThrow(ValidationError);
      expect(() => endpointPathSegment('proxyDownload', bad)).toThrow(ValidationError);
    }
  });
});
