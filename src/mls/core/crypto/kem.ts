/**
 * DHKEM (RFC 9180 §4.1) on node:crypto, with SerializePublicKey / SerializePrivateKey and
 * DeriveKeyPair of §7.1: DHKEM(X25519, HKDF-SHA256), DHKEM(X448, HKDF-SHA512),
 * DHKEM(P-256, HKDF-SHA256), DHKEM(P-384, HKDF-SHA384) and DHKEM(P-521, HKDF-SHA512).
 */
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { MlsProtocolError } from '../errors';
import type { KeyPair } from './cipher-suite';
import {
  ascii,
  buf,
  concat,
  EMPTY,
  HKDF_SHA256,
  HKDF_SHA384,
  HKDF_SHA512,
  i2osp,
  labeledExpand,
  labeledExtract,
  u8,
  type Kdf,
} from './kdf';
import {
  b64url,
  KeyObjectCache,
  P256_KEYS,
  P384_KEYS,
  P521_KEYS,
  X25519_KEYS,
  X448_KEYS,
  type RawKeyCaches,
} from './keys';

export interface Kem {
  readonly id: number;
  /** The KEM's own KDF (for its labelled extract/expand), not necessarily the HPKE suite's. */
  readonly kdf: Kdf;
  /** Nsecret, Nenc, Npk, Nsk. */
  readonly secretLength: number;
  readonly encLength: number;
  readonly publicKeyLength: number;
  readonly privateKeyLength: number;
  generateKeyPair(): KeyPair;
  deriveKeyPair(ikm: Uint8Array): KeyPair;
  publicKeyOf(privateKey: Uint8Array): Uint8Array;
  /** `ephemeral` fixes skE (for test vectors); normally a fresh key pair is generated. */
  encap(publicKey: Uint8Array, ephemeral?: KeyPair): { sharedSecret: Uint8Array; enc: Uint8Array };
  decap(enc: Uint8Array, privateKey: Uint8Array): Uint8Array;
}

interface DhGroup {
  readonly kemId: number;
  readonly kdf: Kdf;
  readonly nPk: number;
  readonly nSk: number;
  readonly keys: RawKeyCaches;
  serializePublic(key: KeyObject): Uint8Array;
  serializePrivate(key: KeyObject): Uint8Array;
  generate(): KeyObject;
  /** DeriveKeyPair's private-key half (§7.1.3), given the KEM's suite_id. */
  skFromIkm(suiteId: Uint8Array, ikm: Uint8Array): Uint8Array;
}

function dhKem(g: DhGroup): Kem {
  const kdf = g.kdf;
  const suiteId = concat(ascii('KEM'), i2osp(g.kemId, 2));
  const dh = (sk: KeyObject, pk: KeyObject): Uint8Array => {
    let z: Buffer;
    try {
      z = diffieHellman({ privateKey: sk, publicKey: pk });
    } catch (cause) {
      throw new MlsProtocolError('decryptFailed', 'HPKE: Diffie-Hellman failed', { cause });
    }
    if (z.every((b) => b === 0)) throw new MlsProtocolError('decryptFailed', 'HPKE: all-zero Diffie-Hellman output');
    return u8(z);
  };
  const extractAndExpand = (z: Uint8Array, kemContext: Uint8Array): Uint8Array =>
    labeledExpand(
      kdf,
      suiteId,
      labeledExtract(kdf, suiteId, EMPTY, 'eae_prk', z),
      'shared_secret',
      kemContext,
      kdf.hashLength,
    );
  // pkRm for the decapsulation's kem_context, without a scalar multiplication per message.
  const publicOf = new KeyObjectCache<Uint8Array>((sk) => g.serializePublic(createPublicKey(g.keys.private.get(sk))));
  return {
    id: g.kemId,
    kdf,
    secretLength: kdf.hashLength,
    encLength: g.nPk,
    publicKeyLength: g.nPk,
    privateKeyLength: g.nSk,
    generateKeyPair() {
      const key = g.generate();
      return { privateKey: g.serializePrivate(key), publicKey: g.serializePublic(createPublicKey(key)) };
    },
    deriveKeyPair(ikm) {
      const sk = g.skFromIkm(suiteId, ikm);
      return { privateKey: sk, publicKey: g.serializePublic(createPublicKey(g.keys.private.once(sk))) };
    },
    publicKeyOf: (sk) => publicOf.get(sk),
    encap(pkR, ephemeral) {
      const pkRKey = g.keys.public.get(pkR);
      // Ephemeral keys are used once: they stay out of the caches.
      const skE = ephemeral ? g.keys.private.once(ephemeral.privateKey) : g.generate();
      const enc = ephemeral ? ephemeral.publicKey : g.serializePublic(createPublicKey(skE));
      const z = dh(skE, pkRKey);
      return { sharedSecret: extractAndExpand(z, concat(enc, pkR)), enc };
    },
    decap(enc, skR) {
      const skKey = g.keys.private.get(skR);
      let pkE: KeyObject;
      try {
        pkE = g.keys.public.once(enc);
      } catch (cause) {
        throw new MlsProtocolError('decryptFailed', 'HPKE: invalid encapsulated key', { cause });
      }
      const z = dh(skKey, pkE);
      return extractAndExpand(z, concat(enc, publicOf.get(skR)));
    },
  };
}

/**
 * A fresh private key as a KeyObject of its own: the generating job hands it out DER-encoded
 * and it is parsed again. Exporting (JWK) the KeyObject the job made was seen to hang node
 * 20.20: a GC during the export ran the finished KeyGenJob's destructor, which waited for the
 * mutex the export held (gdb: ExportJWKEdKey → … → ~KeyGenJob → uv_mutex_lock).
 */
function generatedKey(namedCurve: string): KeyObject {
  const privateKeyEncoding = { format: 'der', type: 'pkcs8' } as const;
  const publicKeyEncoding = { format: 'der', type: 'spki' } as const;
  const { privateKey } = generateKeyPairSync('ec', { namedCurve, privateKeyEncoding, publicKeyEncoding });
  return createPrivateKey({ key: privateKey, format: 'der', type: 'pkcs8' });
}

// ---- X25519, X448 (RFC 7748): keys are the raw strings, the JWK's 'x' and 'd' -------------

function montgomeryKem(kemId: number, kdf: Kdf, n: number, keys: RawKeyCaches): Kem {
  return dhKem({
    kemId,
    kdf,
    nPk: n,
    nSk: n,
    keys,
    serializePublic: (key) => b64url(key.export({ format: 'jwk' }).x),
    serializePrivate: (key) => b64url(key.export({ format: 'jwk' }).d),
    // §7.1.3: every string of Nsk bytes is a private key, so a random one is a fresh key pair;
    // no key-generation job (see `generatedKey`) and a fast raw import.
    generate: () => keys.private.once(u8(randomBytes(n))),
    skFromIkm(suiteId, ikm) {
      // §7.1.3: every string of Nsk bytes is a private key.
      const prk = labeledExtract(kdf, suiteId, EMPTY, 'dkp_prk', ikm);
      return labeledExpand(kdf, suiteId, prk, 'sk', EMPTY, n);
    },
  });
}

export const DHKEM_X25519_HKDF_SHA256: Kem = montgomeryKem(0x0020, HKDF_SHA256, 32, X25519_KEYS);
export const DHKEM_X448_HKDF_SHA512: Kem = montgomeryKem(0x0021, HKDF_SHA512, 56, X448_KEYS);

// ---- NIST curves: scalar of Nsk bytes, uncompressed point ---------------------------------

/** 04 || x || y; node's JWK coordinates are padded to the field length. */
function serializeUncompressed(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  return concat(Uint8Array.of(4), b64url(jwk.x), b64url(jwk.y));
}

interface NistCurve {
  readonly name: 'P-256' | 'P-384' | 'P-521';
  /** Nsk: the scalar's length in bytes. */
  readonly nSk: number;
  /** The group order n. */
  readonly order: bigint;
  /** §7.1.3: mask on the first byte of each candidate. */
  readonly bitmask: number;
}

function nistKem(kemId: number, kdf: Kdf, curve: NistCurve, keys: RawKeyCaches): Kem {
  return dhKem({
    kemId,
    kdf,
    nPk: 1 + 2 * curve.nSk,
    nSk: curve.nSk,
    keys,
    serializePublic: serializeUncompressed,
    // JWK 'd' is the big-endian scalar padded to Nsk bytes (Field-Element-to-Octet-String).
    serializePrivate: (key) => b64url(key.export({ format: 'jwk' }).d),
    generate: () => generatedKey(curve.name),
    skFromIkm(suiteId, ikm) {
      // §7.1.3: rejection sampling of candidates until one lies in [1, n-1].
      const prk = labeledExtract(kdf, suiteId, EMPTY, 'dkp_prk', ikm);
      for (let counter = 0; counter < 256; counter++) {
        const bytes = labeledExpand(kdf, suiteId, prk, 'candidate', Uint8Array.of(counter), curve.nSk);
        bytes[0] = bytes[0]! & curve.bitmask;
        const sk = BigInt('0x' + buf(bytes).toString('hex'));
        if (sk !== 0n && sk < curve.order) return bytes;
      }
      throw new MlsProtocolError('invalid', `DeriveKeyPair: no valid ${curve.name} scalar found`);
    },
  });
}

const P256: NistCurve = {
  name: 'P-256',
  nSk: 32,
  order: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  bitmask: 0xff,
};
const P384: NistCurve = {
  name: 'P-384',
  nSk: 48,
  order: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  bitmask: 0xff,
};
const P521: NistCurve = {
  name: 'P-521',
  nSk: 66,
  order:
    0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
  bitmask: 0x01,
};

export const DHKEM_P256_HKDF_SHA256: Kem = nistKem(0x0010, HKDF_SHA256, P256, P256_KEYS);
export const DHKEM_P384_HKDF_SHA384: Kem = nistKem(0x0011, HKDF_SHA384, P384, P384_KEYS);
export const DHKEM_P521_HKDF_SHA512: Kem = nistKem(0x0012, HKDF_SHA512, P521, P521_KEYS);
