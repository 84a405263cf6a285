import { TlsReader, TlsWriter } from '../../../codec/tls-codec';
import { hex, loadMlsVectors, toHex, VectorTally } from '../../../../test/support/mls-vectors';

/** `deserialization` (test-vectors README "Vector Deserialization"): `<V>` length headers. */
interface DeserializationVector {
  vlbytes_header: string;
  length: number;
}

describe('deserialization vectors', () => {
  const vectors = loadMlsVectors<DeserializationVector>('deserialization');
  const tally = new VectorTally('deserialization');
  afterAll(() => tally.report());

  it('decode each varint header to its length and encode the length back to the header', () => {
    for (const v of vectors) {
      const r = new TlsReader(hex(v.vlbytes_header), 'header');
      expect(r.varint()).toBe(v.length);
      r.done();
      const w = new TlsWriter();
      w.varint(v.length);
      expect(toHex(w.finish())).toBe(v.vlbytes_header);
      tally.pass();
    }
    expect(tally.passed).toBe(vectors.length);
  });
});
