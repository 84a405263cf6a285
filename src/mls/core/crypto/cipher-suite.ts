/**
 * The cipher-suite interface of our own MLS layer (RFC 9420 §5.1). Everything above this file
 * works on bytes through it; the implementations on node:crypto live beside it.
 *
 * All functions are synchronous: node:crypto's one-shot primitives are, and a gateway that
 * speaks for hundreds of puppets must not pay a promise per hash.
 */

/** IANA "MLS Cipher Suites" code points (RFC 9420 §17.1). */
export const CipherSuiteId = {
  MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519: 0x0001,
  MLS_128_DHKEMP256_AES128GCM_SHA256_P256: 0x0002,
  MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519: 0x0003,
  MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448: 0x0004,
  MLS_256_DHKEMP521_AES256GCM_SHA512_P521: 0x0005,
  MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448: 0x0006,
  MLS_256_DHKEMP384_AES256GCM_SHA384_P384: 0x0007,
} as const;
export type CipherSuiteId = (typeof CipherSuiteId)[keyof typeof CipherSuiteId];

export interface KeyPair {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

export interface HpkeCiphertextParts {
  readonly kemOutput: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/**
 * One cipher suite's primitives. Key encodings are those of RFC 9420 / RFC 9180:
 * HPKE keys as SerializePublicKey / SerializePrivateKey, signature keys raw (Ed25519: 32-byte
 * seed and 32-byte public key; ECDSA: scalar and uncompressed point).
 */
export interface CipherSuite {
  readonly id: CipherSuiteId;
  readonly name: string;
  /** Nh: hash and KDF output length. */
  readonly hashLength: number;
  /** Nk, Nn: AEAD key and nonce lengths. */
  readonly aeadKeyLength: number;
  readonly aeadNonceLength: number;

  hash(data: Uint8Array): Uint8Array;
  mac(key: Uint8Array, data: Uint8Array): Uint8Array;
  kdfExtract(salt: Uint8Array, ikm: Uint8Array): Uint8Array;
  kdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array;

  aeadSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** Throws `MlsProtocolError('decryptFailed')` when the tag does not verify. */
  aeadOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array;

  /** HPKE (RFC 9180) base mode, single-shot. */
  hpkeSeal(publicKey: Uint8Array, info: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): HpkeCiphertextParts;
  hpkeOpen(
    privateKey: Uint8Array,
    kemOutput: Uint8Array,
    info: Uint8Array,
    aad: Uint8Array,
    ciphertext: Uint8Array,
  ): Uint8Array;
  /** DeriveKeyPair(ikm) of the suite's KEM (RFC 9180 §7.1.3). */
  hpkeDeriveKeyPair(ikm: Uint8Array): KeyPair;
  hpkeGenerateKeyPair(): KeyPair;
  /** HPKE exporter (RFC 9180 §5.3) on a base-mode sender context; used by external commits (RFC 9420 §8.3). */
  hpkeExport(
    publicKey: Uint8Array,
    info: Uint8Array,
    exporterContext: Uint8Array,
    length: number,
  ): { kemOutput: Uint8Array; secret: Uint8Array };
  hpkeExportReceiver(
    privateKey: Uint8Array,
    kemOutput: Uint8Array,
    info: Uint8Array,
    exporterContext: Uint8Array,
    length: number,
  ): Uint8Array;

  signatureGenerateKeyPair(): KeyPair;
  sign(privateKey: Uint8Array, message: Uint8Array): Uint8Array;
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;

  randomBytes(n: number): Uint8Array;
}
