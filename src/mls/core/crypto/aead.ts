/**
 * The AEADs of HPKE (RFC 9180 §7.3) and MLS on node:crypto: AES-128-GCM, AES-256-GCM and
 * ChaCha20-Poly1305, all with 12-byte nonces and 16-byte tags.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { MlsProtocolError } from '../errors';
import { concat, u8 } from './kdf';

export interface Aead {
  /** HPKE AEAD identifier. */
  readonly id: number;
  readonly keyLength: number;
  readonly nonceLength: number;
  seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** Throws MlsProtocolError('decryptFailed') when the tag does not verify. */
  open(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array;
}

const TAG_LENGTH = 16;

type CipherName = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';

function nodeAead(id: number, cipher: CipherName, keyLength: number): Aead {
  return {
    id,
    keyLength,
    nonceLength: 12,
    seal(key, nonce, aad, plaintext) {
      const c = createCipheriv(cipher as 'aes-128-gcm', key, nonce, { authTagLength: TAG_LENGTH });
      c.setAAD(aad);
      const body = c.update(plaintext);
      const fin = c.final();
      const out = new Uint8Array(body.length + fin.length + TAG_LENGTH);
      out.set(body);
      if (fin.length > 0) out.set(fin, body.length);
      out.set(c.getAuthTag(), body.length + fin.length);
      return out;
    },
    open(key, nonce, aad, ciphertext) {
      if (ciphertext.length < TAG_LENGTH) {
        throw new MlsProtocolError('decryptFailed', 'AEAD ciphertext shorter than its tag');
      }
      const split = ciphertext.length - TAG_LENGTH;
      try {
        const d = createDecipheriv(cipher as 'aes-128-gcm', key, nonce, { authTagLength: TAG_LENGTH });
        d.setAAD(aad);
        d.setAuthTag(ciphertext.subarray(split));
        const body = d.update(ciphertext.subarray(0, split));
        const fin = d.final();
        return fin.length === 0 ? u8(body) : concat(body, fin);
      } catch (cause) {
        throw new MlsProtocolError('decryptFailed', `${cipher}: decryption failed`, { cause });
      }
    },
  };
}

export const AES_128_GCM: Aead = nodeAead(0x0001, 'aes-128-gcm', 16);
export const AES_256_GCM: Aead = nodeAead(0x0002, 'aes-256-gcm', 32);
export const CHACHA20_POLY1305: Aead = nodeAead(0x0003, 'chacha20-poly1305', 32);
