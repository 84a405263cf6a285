/**
 * The cipher suites we implement (RFC 9420 §17.1) on node:crypto:
 *   1 MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519
 *   2 MLS_128_DHKEMP256_AES128GCM_SHA256_P256
 *   3 MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519
 * Signature keys are raw (Ed25519: 32-byte seed / public key; ECDSA P-256: 32-byte scalar /
 * uncompressed point); ECDSA signatures are DER-encoded (RFC 9420 §5.1.3).
 */
import { generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { MlsProtocolError } from '../errors';
import { CipherSuiteId, type CipherSuite, type KeyPair } from './cipher-suite';
import {
  AES_128_GCM,
  CHACHA20_POLY1305,
  DHKEM_P256_HKDF_SHA256,
  DHKEM_X25519_HKDF_SHA256,
  Hpke,
  b64url,
  ED25519_KEYS,
  P256_KEYS,
  hashBytes,
  hkdfExpand,
  hkdfExtract,
  hmac,
  u8,
  type Aead,
  type Kem,
  type RawKeyCaches,
} from './hpke';

interface SignatureScheme {
  /** Digest for node's sign/verify: undefined for EdDSA. */
  readonly digest: 'sha256' | undefined;
  readonly keys: RawKeyCaches;
  readonly kem: Kem;
}

/** Signature keys share their raw encodings with the KEM on the same curve family. */
const ED25519: SignatureScheme = { digest: undefined, keys: ED25519_KEYS, kem: DHKEM_X25519_HKDF_SHA256 };
const ECDSA_P256_SHA256: SignatureScheme = { digest: 'sha256', keys: P256_KEYS, kem: DHKEM_P256_HKDF_SHA256 };

function generateSignatureKeyPair(sig: SignatureScheme): KeyPair {
  if (sig.digest === undefined) {
    const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
    return { privateKey: b64url(jwk.d), publicKey: b64url(jwk.x) };
  }
  return sig.kem.generateKeyPair();
}

function makeSuite(id: CipherSuiteId, name: string, kem: Kem, aead: Aead, sig: SignatureScheme): CipherSuite {
  const hpke = new Hpke(kem, aead);
  return {
    id,
    name,
    hashLength: 32,
    aeadKeyLength: aead.keyLength,
    aeadNonceLength: aead.nonceLength,
    hash: (data) => hashBytes('sha256', data),
    mac: (key, data) => hmac('sha256', key, data),
    kdfExtract: (salt, ikm) => hkdfExtract('sha256', salt, ikm),
    kdfExpand: (prk, info, length) => hkdfExpand('sha256', prk, info, length),
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
    signatureGenerateKeyPair: () => generateSignatureKeyPair(sig),
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

export const MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519: CipherSuite = makeSuite(
  CipherSuiteId.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519,
  'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519',
  DHKEM_X25519_HKDF_SHA256,
  AES_128_GCM,
  ED25519,
);

export const MLS_128_DHKEMP256_AES128GCM_SHA256_P256: CipherSuite = makeSuite(
  CipherSuiteId.MLS_128_DHKEMP256_AES128GCM_SHA256_P256,
  'MLS_128_DHKEMP256_AES128GCM_SHA256_P256',
  DHKEM_P256_HKDF_SHA256,
  AES_128_GCM,
  ECDSA_P256_SHA256,
);

export const MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519: CipherSuite = makeSuite(
  CipherSuiteId.MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519,
  'MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519',
  DHKEM_X25519_HKDF_SHA256,
  CHACHA20_POLY1305,
  ED25519,
);

export const supportedCipherSuites: readonly CipherSuite[] = [
  MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519,
  MLS_128_DHKEMP256_AES128GCM_SHA256_P256,
  MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519,
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
