import { ValidationError } from '../../common/errors';
import { readVector, ROOM_URI_ENGINEERING, SENDER_ALICE } from '../../../test/fixtures/mimi-content-08/vectors';
import { CborMap, CborTag, CborValue, encodeCbor } from './cbor';
import {
  extensionName,
  ExtensionKeys,
  externalMessageIdFromCbor,
  externalMessageIdToCbor,
  getExternalMessageId,
  getLastSeen,
  getRoomUri,
  getSenderTimestamp,
  getSenderUri,
  getSubject,
  lastSeenFromCbor,
  lastSeenToCbor,
  senderTimestampFromCbor,
  senderTimestampFromMillis,
  senderTimestampToCbor,
  senderTimestampToMillis,
} from './content-extensions';
import { fromHex, toHex } from './hex';
import { decodeMimiContent, MimiExtensions } from './mimi-content';

/** more-extensions-00 §3 example: `3: { 1: 1762760377, -6: 462917 }`. */
const DRAFT_SENDER_TIMESTAMP = new CborMap([
  [1, 1762760377],
  [-6, 462917],
]);
/** more-extensions-00 §4 example: `4: [h'08bbeeb8175c4a64a8926a5a23bb2811', 311]`. */
const DRAFT_EXTERNAL_ID: CborValue = [fromHex('08bbeeb8175c4a64a8926a5a23bb2811'), 311];
/** more-extensions-00 §5 example. */
const DRAFT_SUBJECT = 'This space intentionally left blank';
const XMPP_STANZA_ID = 'de305d54-75b4-431b-adb2-eb6b9e546013';
const MUC_URI = 'xmpp:room@muc.example.org';
const MESSAGE_ID_A = fromHex('01' + '11'.repeat(31));
const MESSAGE_ID_B = fromHex('01' + '22'.repeat(31));

function expectInvalid(fn: () => unknown, pattern: RegExp): void {
  expect(fn).toThrow(ValidationError);
  expect(fn).toThrow(pattern);
}

describe('senderUri / roomUri', () => {
  it('reads extensions 1 and 2 of the draft Original', () => {
    const ext = decodeMimiContent(readVector('original')).extensions;
    expect(getSenderUri(ext)).toBe(SENDER_ALICE);
    expect(getRoomUri(ext)).toBe(ROOM_URI_ENGINEERING);
  });

  it('returns undefined when absent', () => {
    const ext: MimiExtensions = new Map();
    expect(getSenderUri(ext)).toBeUndefined();
    expect(getRoomUri(ext)).toBeUndefined();
    expect(getSenderTimestamp(ext)).toBeUndefined();
    expect(getExternalMessageId(ext)).toBeUndefined();
    expect(getSubject(ext)).toBeUndefined();
    expect(getLastSeen(ext)).toBeUndefined();
  });

  it('names the known keys', () => {
    expect([1, 2, 3, 4, 5, 256, 6, 'x'].map(extensionName)).toEqual([
      'senderUri',
      'roomUri',
      'senderTimestamp',
      'externalMessageId',
      'subject',
      'lastSeen',
      undefined,
      undefined,
    ]);
  });
});

describe('senderTimestamp (more-extensions-00 §3)', () => {
  it('reads the draft example', () => {
    const ts = getSenderTimestamp(new Map([[ExtensionKeys.SenderTimestamp, DRAFT_SENDER_TIMESTAMP]]));
    expect(ts).toEqual({ seconds: 1762760377, fraction: { key: -6, value: 462917 } });
    expect(senderTimestampToMillis(ts!)).toBe(1762760377462);
  });

  it('writes the draft example back to the same bytes', () => {
    const ts = senderTimestampFromCbor(DRAFT_SENDER_TIMESTAMP);
    expect(toHex(encodeCbor(senderTimestampToCbor(ts)))).toBe(toHex(encodeCbor(DRAFT_SENDER_TIMESTAMP)));
  });

  it('converts milliseconds both ways', () => {
    expect(senderTimestampFromMillis(1_644_387_225_019)).toEqual({
      seconds: 1_644_387_225,
      fraction: { key: -3, value: 19 },
    });
    expect(senderTimestampFromMillis(1_644_387_225_000)).toEqual({ seconds: 1_644_387_225 });
    expect(senderTimestampToMillis({ seconds: 10, fraction: { key: -9, value: 999_999_999 } })).toBe(10_999);
  });

  it.each<[string, CborValue, RegExp]>([
    ['a non-map', 5, /must be a map/],
    ['missing seconds', new CborMap([[-3, 5]]), /key 1 must be an unsigned integer/],
    ['negative seconds', new CborMap([[1, -1]]), /key 1 must be an unsigned integer/],
    [
      'an unknown fraction key',
      new CborMap([
        [1, 5],
        [-4, 5],
      ]),
      /only key 1 and one of -3, -6, -9/,
    ],
    [
      'two fractions',
      new CborMap([
        [1, 5],
        [-3, 5],
        [-6, 5],
      ]),
      /only key 1 and one of/,
    ],
    [
      '1000 milliseconds',
      new CborMap([
        [1, 5],
        [-3, 1000],
      ]),
      /fraction -3 must be 0..999/,
    ],
  ])('rejects %s', (_name, value, pattern) => {
    expectInvalid(() => senderTimestampFromCbor(value), pattern);
  });
});

describe('externalMessageId (more-extensions-00 §4)', () => {
  it('reads the draft example as a PEN-scoped ID', () => {
    const x = getExternalMessageId(new Map([[ExtensionKeys.ExternalMessageId, DRAFT_EXTERNAL_ID]]));
    expect(x).toEqual({ id: fromHex('08bbeeb8175c4a64a8926a5a23bb2811'), scope: { kind: 'pen', pen: 311 } });
  });

  it('round-trips domain and tagged-URI scopes', () => {
    const id = new Uint8Array(Buffer.from(XMPP_STANZA_ID));
    for (const scope of [
      { kind: 'domain', domain: 'muc.example.org' },
      { kind: 'uri', uri: MUC_URI },
    ] as const) {
      const v = externalMessageIdToCbor({ id, scope });
      expect(externalMessageIdFromCbor(v)).toEqual({ id, scope });
    }
    expect(externalMessageIdToCbor({ id, scope: { kind: 'uri', uri: MUC_URI } })).toEqual([
      id,
      new CborTag(32, MUC_URI),
    ]);
  });

  it.each<[string, CborValue]>([
    ['a non-array', 'x'],
    ['a one-element array', [fromHex('01')]],
    ['a text native ID', ['id', 311]],
    ['PEN 0', [fromHex('01'), 0]],
    ['a tag other than 32', [fromHex('01'), new CborTag(33, 'x')]],
    ['a byte-string scope', [fromHex('01'), fromHex('02')]],
  ])('rejects %s', (_name, value) => {
    expectInvalid(() => externalMessageIdFromCbor(value), /more-extensions-00 §4: externalMessageId/);
  });
});

describe('subject (more-extensions-00 §5)', () => {
  it('reads the draft example', () => {
    expect(getSubject(new Map([[ExtensionKeys.Subject, DRAFT_SUBJECT]]))).toBe(DRAFT_SUBJECT);
  });

  it.each<[string, CborValue]>([
    ['an empty string', ''],
    ['4097 octets', 'é'.repeat(2048) + 'a'],
    ['a byte string', fromHex('41')],
  ])('rejects %s', (_name, value) => {
    expectInvalid(
      () => getSubject(new Map([[ExtensionKeys.Subject, value]])),
      /§5: subject must be a text string of 1..4096/,
    );
  });

  it('accepts exactly 4096 octets', () => {
    expect(getSubject(new Map([[ExtensionKeys.Subject, 'é'.repeat(2048)]]))).toHaveLength(2048);
  });
});

describe('lastSeen (more-extensions-00 §6)', () => {
  it('reads MIMI message IDs and external IDs, and round-trips them', () => {
    const mimi = { kind: 'mimi', ids: [MESSAGE_ID_A, MESSAGE_ID_B] } as const;
    expect(getLastSeen(new Map([[ExtensionKeys.LastSeen, lastSeenToCbor(mimi)]]))).toEqual(mimi);
    const ext = { kind: 'external', ids: [externalMessageIdFromCbor(DRAFT_EXTERNAL_ID)] } as const;
    expect(lastSeenFromCbor(lastSeenToCbor(ext))).toEqual(ext);
  });

  it('reads an empty list as no MIMI IDs', () => {
    expect(lastSeenFromCbor([])).toEqual({ kind: 'mimi', ids: [] });
  });

  it('rejects a mix of MIMI and external IDs, and non-arrays', () => {
    expectInvalid(() => lastSeenFromCbor([MESSAGE_ID_A, DRAFT_EXTERNAL_ID]), /only MessageIds or only ExtMessageIds/);
    expectInvalid(() => lastSeenFromCbor([fromHex('01')]), /only MessageIds or only ExtMessageIds/);
    expectInvalid(() => lastSeenFromCbor(new CborMap()), /lastSeen must be an array/);
  });
});
