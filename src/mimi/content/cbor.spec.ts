import fc from 'fast-check';
import { CodecError } from '../../common/errors';
import {
  CborFloat,
  CborMap,
  CborSimple,
  CborTag,
  CborValue,
  decodeCbor,
  decodeCborDeterministic,
  DEFAULT_CBOR_MAX_DEPTH,
  encodeCbor,
} from './cbor';
import { compareBytes, fromHex, toHex } from './hex';
import { expectCodecError } from '../../../test/support/codec-errors';

/** RFC 8949 Appendix A examples that are in deterministic encoding, as [value, hex]. */
const RFC8949_APPENDIX_A: readonly (readonly [CborValue, string])[] = [
  [0, '00'],
  [23, '17'],
  [24, '1818'],
  [100, '1864'],
  [1000, '1903e8'],
  [1000000, '1a000f4240'],
  [1000000000000, '1b000000e8d4a51000'],
  [18446744073709551615n, '1bffffffffffffffff'],
  [-1, '20'],
  [-10, '29'],
  [-100, '3863'],
  [-1000, '3903e7'],
  [-18446744073709551616n, '3bffffffffffffffff'],
  [new CborFloat(0), 'f90000'],
  [new CborFloat(-0), 'f98000'],
  [new CborFloat(1), 'f93c00'],
  [new CborFloat(1.1), 'fb3ff199999999999a'],
  [new CborFloat(1.5), 'f93e00'],
  [new CborFloat(65504), 'f97bff'],
  [new CborFloat(100000), 'fa47c35000'],
  [new CborFloat(3.4028234663852886e38), 'fa7f7fffff'],
  [new CborFloat(1.0e300), 'fb7e37e43c8800759c'],
  [new CborFloat(5.960464477539063e-8), 'f90001'],
  [new CborFloat(0.00006103515625), 'f90400'],
  [new CborFloat(-4), 'f9c400'],
  [new CborFloat(-4.1), 'fbc010666666666666'],
  [new CborFloat(Infinity), 'f97c00'],
  [new CborFloat(NaN), 'f97e00'],
  [new CborFloat(-Infinity), 'f9fc00'],
  [false, 'f4'],
  [true, 'f5'],
  [null, 'f6'],
  [undefined, 'f7'],
  [new CborSimple(16), 'f0'],
  [new CborSimple(255), 'f8ff'],
  [new CborTag(0, '2013-03-21T20:04:00Z'), 'c074323031332d30332d32315432303a30343a30305a'],
  [new CborTag(32, 'http://www.example.com'), 'd82076687474703a2f2f7777772e6578616d706c652e636f6d'],
  [new Uint8Array(0), '40'],
  [fromHex('01020304'), '4401020304'],
  ['', '60'],
  ['a', '6161'],
  ['IETF', '6449455446'],
  ['"\\', '62225c'],
  ['\u00fc', '62c3bc'],
  ['\u6c34', '63e6b0b4'],
  ['\u{10151}', '64f0908591'],
  [[], '80'],
  [[1, 2, 3], '83010203'],
  [[1, [2, 3], [4, 5]], '8301820203820405'],
  [Array.from({ length: 25 }, (_, i) => i + 1), '98190102030405060708090a0b0c0d0e0f101112131415161718181819'],
  [new CborMap(), 'a0'],
  [
    new CborMap([
      [1, 2],
      [3, 4],
    ]),
    'a201020304',
  ],
  [
    new CborMap([
      ['a', 1],
      ['b', [2, 3]],
    ]),
    'a26161016162820203',
  ],
  [['a', new CborMap([['b', 'c']])], '826161a161626163'],
];

/** Recursively sort map entries the way the deterministic encoder does, for equality checks. */
function normalize(v: CborValue): CborValue {
  if (Array.isArray(v)) return (v as readonly CborValue[]).map(normalize);
  if (v instanceof CborTag) return new CborTag(v.tag, normalize(v.value));
  if (v instanceof CborMap) {
    const entries = v.entries.map(([k, val]) => [normalize(k), normalize(val)] as const);
    return new CborMap([...entries].sort((a, b) => compareBytes(encodeCbor(a[0]), encodeCbor(b[0]))));
  }
  return v;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

const cborLeaf: fc.Arbitrary<CborValue> = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -(1n << 64n), max: (1n << 64n) - 1n }).filter((b) => b > MAX_SAFE || b < -MAX_SAFE),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.uint8Array({ maxLength: 40 }),
  fc.constantFrom<CborValue>(true, false, null, undefined),
  fc.double().map((d) => new CborFloat(d)),
  fc.float().map((f) => new CborFloat(f)),
  fc.oneof(fc.integer({ min: 0, max: 19 }), fc.integer({ min: 32, max: 255 })).map((n) => new CborSimple(n)),
);

const { cborValue } = fc.letrec<{ cborValue: CborValue }>((tie) => ({
  cborValue: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    cborLeaf,
    fc.array(tie('cborValue'), { maxLength: 5 }),
    fc
      .uniqueArray(fc.tuple(tie('cborValue'), tie('cborValue')), {
        maxLength: 5,
        selector: ([k]) => toHex(encodeCbor(k)),
      })
      .map((entries) => new CborMap(entries)),
    fc
      .tuple(
        fc.oneof(fc.integer({ min: 0, max: 2 ** 32 }), fc.constant(2 ** 53 - 1)).filter((t) => t !== 2 && t !== 3),
        tie('cborValue'),
      )
      .map(([t, v]) => new CborTag(t, v)),
  ),
}));

describe('encodeCbor', () => {
  it.each(RFC8949_APPENDIX_A.map(([v, hex]) => [hex, v] as const))(
    'encodes RFC 8949 Appendix A value as %s',
    (hex, v) => {
      expect(toHex(encodeCbor(v))).toBe(hex);
    },
  );

  it('sorts map keys bytewise by encoded form (RFC 8949 §4.2.1), not length-first (RFC 7049)', () => {
    const keys: CborValue[] = [false, [-1], [100], 'aa', 'z', -1, 100, 10];
    const encoded = encodeCbor(new CborMap(keys.map((k) => [k, 0] as const)));
    const decoded = decodeCbor(encoded).value as CborMap;
    // §4.2.1's own example order; RFC 7049 canonical order would put -1 (0x20) before 100 (0x1864).
    expect(decoded.entries.map(([k]) => k)).toEqual([10, 100, -1, 'z', 'aa', [100], [-1], false]);
  });

  it.each<[string, CborValue, RegExp]>([
    ['a non-integer number', 1.5, /not a safe integer/],
    ['NaN as a plain number', NaN, /not a safe integer/],
    ['an unsafe integer number', 2 ** 53, /not a safe integer/],
    ['an integer beyond 64 bits', 1n << 64n, /outside the 64-bit range/],
    ['a negative integer beyond 64 bits', -(1n << 64n) - 1n, /outside the 64-bit range/],
    ['a lone surrogate', 'a\ud800b', /lone surrogate/],
    [
      'duplicate map keys',
      new CborMap([
        [1, 'a'],
        [1n, 'b'],
      ]),
      /duplicate map key 01/,
    ],
    ['simple value 20 (false)', new CborSimple(20), /simple value 20/],
    ['simple value 24', new CborSimple(24), /simple value 24/],
    ['a negative tag number', new CborTag(-1, 0), /invalid tag number/],
  ])('rejects %s', (_name, value, pattern) => {
    expectCodecError(() => encodeCbor(value), pattern);
  });

  it('rejects a cyclic array instead of overflowing the stack', () => {
    const cyclic: CborValue[] = [];
    cyclic.push(cyclic);
    expectCodecError(() => encodeCbor(cyclic), /nesting deeper than 256/);
  });
});

describe('decodeCbor', () => {
  it.each(RFC8949_APPENDIX_A.map(([v, hex]) => [hex, v] as const))('decodes %s deterministically', (hex, v) => {
    const result = decodeCbor(fromHex(hex));
    expect(result.value).toEqual(v);
    expect(result.deterministic).toBe(true);
    expect(result.violations).toEqual([]);
  });

  it('switches to bigint exactly beyond ±(2^53-1)', () => {
    expect(decodeCbor(fromHex('1b001fffffffffffff')).value).toBe(Number.MAX_SAFE_INTEGER);
    expect(decodeCbor(fromHex('1b0020000000000000')).value).toBe(2n ** 53n);
    expect(decodeCbor(fromHex('3b001ffffffffffffe')).value).toBe(-Number.MAX_SAFE_INTEGER);
    expect(decodeCbor(fromHex('3b001fffffffffffff')).value).toBe(-(2n ** 53n));
    expect(toHex(encodeCbor(-(2n ** 53n)))).toBe('3b001fffffffffffff');
  });

  it('keeps a byte-order mark in a text string', () => {
    expect(decodeCbor(fromHex('63efbbbf')).value).toBe('\ufeff');
  });

  it('returns byte strings that do not alias the input', () => {
    const input = fromHex('42abcd');
    const value = decodeCbor(input).value as Uint8Array;
    input[1] = 0;
    expect(toHex(value)).toBe('abcd');
  });

  describe('rejects malformed input with the rule and offset', () => {
    it.each<[string, string, RegExp]>([
      ['empty input', '', /RFC 8949 §3: truncated input: empty at offset 0/],
      ['a truncated head argument', '1901', /truncated input: need 2 more byte\(s\), 1 remain at offset 0/],
      [
        'a truncated item inside an array',
        '8301021901',
        /truncated input: need 2 more byte\(s\), 1 remain at offset 3/,
      ],
      ['a text string longer than the input', '6261', /text string of declared length 2 cannot fit .* at offset 0/],
      ['a byte string with a 4 GiB length', '5affffffff00', /byte string of declared length 4294967295 cannot fit/],
      ['an array count larger than the input', '9a0000ffff00', /array of declared length 65535 cannot fit/],
      ['a map count larger than the input', 'a30102', /map of declared length 3 cannot fit/],
      ['a 64-bit length', '7bffffffffffffffff', /text string of declared length 18446744073709551615 cannot fit/],
      ['trailing bytes', '0100', /RFC 8949 §5.1: 1 trailing byte\(s\) after the data item at offset 1/],
      [
        'reserved additional information 28',
        '1c',
        /reserved additional information value 28 \(major type 0\) at offset 0/,
      ],
      ['reserved additional information 29', '8301023d', /value 29 \(major type 1\) at offset 3/],
      ['reserved additional information 30 in major 7', 'fe', /value 30 \(major type 7\)/],
      [
        'an indefinite-length byte string',
        '5f4101ff',
        /§6.1: indefinite-length byte string is not allowed at offset 0/,
      ],
      ['an indefinite-length text string', '7f6161ff', /indefinite-length text string is not allowed/],
      ['an indefinite-length array', '9f01ff', /indefinite-length array is not allowed/],
      ['an indefinite-length map', 'bf0101ff', /indefinite-length map is not allowed/],
      [
        'additional information 31 on an integer',
        '1f',
        /additional information 31 is not well-formed for major type 0/,
      ],
      ['additional information 31 on a tag', 'df', /not well-formed for major type 6/],
      ['a lone break stop code', 'ff', /RFC 8949 §3.2.1: break stop code outside an indefinite-length item/],
      ['a two-byte simple value below 32', 'f810', /RFC 8949 §3.3: two-byte simple value 16/],
      ['invalid UTF-8', '62c328', /§6.2: text string is not valid UTF-8 at offset 0/],
      ['UTF-8 of a surrogate code point', '63eda080', /not valid UTF-8/],
      ['an overlong UTF-8 encoding', '62c080', /not valid UTF-8/],
      ['a duplicate map key', 'a201010102', /RFC 8949 §5.6: duplicate map key at offset 3/],
      ['a duplicate key written in two widths', 'a20100180100', /duplicate map key at offset 3/],
      ['a bignum tag on a non-byte-string', 'c201', /RFC 8949 §3.4.3: tag 2 content must be a byte string/],
    ])('%s', (_name, hex, pattern) => {
      expectCodecError(() => decodeCbor(fromHex(hex)), pattern);
    });
  });

  it('accepts nesting up to maxDepth and rejects one level more', () => {
    const nested = (levels: number): Uint8Array => fromHex('81'.repeat(levels - 1) + '80');
    expect(() => decodeCbor(nested(DEFAULT_CBOR_MAX_DEPTH))).not.toThrow();
    expectCodecError(() => decodeCbor(nested(DEFAULT_CBOR_MAX_DEPTH + 1)), /nested deeper than 32 at offset 32/);
    expectCodecError(() => decodeCbor(nested(4), { maxDepth: 3 }), /nested deeper than 3/);
  });

  it('counts tags and maps towards the nesting limit', () => {
    expectCodecError(() => decodeCbor(fromHex('c1a10180'), { maxDepth: 2 }), /nested deeper than 2 at offset 3/);
  });

  describe('reports deterministic-encoding violations without failing', () => {
    it.each<[string, string, CborValue, string, number]>([
      ['uint 23 in a 1-byte argument', '1817', 23, 'non-shortest-head', 0],
      ['uint 255 in a 2-byte argument', '1900ff', 255, 'non-shortest-head', 0],
      ['uint 65535 in a 4-byte argument', '1a0000ffff', 65535, 'non-shortest-head', 0],
      ['uint 2^32-1 in an 8-byte argument', '1b00000000ffffffff', 4294967295, 'non-shortest-head', 0],
      ['a negative integer with a long head', '3800', -1, 'non-shortest-head', 0],
      ['a byte-string length with a long head', '580161', fromHex('61'), 'non-shortest-head', 0],
      ['a text-string length with a long head', '780161', 'a', 'non-shortest-head', 0],
      ['an array count with a long head', '980100', [0], 'non-shortest-head', 0],
      ['a tag number with a long head', 'd80100', new CborTag(1, 0), 'non-shortest-head', 0],
      ['a nested non-shortest item', '82011801', [1, 1], 'non-shortest-head', 2],
      ['1.0 as a single-precision float', 'fa3f800000', new CborFloat(1), 'non-shortest-float', 0],
      ['1.0 as a double-precision float', 'fb3ff0000000000000', new CborFloat(1), 'non-shortest-float', 0],
      ['100000 as a double', 'fb40f86a0000000000', new CborFloat(100000), 'non-shortest-float', 0],
      ['NaN in single precision', 'fa7fc00000', new CborFloat(NaN), 'non-canonical-nan', 0],
      ['NaN with a payload in half precision', 'f97e01', new CborFloat(NaN), 'non-canonical-nan', 0],
      ['a bignum that fits in 64 bits', 'c24101', new CborTag(2, fromHex('01')), 'bignum', 0],
      [
        'a bignum with a leading zero byte',
        'c24a00010000000000000000',
        new CborTag(2, fromHex('00010000000000000000')),
        'bignum',
        0,
      ],
    ])('%s', (_name, hex, value, kind, offset) => {
      const result = decodeCbor(fromHex(hex));
      expect(result.value).toEqual(value);
      expect(result.deterministic).toBe(false);
      expect(result.violations).toHaveLength(1);
      expect(result.violations[0]).toMatchObject({ kind, offset });
      expect(result.violations[0]!.message).toMatch(new RegExp(`at offset ${offset}$`));
    });

    it('map keys out of bytewise order', () => {
      const result = decodeCbor(fromHex('a202000100'));
      expect(result.violations).toEqual([
        expect.objectContaining({ kind: 'unsorted-map-keys', offset: 3, message: expect.stringMatching(/sorted/) }),
      ]);
    });

    it('map keys in RFC 7049 length-first order ({-1: 0, 100: 0})', () => {
      const result = decodeCbor(fromHex('a22000186400'));
      expect(result.violations).toEqual([expect.objectContaining({ kind: 'unsorted-map-keys', offset: 3 })]);
    });

    it('a bignum too large for 64 bits without leading zeros is fine', () => {
      expect(decodeCbor(fromHex('c249010000000000000000')).deterministic).toBe(true);
    });
  });
});

describe('decodeCborDeterministic', () => {
  it('returns the value of deterministic input', () => {
    expect(decodeCborDeterministic(fromHex('83010203'))).toEqual([1, 2, 3]);
  });

  it('throws the first violation with RFC 8949 §4.2.1 and the offset', () => {
    expectCodecError(
      () => decodeCborDeterministic(fromHex('82011817')),
      /^CBOR RFC 8949 §4.2.1: head of major type 0 not in shortest form at offset 2$/,
    );
  });
});

describe('CBOR properties', () => {
  it('decode(encode(v)) is v (maps sorted) and the encoding is deterministic and stable', () => {
    fc.assert(
      fc.property(cborValue, (v) => {
        const bytes = encodeCbor(v);
        const result = decodeCbor(bytes);
        expect(result.violations).toEqual([]);
        expect(result.value).toEqual(normalize(v));
        expect(toHex(encodeCbor(result.value))).toBe(toHex(bytes));
      }),
    );
  });

  it('every strict prefix of an encoding is rejected as truncated', () => {
    fc.assert(
      fc.property(
        cborValue.map((v) => encodeCbor(v)),
        fc.nat(),
        (bytes, cut) => {
          const prefix = bytes.subarray(0, cut % bytes.length);
          expectCodecError(() => decodeCbor(prefix), /truncated|cannot fit/);
        },
      ),
    );
  });

  it('decoding any bytes either succeeds or throws CodecError, and deterministic input re-encodes to itself', () => {
    const mutated = fc
      .tuple(
        cborValue.map((v) => encodeCbor(v)),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
      )
      .map(([bytes, at, b]) => {
        const copy = bytes.slice();
        copy[at % copy.length] = b;
        return copy;
      });
    fc.assert(
      fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 64 })), (bytes) => {
        let result;
        try {
          result = decodeCbor(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(CodecError);
          return;
        }
        if (result.deterministic) expect(toHex(encodeCbor(result.value))).toBe(toHex(bytes));
      }),
    );
  });

  it('an unsigned integer written with a wider head decodes to the same value with a violation', () => {
    const widths = [
      { ai: 24, bytes: 1, max: 0xff },
      { ai: 25, bytes: 2, max: 0xffff },
      { ai: 26, bytes: 4, max: 0xffff_ffff },
      { ai: 27, bytes: 8, max: Number.MAX_SAFE_INTEGER },
    ];
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.nat({ max: 3 }), (n, w) => {
        const width = widths.find((x, i) => i >= w && n <= x.max)!;
        const shortest = encodeCbor(n);
        fc.pre(shortest.length < 1 + width.bytes);
        const long = new Uint8Array(1 + width.bytes);
        long[0] = width.ai;
        let rest = BigInt(n);
        for (let i = width.bytes; i >= 1; i--) {
          long[i] = Number(rest & 0xffn);
          rest >>= 8n;
        }
        const result = decodeCbor(long);
        expect(result.value).toBe(n);
        expect(result.violations.map((v) => v.kind)).toEqual(['non-shortest-head']);
      }),
    );
  });
});
