import { CodecError, ValidationError } from '../../common/errors';
import {
  CONTENT_VECTORS,
  EXPIRING_ACCEPTED_TIMESTAMP_MS,
  ORIGINAL_ACCEPTED_TIMESTAMP_MS,
  ORIGINAL_MESSAGE_ID,
  readVector,
  ROOM_URI_ENGINEERING,
  SENDER_ALICE,
  SENDER_BOB,
} from '../../../test/fixtures/mimi-content-08/vectors';
import { fromHex, toHex } from './hex';
import {
  Cardinality,
  decodeMimiContent,
  MessageId,
  MimiContent,
  NestedPart,
  PartSemantics,
  SinglePart,
} from './mimi-content';
import {
  clockWarnings,
  DEFAULT_MAX_BODY_OCTETS,
  MAX_BODY_PARTS,
  MAX_TOPIC_ID_OCTETS,
  ONE_YEAR_MS,
  receiveMimiContent,
  SPEC_EPOCH_MS,
  validateAcceptedTimestamp,
  validateMimiContent,
} from './validate';

/** A fixed "now" for the clock-based rules: when the draft's Original was accepted. */
const NOW_MS = ORIGINAL_ACCEPTED_TIMESTAMP_MS;
const NOW_S = Math.floor(NOW_MS / 1000);
const ONE_YEAR_S = ONE_YEAR_MS / 1000;
const UNKNOWN_HASH_ALG_ID = fromHex('02' + '00'.repeat(31));
const UNKNOWN_MESSAGE_ID = fromHex('01' + 'ab'.repeat(31));

const original = (): MimiContent => decodeMimiContent(readVector('original'));

function expectRejected(fn: () => unknown, pattern: RegExp, type = ValidationError): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(type);
  expect((thrown as Error).message).toMatch(pattern);
}

const text = (t = 'x'): SinglePart => ({
  disposition: 1,
  language: '',
  cardinality: Cardinality.Single,
  contentType: 'text/plain;charset=utf-8',
  content: new Uint8Array(Buffer.from(t)),
});

const multi = (parts: NestedPart[]): NestedPart => ({
  disposition: 1,
  language: '',
  cardinality: Cardinality.Multi,
  partSemantics: PartSemantics.ProcessAll,
  parts,
});

describe('validateMimiContent (§9.1)', () => {
  it.each(CONTENT_VECTORS.map((v) => [v.name] as const))('accepts the draft example %s', (name) => {
    const now = name === 'expiring' ? EXPIRING_ACCEPTED_TIMESTAMP_MS : NOW_MS;
    expect(() => validateMimiContent(decodeMimiContent(readVector(name)), { now })).not.toThrow();
  });

  it('accepts a topicId of 4096 octets and rejects 4097', () => {
    const ok = { ...original(), topicId: new Uint8Array(MAX_TOPIC_ID_OCTETS) };
    expect(() => validateMimiContent(ok, { now: NOW_MS })).not.toThrow();
    expectRejected(
      () => validateMimiContent({ ...original(), topicId: new Uint8Array(MAX_TOPIC_ID_OCTETS + 1) }),
      /^§9.1: topicId is 4097 octets, more than 4096$/,
    );
  });

  describe('expires', () => {
    const withExpiry = (relative: boolean, time: number): MimiContent => ({
      ...original(),
      expires: { relative, time },
    });

    it.each<[string, boolean, number]>([
      ['absolute, ten minutes ahead', false, NOW_S + 600],
      ['absolute, just under a year ago', false, NOW_S - ONE_YEAR_S + 60],
      ['absolute, just under a year ahead', false, NOW_S + ONE_YEAR_S - 60],
      ['relative, one year', true, ONE_YEAR_S],
      ['relative, zero', true, 0],
    ])('accepts %s', (_name, relative, time) => {
      expect(() => validateMimiContent(withExpiry(relative, time), { now: NOW_MS })).not.toThrow();
    });

    it.each<[string, boolean, number, RegExp]>([
      [
        'absolute, more than a year in the past',
        false,
        NOW_S - ONE_YEAR_S - 60,
        /^§9.1: absolute expires is more than a year in the past$/,
      ],
      [
        'absolute, more than a year in the future',
        false,
        NOW_S + ONE_YEAR_S + 60,
        /^§9.1: absolute expires is more than a year in the future$/,
      ],
      [
        'relative, more than a year',
        true,
        ONE_YEAR_S + 1,
        /^§9.1: relative expires is more than a year in the future$/,
      ],
    ])('rejects %s', (_name, relative, time, pattern) => {
      expectRejected(() => validateMimiContent(withExpiry(relative, time), { now: NOW_MS }), pattern);
    });

    it('skips the clock-based rules when asked, and reports them as warnings instead', () => {
      const old = withExpiry(false, NOW_S - 2 * ONE_YEAR_S);
      expect(() => validateMimiContent(old, { now: NOW_MS, checkClock: false })).not.toThrow();
      expect(clockWarnings(old, NOW_MS)).toEqual(['§9.1: absolute expires is more than a year in the past']);
      expect(clockWarnings(original(), NOW_MS)).toEqual([]);
    });
  });

  describe('body', () => {
    it(`accepts ${MAX_BODY_PARTS} parts and rejects ${MAX_BODY_PARTS + 1}`, () => {
      const body = (n: number): NestedPart => multi(Array.from({ length: n - 1 }, () => text()));
      expect(() => validateMimiContent({ ...original(), nestedPart: body(MAX_BODY_PARTS) })).not.toThrow();
      expectRejected(
        () => validateMimiContent({ ...original(), nestedPart: body(MAX_BODY_PARTS + 1) }),
        /^§9.1: body has 1025 parts, more than 1024$/,
      );
    });

    it('rejects parts nested more than 4 levels deep', () => {
      let part: NestedPart = text();
      for (let level = 1; level < 5; level++) part = multi([part, text()]);
      expectRejected(
        () => validateMimiContent({ ...original(), nestedPart: part }),
        /^§6.3\/§9.1: NestedPart nested more than 4 levels deep/,
      );
    });

    it('rejects an unknown partSemantics value', () => {
      const part = { ...multi([text(), text()]), partSemantics: 3 as PartSemantics };
      expectRejected(
        () => validateMimiContent({ ...original(), nestedPart: part }),
        /^§9.1: nestedPart has an unknown partSemantics value 3$/,
      );
    });

    it('rejects a body larger than the local limit and accepts one at the limit', () => {
      const big = (n: number): MimiContent => ({
        ...original(),
        nestedPart: multi([text('a'.repeat(n - 1)), text('b')]),
      });
      expect(() => validateMimiContent(big(DEFAULT_MAX_BODY_OCTETS))).not.toThrow();
      expectRejected(
        () => validateMimiContent(big(DEFAULT_MAX_BODY_OCTETS + 1)),
        /^§9.1: body is too large \(1048577 octets/,
      );
      expectRejected(() => validateMimiContent(big(11), { maxBodyOctets: 10 }), /local limit 10\)$/);
    });
  });

  describe('message IDs', () => {
    it.each<['replaces' | 'inReplyTo']>([['replaces'], ['inReplyTo']])(
      'rejects %s with an unknown hash algorithm octet',
      (field) => {
        expectRejected(
          () => validateMimiContent({ ...original(), [field]: UNKNOWN_HASH_ALG_ID }),
          new RegExp(`^§9.1: ${field} message ID uses unknown hash algorithm 0x02$`),
        );
      },
    );

    it('tolerates inReplyTo and replaces that refer to unknown messages', () => {
      const msg = { ...original(), inReplyTo: UNKNOWN_MESSAGE_ID, replaces: UNKNOWN_MESSAGE_ID };
      expect(() => validateMimiContent(msg, { now: NOW_MS })).not.toThrow();
    });
  });

  it('tolerates unknown dispositions, content types and language tags', () => {
    const part: NestedPart = {
      disposition: 250,
      language: 'x-unheard-of,zz',
      cardinality: Cardinality.Single,
      contentType: 'application/vnd.nobody-knows',
      content: new Uint8Array([0]),
    };
    expect(() => validateMimiContent({ ...original(), nestedPart: part }, { now: NOW_MS })).not.toThrow();
  });

  it('also applies the CDDL checks to hand-built models', () => {
    expectRejected(
      () => validateMimiContent({ ...original(), salt: new Uint8Array(15) }),
      /^§4.1: salt must be a 16-byte/,
    );
  });
});

describe('validateAcceptedTimestamp (§9.1)', () => {
  it('accepts the draft Original timestamp at that time and up to five minutes of skew', () => {
    expect(() => validateAcceptedTimestamp(ORIGINAL_ACCEPTED_TIMESTAMP_MS, { now: NOW_MS })).not.toThrow();
    expect(() => validateAcceptedTimestamp(NOW_MS + 5 * 60_000, { now: NOW_MS })).not.toThrow();
  });

  it.each<[string, number, { roomCreatedAt?: number; maxFutureSkewMs?: number }, RegExp]>([
    [
      'more than a few minutes in the future',
      NOW_MS + 5 * 60_000 + 1,
      {},
      /^§9.1: accepted timestamp is more than 5 minutes in the future$/,
    ],
    ['beyond a custom skew', NOW_MS + 1001, { maxFutureSkewMs: 1000 }, /in the future/],
    [
      'before the concrete syntax existed',
      SPEC_EPOCH_MS - 1,
      {},
      /^§9.1: accepted timestamp is before the concrete syntax/,
    ],
    [
      'before the room was created',
      NOW_MS - 1,
      { roomCreatedAt: NOW_MS },
      /^§9.1: accepted timestamp is before the room was created$/,
    ],
    ['fractional', NOW_MS + 0.5, {}, /^§3.4: accepted timestamp .* is not a whole number of milliseconds$/],
  ])('rejects a timestamp %s', (_name, ts, opts, pattern) => {
    expectRejected(() => validateAcceptedTimestamp(ts, { now: NOW_MS, ...opts }), pattern);
  });
});

describe('receiveMimiContent', () => {
  const receive = { senderUri: SENDER_ALICE, roomUri: ROOM_URI_ENGINEERING, now: NOW_MS };

  it('decodes, validates and derives the ID over the received bytes', () => {
    const bytes = readVector('original');
    const received = receiveMimiContent(bytes, { ...receive, acceptedTimestamp: ORIGINAL_ACCEPTED_TIMESTAMP_MS });
    expect(toHex(received.messageId)).toBe(ORIGINAL_MESSAGE_ID);
    expect(received.content).toEqual(original());
    expect(received.bytes).toBe(bytes);
  });

  it('rejects a duplicate message ID', () => {
    const seen = new Set([ORIGINAL_MESSAGE_ID]);
    const isKnownMessageId = (id: MessageId): boolean => seen.has(toHex(id));
    expectRejected(
      () => receiveMimiContent(readVector('original'), { ...receive, isKnownMessageId }),
      new RegExp(`^§9.1: duplicate message ID ${ORIGINAL_MESSAGE_ID}$`),
    );
  });

  it('rejects an apparent sender that is not the MLS sender', () => {
    expectRejected(
      () => receiveMimiContent(readVector('original'), { ...receive, senderUri: SENDER_BOB }),
      /^§9.1: apparent sender mimi:\/\/example.com\/u\/alice-smith \(extension senderUri\) is not the MLS sender/,
    );
  });

  it('rejects a roomUri extension naming another room', () => {
    expectRejected(
      () => receiveMimiContent(readVector('original'), { ...receive, roomUri: 'mimi://example.com/r/other' }),
      /^§4.3: extension roomUri mimi:\/\/example.com\/r\/engineering_team is not the room/,
    );
  });

  it('rejects an accepted timestamp in the future', () => {
    expectRejected(
      () => receiveMimiContent(readVector('original'), { ...receive, acceptedTimestamp: NOW_MS + ONE_YEAR_MS }),
      /^§9.1: accepted timestamp is more than 5 minutes in the future$/,
    );
  });

  it('rejects a message whose absolute expiry is long past at the receiver', () => {
    const later = EXPIRING_ACCEPTED_TIMESTAMP_MS + 2 * ONE_YEAR_MS;
    expectRejected(
      () => receiveMimiContent(readVector('expiring'), { ...receive, now: later }),
      /^§9.1: absolute expires is more than a year in the past$/,
    );
  });

  it('throws CodecError for bytes that are not MIMI content', () => {
    expectRejected(() => receiveMimiContent(fromHex('a0'), receive), /^§4.1: mimiContent must be an array/, CodecError);
  });
});
