/**
 * The cipher suites we implement (RFC 9420 §17.1) on node:crypto:
 *   1 MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519
 *   2 MLS_128_DHKEMP256_AES128GCM_SHA256_P256
 *   3 MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519
 *   4 MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448
 *   5 MLS_256_DHKEMP521_AES256GCM_SHA512_P521
 *   6 MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448
 *   7 MLS_256_DHKEMP384_AES256GCM_SHA384_P384
 * The suite's hash is that of its HPKE KDF (RFC 9420 §5.1). Signature keys are raw (EdDSA:
 * the RFC 8032 private key and public key, 32 / 57 bytes; ECDSA: the scalar and the uncompressed
 * point); ECDSA signatures are DER-encoded (RFC 9420 §5.1.3) over the suite's hash.
 */
import { createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { MlsProtocolError } from '../errors';
import { AES_128_GCM, AES_256_GCM, CHACHA20_POLY1305, type Aead } from './aead';
import { CipherSuiteId, type CipherSuite, type KeyPair } from './cipher-suite';
import { Hpke } from './hpke';
import { HKDF_SHA256, HKDF_SHA384, HKDF_SHA512, hashBytes, hkdfExpand, hkdfExtract, hmac, u8, type Kdf } from './kdf';
import {
  DHKEM_P256_HKDF_SHA256,
  DHKEM_P384_HKDF_SHA384,
  DHKEM_P521_HKDF_SHA512,
  DHKEM_X25519_HKDF_SHA256,
  DHKEM_X448_HKDF_SHA512,
  type Kem,
} from './kem';
import { b64url, ED25519_KEYS, ED448_KEYS, P256_KEYS, P384_KEYS, P521_KEYS, type RawKeyCaches } from './keys';

interface SignatureScheme {
  /** Digest for node's sign/verify: undefined for EdDSA (pure, no context). */
  readonly digest: 'sha256' | 'sha384' | 'sha512' | undefined;
  readonly keys: RawKeyCaches;
  generateKeyPair(): KeyPair;
}

/**
 * An EdDSA private key is a random string (RFC 8032 §5.1.5, §5.2.5); its public key comes from
 * the KeyObject it makes (kept in the cache for signing). No key-generation job is involved:
 * exporting a job's fresh KeyObject as JWK was seen to hang node 20 (v20.20), a GC during the
 * export running the finished KeyGenJob's destructor, which waited for the mutex the export held
 * (gdb: ExportJWKEdKey → … → ~KeyGenJob → uv_mutex_lock).
 */
function eddsa(keys: RawKeyCaches, length: number): SignatureScheme {
  return {
    digest: undefined,
    keys,
    generateKeyPair() {
      const privateKey = u8(randomBytes(length));
      const jwk = createPublicKey(keys.private.get(privateKey)).export({ format: 'jwk' });
      return { privateKey, publicKey: b64url(jwk.x) };
    },
  };
}

/** ECDSA keys have the encodings of the DHKEM on the same curve, which also makes them. */
function ecdsa(digest: 'sha256' | 'sha384' | 'sha512', keys: RawKeyCaches, kem: Kem): SignatureScheme {
  return { digest, keys, generateKeyPair: () => kem.generateKeyPair() };
}

const ED25519 = eddsa(ED25519_KEYS, 32);
const ED448 = eddsa(ED448_KEYS, 57);
const ECDSA_P256_SHA256 = ecdsa('sha256', P256_KEYS, DHKEM_P256_HKDF_SHA256);
const ECDSA_P384_SHA384 = ecdsa('sha384', P384_KEYS, DHKEM_P384_HKDF_SHA384);
const ECDSA_P521_SHA512 = ecdsa('sha512', P521_KEYS, DHKEM_P521_HKDF_SHA512);

function makeSuite(id: CipherSuiteId, name: string, kem: Kem, kdf: Kdf, aead: Aead, sig: SignatureScheme): CipherSuite {
  const hpke = new Hpke(kem, kdf, aead);
  const hash = kdf.hash;
  return {
    id,
    name,
    hashLength: kdf.hashLength,
    aeadKeyLength: aead.keyLength,
    aeadNonceLength: aead.nonceLength,
    hash: (data) => hashBytes(hash, data),
    mac: (key, data) => hmac(hash, key, data),
    kdfExtract: (salt, ikm) => hkdfExtract(hash, salt, ikm),
    kdfExpand: (prk, info, length) => hkdfExpand(hash, prk, info, length),
    aeadSeal: (key, nonce, aad, plaintext) => aead.seal(key, nonce, aad, plaintext),
    aeadOpen: (key, nonce, aad, ciphertext) => aead.open(key, nonce, aad, ciphertext),
    hpkeSeal(publicKey, info, aad, plaintext) {
      const { enc, ciphertext } = hpke.seal(publicKey, info, aad, plaintext);
      return { kemOutput: enc, ciphertext };
    },
    hpkeOpen: (privateKey, kemOutput, info, aad, ciphertext) => hpke.open(privateKey, kemOutput, info, aad, ciphertext),
    hpkeDeriveKeyPair: (ikm) => kem.deriveKeyPair(ikm),
    hpkeGenerateKeyPair: () => kem.generateKeyPair(),
    hpkeExport(publicKey, info, exporterContext, length) {
      const { enc, secret } = hpke.sendExport(publicKey, info, exporterContext, length);
      return { kemOutput: enc, secret };
    },
    hpkeExportReceiver: (privateKey, kemOutput, info, exporterContext, length) =>
      hpke.receiveExport(privateKey, kemOutput, info, exporterContext, length),
    signatureGenerateKeyPair: () => sig.generateKeyPair(),
    sign: (privateKey, message) => u8(sign(sig.digest, message, sig.keys.private.get(privateKey))),
    verify(publicKey, message, signature) {
      let key: KeyObject;
      try {
        key = sig.keys.public.get(publicKey);
      } catch {
        return false;
      }
      try {
        return verify(sig.digest, message, key, signature);
      } catch {
        return false;
      }
    },
    randomBytes: (n) => u8(randomBytes(n)),
  };
}

const S = CipherSuiteId;

export const MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519: CipherSuite = makeSuite(
  S.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519,
  'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519',
  DHKEM_X25519_HKDF_SHA256,
  HKDF_SHA256,
  AES_128_GCM,
  ED25519,
);

const MLS_128_DHKEMP256_AES128GCM_SHA256_P256: CipherSuite = makeSuite(
  S.MLS_128_DHKEMP256_AES128GCM_SHA256_P256,
  'MLS_128_DHKEMP256_AES128GCM_SHA256_P256',
  DHKEM_P256_HKDF_SHA256,
  HKDF_SHA256,
  AES_128_GCM,
  ECDSA_P256_SHA256,
);

const MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519: CipherSuite = makeSuite(
  S.MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519,
  'MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519',
  DHKEM_X25519_HKDF_SHA256,
  HKDF_SHA256,
  CHACHA20_POLY1305,
  ED25519,
);

const MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448: CipherSuite = makeSuite(
  S.MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448,
  'MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448',
  DHKEM_X448_HKDF_SHA512,
  HKDF_SHA512,
  AES_256_GCM,
  ED448,
);

const MLS_256_DHKEMP521_AES256GCM_SHA512_P521: CipherSuite = makeSuite(
  S.MLS_256_DHKEMP521_AES256GCM_SHA512_P521,
  'MLS_256_DHKEMP521_AES256GCM_SHA512_P521',
  DHKEM_P521_HKDF_SHA512,
  HKDF_SHA512,
  AES_256_GCM,
  ECDSA_P521_SHA512,
);

const MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448: CipherSuite = makeSuite(
  S.MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448,
  'MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448',
  DHKEM_X448_HKDF_SHA512,
  HKDF_SHA512,
  CHACHA20_POLY1305,
  ED448,
);

const MLS_256_DHKEMP384_AES256GCM_SHA384_P384: CipherSuite = makeSuite(
  S.MLS_256_DHKEMP384_AES256GCM_SHA384_P384,
  'MLS_256_DHKEMP384_AES256GCM_SHA384_P384',
  DHKEM_P384_HKDF_SHA384,
  HKDF_SHA384,
  AES_256_GCM,
  ECDSA_P384_SHA384,
);

export const supportedCipherSuites: readonly CipherSuite[] = [
  MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519,
  MLS_128_DHKEMP256_AES128GCM_SHA256_P256,
  MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519,
  MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448,
  MLS_256_DHKEMP521_AES256GCM_SHA512_P521,
  MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448,
  MLS_256_DHKEMP384_AES256GCM_SHA384_P384,
];

const byId = new Map<number, CipherSuite>(supportedCipherSuites.map((s) => [s.id, s]));

export function isSupportedCipherSuite(id: number): boolean {
  return byId.has(id);
}

/** The suite with IANA code point `id`; MlsProtocolError('unsupported') for any other. */
export function cipherSuiteById(id: number): CipherSuite {
  const suite = byId.get(id);
  if (suite === undefined) throw new MlsProtocolError('unsupported', `cipher suite ${id} is not supported`);
  return suite;
}
