export * from './cipher-suite';
export * from './suites';
export * from './labeled';
export {
  AES_128_GCM,
  CHACHA20_POLY1305,
  DHKEM_P256_HKDF_SHA256,
  DHKEM_X25519_HKDF_SHA256,
  Hpke,
  type Aead,
  type HpkeContext,
  type Kem,
} from './hpke';
