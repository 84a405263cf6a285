/** HMAC on node's one-shot hash (short inputs) gives node's HMAC, for every hash and length. */
import { createHmac } from 'node:crypto';
import { hmac, type HashName } from './kdf';

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('hmac', () => {
  it('RFC 4231 test case 2 (HMAC-SHA-256, a key shorter than the block)', () => {
    const key = new TextEncoder().encode('Jefe');
    const data = new TextEncoder().encode('what do ya want for nothing?');
    expect(hex(hmac('sha256', key, data))).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it.each(['sha256', 'sha384', 'sha512'] as HashName[])(
    '%s: the same as createHmac, keys and messages short and long',
    (hash) => {
      for (const keyLength of [0, 1, 32, 64, 65, 128, 129, 200]) {
        for (const dataLength of [0, 1, 31, 64, 127, 128, 511, 512, 513, 5000]) {
          const key = bytes(keyLength, keyLength);
          const data = bytes(dataLength, dataLength + 7);
          const expected = createHmac(hash, key).update(data).digest('hex');
          // Twice: a call leaves nothing behind that changes the next one.
          expect([hex(hmac(hash, key, data)), hex(hmac(hash, key, data))]).toEqual([expected, expected]);
        }
      }
    },
  );
});
