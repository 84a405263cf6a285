import fc from 'fast-check';
import { CodecError } from '../common/errors';
import {
  MAX_VECTOR_LENGTH,
  TlsReader,
  TlsWriter,
  codec,
  decodeAll,
  decodeConcatenated,
  encodeConcatenated,
  encodeValue,
  enumCodec,
  fixedOpaque,
  opaque,
  optionalOf,
  uint16,
  uint32,
  uint64,
  uint8,
  utf8,
  vectorOf,
  type Codec,
} from './tls-codec';
import { expectCodecError, thrownBy } from '../../test/support/codec-errors';

const SAMPLE_ENUM = { reserved: 0, alpha: 1, beta: 7 } as const;
const sampleEnum = enumCodec('SampleEnum', SAMPLE_ENUM);
const WIDE_ENUM = { one: 1, big: 0x1234 } as const;
const wideEnum = enumCodec('WideEnum', WIDE_ENUM, 2);

interface Sample {
  id: number;
  name: string;
  tags: Uint8Array[];
  note?: bigint;
  kind: keyof typeof SAMPLE_ENUM;
}
const sampleCodec: Codec<Sample> = codec<Sample>(
  'Sample',
  (w, v) => {
    w.field('id', uint16, v.id);
    w.field('name', utf8, v.name);
    w.field('tags', vectorOf(opaque), v.tags);
    w.field('note', optionalOf(uint64), v.note);
    w.field('kind', sampleEnum, v.kind);
  },
  (r) => {
    const id = r.field('id', uint16);
    const name = r.field('name', utf8);
    const tags = r.field('tags', vectorOf(opaque));
    const note = r.field('note', optionalOf(uint64));
    const kind = r.field('kind', sampleEnum);
    return note === undefined ? { id, name, tags, kind } : { id, name, tags, note, kind };
  },
);
const sampleArb: fc.Arbitrary<Sample> = fc
  .record({
    id: fc.integer({ min: 0, max: 0xffff }),
    name: fc.string({ unit: 'grapheme', maxLength: 40 }),
    tags: fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 5 }),
    note: fc.option(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { nil: undefined }),
    kind: fc.constantFrom<keyof typeof SAMPLE_ENUM>('reserved', 'alpha', 'beta'),
  })
  .map((s) => {
    const { note, ...rest } = s;
    return note === undefined ? rest : { ...rest, note };
  });

function decodeVarint(bytes: number[]): number {
  const r = new TlsReader(Uint8Array.from(bytes), 'V');
  return r.varint();
}

describe('varint lengths (RFC 9420 §2.1.2)', () => {
  it.each([
    [0, [0x00]],
    [37, [0x25]],
    [63, [0x3f]],
    [64, [0x40, 0x40]],
    [15293, [0x7b, 0xbd]],
    [16383, [0x7f, 0xff]],
    [16384, [0x80, 0x00, 0x40, 0x00]],
    [494878333, [0x9d, 0x7f, 0x3e, 0x7d]],
    [MAX_VECTOR_LENGTH, [0xbf, 0xff, 0xff, 0xff]],
  ])('encodes %d in its minimum form and decodes it back', (n, bytes) => {
    const w = new TlsWriter();
    w.varint(n);
    expect(Array.from(w.finish())).toEqual(bytes);
    expect(decodeVarint(bytes)).toBe(n);
  });

  it.each([
    [[0x40, 0x25], 'length 37 encoded in 2 bytes'],
    [[0x40, 0x3f], 'length 63 encoded in 2 bytes'],
    [[0x80, 0x00, 0x00, 0x25], 'length 37 encoded in 4 bytes'],
    [[0x80, 0x00, 0x3f, 0xff], 'length 16383 encoded in 4 bytes'],
  ])('rejects the non-minimal encoding %j', (bytes, what) => {
    expectCodecError(() => decodeVarint(bytes), new RegExp(`^V: non-minimal varint: ${what} at offset 0$`));
  });

  it('rejects the reserved 0b11 prefix (8-byte lengths)', () => {
    expectCodecError(
      () => decodeVarint([0xc0, 0, 0, 0, 0, 0, 0, 1]),
      /^V: reserved varint prefix 0b11 \(8-byte lengths are not allowed\) at offset 0$/,
    );
  });

  it('rejects a truncated multi-byte length', () => {
    expectCodecError(() => decodeVarint([0x80, 0x01]), /4-byte vector length needs 4 bytes but only 2 remain/);
  });

  it('refuses to encode a length above 2^30 - 1', () => {
    expectCodecError(() => new TlsWriter('V').varint(MAX_VECTOR_LENGTH + 1), /vector length out of range/);
  });

  it('round-trips every length property-wise', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_VECTOR_LENGTH }), (n) => {
        const w = new TlsWriter();
        w.varint(n);
        const bytes = w.finish();
        expect(bytes.length).toBe(n < 64 ? 1 : n < 16384 ? 2 : 4);
        expect(decodeVarint(Array.from(bytes))).toBe(n);
      }),
    );
  });
});

describe('integers', () => {
  it.each([
    ['uint8', uint8, 0xff, [0xff]],
    ['uint16', uint16, 0x1234, [0x12, 0x34]],
    ['uint32', uint32, 0xfedcba98, [0xfe, 0xdc, 0xba, 0x98]],
  ] as const)('%s is big-endian', (_n, c, value, bytes) => {
    expect(Array.from(encodeValue(value, c as Codec<number>))).toEqual(bytes);
    expect(decodeAll(Uint8Array.from(bytes), c as Codec<number>)).toBe(value);
  });

  it('uint64 round-trips the full range as bigint', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (v) => {
        const bytes = encodeValue(v, uint64);
        expect(bytes).toHaveLength(8);
        expect(decodeAll(bytes, uint64)).toBe(v);
      }),
    );
    expect(Array.from(encodeValue(0x0102030405060708n, uint64))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it.each([
    ['uint8', () => encodeValue(256, uint8)],
    ['uint8 negative', () => encodeValue(-1, uint8)],
    ['uint16 fraction', () => encodeValue(1.5, uint16)],
    ['uint32', () => encodeValue(2 ** 32, uint32)],
    ['uint64', () => encodeValue(1n << 64n, uint64)],
    ['uint64 negative', () => encodeValue(-1n, uint64)],
  ])('refuses to encode an out-of-range %s', (_name, fn) => {
    expectCodecError(fn, /cannot encode: uint\d+ out of range/);
  });

  it('names the struct, field and offset when input runs out', () => {
    expectCodecError(
      () => decodeAll(Uint8Array.of(1, 2, 3), uint32),
      /^uint32: uint32 needs 4 bytes but only 3 remain at offset 0$/,
    );
  });
});

describe('opaque and vectors', () => {
  it('keeps a fixed-size field exact in both directions', () => {
    const c = fixedOpaque(4);
    expect(decodeAll(Uint8Array.of(1, 2, 3, 4), c)).toEqual(Uint8Array.of(1, 2, 3, 4));
    expectCodecError(() => encodeValue(Uint8Array.of(1, 2, 3), c), /fixed-size field needs 4 bytes, got 3/);
  });

  it('rejects a vector length larger than what remains, naming the field path and offset', () => {
    const bytes = Uint8Array.of(0x00, 0x07, 0x41, 0x2c, 1, 2, 3);
    expectCodecError(
      () => decodeAll(bytes, sampleCodec),
      /^Sample\.name: vector length 300 exceeds remaining 3 bytes at offset 2$/,
    );
  });

  it('never reads past the end of the vector that holds an item', () => {
    // tags<V> holds 2 bytes: an item claiming 5 bytes must fail even though the input goes on.
    const bytes = Uint8Array.of(0x00, 0x01, 0x00, 0x02, 0x05, 0x00, 9, 9, 9, 9, 9, 0, 1);
    expectCodecError(
      () => decodeAll(bytes, sampleCodec),
      /^Sample\.tags\[0\]: vector length 5 exceeds remaining 1 bytes at offset 4$/,
    );
  });

  it('uses each prefix size at its boundary and round-trips the contents', () => {
    for (const n of [0, 63, 64, 16383, 16384, 70000]) {
      const data = Uint8Array.from({ length: n }, (_, i) => i & 0xff);
      const bytes = encodeValue(data, opaque);
      expect(bytes.length).toBe(n + (n < 64 ? 1 : n < 16384 ? 2 : 4));
      expect(decodeAll(bytes, opaque)).toEqual(data);
    }
  });

  it('encodes nested vectors whose prefixes shrink after the contents are written', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 4 }), { maxLength: 70 }), (v) => {
        const c = vectorOf(vectorOf(opaque));
        const bytes = encodeValue(v, c);
        expect(decodeAll(bytes, c)).toEqual(v);
      }),
    );
  });

  it('decoded bytes do not alias the input buffer', () => {
    const input = Uint8Array.of(2, 7, 8);
    const out = decodeAll(input, opaque);
    input[1] = 0;
    expect(Array.from(out)).toEqual([7, 8]);
  });
});

describe('strings', () => {
  it('round-trips UTF-8 text, including a leading byte order mark', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 50 }), (s) => {
        expect(decodeAll(encodeValue(s, utf8), utf8)).toBe(s);
      }),
    );
    const bom = Uint8Array.of(3, 0xef, 0xbb, 0xbf);
    expect(encodeValue(decodeAll(bom, utf8), utf8)).toEqual(bom);
  });

  it('rejects invalid UTF-8', () => {
    expectCodecError(
      () => decodeAll(Uint8Array.of(2, 0xc3, 0x28), utf8),
      /^string: invalid UTF-8 in string at offset 0$/,
    );
  });

  it('refuses to encode a lone surrogate', () => {
    expectCodecError(() => encodeValue('a\ud800b', utf8), /lone UTF-16 surrogate/);
  });
});

describe('optional<T>', () => {
  it('writes 0 for absent and 1 + value for present', () => {
    const c = optionalOf(uint8);
    expect(Array.from(encodeValue(undefined, c))).toEqual([0]);
    expect(Array.from(encodeValue(9, c))).toEqual([1, 9]);
    expect(decodeAll(Uint8Array.of(0), c)).toBeUndefined();
    expect(decodeAll(Uint8Array.of(1, 9), c)).toBe(9);
  });

  it('rejects any other presence octet', () => {
    expectCodecError(
      () => decodeAll(Uint8Array.of(2, 9), optionalOf(uint8)),
      /invalid optional presence octet 2 at offset 0/,
    );
  });
});

describe(enumCodec.name, () => {
  it('maps names to values in one or two bytes', () => {
    expect(Array.from(encodeValue('beta', sampleEnum))).toEqual([7]);
    expect(decodeAll(Uint8Array.of(1), sampleEnum)).toBe('alpha');
    expect(Array.from(encodeValue('big', wideEnum))).toEqual([0x12, 0x34]);
    expect(decodeAll(Uint8Array.of(0x12, 0x34), wideEnum)).toBe('big');
  });

  it('rejects unknown values and names', () => {
    expectCodecError(
      () => decodeAll(Uint8Array.of(2), sampleEnum),
      /^SampleEnum: unknown SampleEnum value 2 at offset 0$/,
    );
    expectCodecError(() => encodeValue('gamma' as never, sampleEnum), /unknown SampleEnum name 'gamma'/);
    expectCodecError(() => encodeValue('toString' as never, sampleEnum), /unknown SampleEnum name 'toString'/);
  });
});

describe('whole values', () => {
  it('round-trips a struct both ways', () => {
    fc.assert(
      fc.property(sampleArb, (v) => {
        const bytes = encodeValue(v, sampleCodec);
        const back = decodeAll(bytes, sampleCodec);
        expect(back).toEqual(v);
        expect(encodeValue(back, sampleCodec)).toEqual(bytes);
      }),
    );
  });

  it('rejects trailing bytes', () => {
    const bytes = encodeValue({ id: 1, name: 'x', tags: [], kind: 'alpha' }, sampleCodec);
    const padded = new Uint8Array(bytes.length + 2);
    padded.set(bytes);
    expectCodecError(
      () => decodeAll(padded, sampleCodec),
      new RegExp(`^Sample: 2 trailing bytes after Sample at offset ${bytes.length}$`),
    );
  });

  it('rejects a non-Uint8Array input', () => {
    expectCodecError(() => decodeAll('abc' as never, sampleCodec), /input is not a Uint8Array/);
  });

  it('decodes values laid end to end and rejects an empty sequence', () => {
    const values: Sample[] = [
      { id: 1, name: 'a', tags: [], kind: 'alpha' },
      { id: 2, name: 'b', tags: [Uint8Array.of(1)], note: 5n, kind: 'beta' },
    ];
    expect(decodeConcatenated(encodeConcatenated(values, sampleCodec), sampleCodec)).toEqual(values);
    expectCodecError(() => decodeConcatenated(new Uint8Array(0), sampleCodec), /empty body/);
    const truncated = encodeConcatenated(values, sampleCodec).slice(0, -1);
    expectCodecError(() => decodeConcatenated(truncated, sampleCodec), /^Sample\[1\]\.kind: /);
  });

  it('throws only CodecError on random input (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const e = thrownBy(() => decodeAll(bytes, sampleCodec));
        expect(e === undefined || e instanceof CodecError).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
