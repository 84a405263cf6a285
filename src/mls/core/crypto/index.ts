export * from './cipher-suite';
export * from './suites';
export * from './labeled';
export { AES_128_GCM, AES_256_GCM, CHACHA20_POLY1305, type Aead } from './aead';
export { HKDF_SHA256, HKDF_SHA384, HKDF_SHA512, type Kdf } from './kdf';
export {
  DHKEM_P256_HKDF_SHA256,
  DHKEM_P384_HKDF_SHA384,
  DHKEM_P521_HKDF_SHA512,
  DHKEM_X25519_HKDF_SHA256,
  DHKEM_X448_HKDF_SHA512,
  type Kem,
} from './kem';
export { Hpke, type HpkeContext } from './hpke';
