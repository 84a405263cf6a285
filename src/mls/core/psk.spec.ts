/** psk_secret (RFC 9420 §8.4): the working group's psk_secret vectors. */
import { hex, loadMlsVectors, toHex, VectorTally } from '../../../test/support/mls-vectors';
import { cipherSuiteById, isSupportedCipherSuite } from './crypto/suites';
import { computePskSecret } from './psk';
import { PSKType } from './structs/proposals';

interface PskSecretVector {
  cipher_suite: number;
  psks: { psk_id: string; psk: string; psk_nonce: string }[];
  psk_secret: string;
}

const vectors = loadMlsVectors<PskSecretVector>('psk_secret');
const tally = new VectorTally('psk_secret');

afterAll(() => {
  tally.report();
});

describe('psk_secret vectors', () => {
  for (const [i, v] of vectors.entries()) {
    if (!isSupportedCipherSuite(v.cipher_suite)) {
      tally.skip(`cipher suite ${v.cipher_suite} not implemented`);
      continue;
    }
    it(`#${i}: cipher suite ${v.cipher_suite}, ${v.psks.length} PSKs`, () => {
      const suite = cipherSuiteById(v.cipher_suite);
      const psks = v.psks.map((p) => ({
        id: { pskType: PSKType.external, pskId: hex(p.psk_id), pskNonce: hex(p.psk_nonce) },
        psk: hex(p.psk),
      }));
      expect(toHex(computePskSecret(suite, psks))).toBe(v.psk_secret);
      tally.pass();
    });
  }

  it('checked every vector of a supported suite', () => {
    expect(tally.passed).toBeGreaterThan(0);
    expect(tally.passed).toBe(vectors.filter((v) => isSupportedCipherSuite(v.cipher_suite)).length);
  });
});

describe('computePskSecret', () => {
  it('takes an encoded PreSharedKeyID as well as the struct', () => {
    const suite = cipherSuiteById(1);
    const id = { pskType: PSKType.external, pskId: hex('0102'), pskNonce: hex('0304') } as const;
    // psktype 1, psk_id<V> 01 02, psk_nonce<V> 03 04
    const encoded = hex('0102010202' + '0304');
    const psk = hex('aa'.repeat(32));
    expect(computePskSecret(suite, [{ id: encoded, psk }])).toEqual(computePskSecret(suite, [{ id, psk }]));
    expect(computePskSecret(suite, [])).toEqual(new Uint8Array(32));
  });
});
