/**
 * HPKE (RFC 9180), base mode only, single-shot, synchronous, on node:crypto.
 *
 * KEMs: DHKEM(X25519, HKDF-SHA256) and DHKEM(P-256, HKDF-SHA256). KDF: HKDF-SHA256.
 * AEADs: AES-128-GCM and ChaCha20-Poly1305. The exporter (§5.3) is offered on both sides.
 * Also home of the primitives the cipher suites share (HMAC, HKDF, AEAD, a bounded KeyObject
 * cache), so that `suites.ts` and this file do not each carry a copy.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { MlsProtocolError } from '../errors';
import type { KeyPair } from './cipher-suite';

// ---- byte helpers -------------------------------------------------------------------------

/** A Uint8Array view of a Buffer (no copy), so callers get plain Uint8Arrays. */
export function u8(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

function buf(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.length);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return u8(Buffer.concat(parts));
}

function i2osp(n: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = n & 0xff;
    n = Math.floor(n / 256);
  }
  return out;
}

const ascii = (s: string): Uint8Array => u8(Buffer.from(s, 'latin1'));
const EMPTY = new Uint8Array(0);

// ---- hash, HMAC, HKDF (RFC 5869) -------------------------------------------------------

export type HashName = 'sha256' | 'sha384' | 'sha512';

export function hashBytes(hash: HashName, data: Uint8Array): Uint8Array {
  return u8(createHash(hash).update(data).digest());
}

export function hmac(hash: HashName, key: Uint8Array, data: Uint8Array): Uint8Array {
  return u8(createHmac(hash, key).update(data).digest());
}

export function hkdfExtract(hash: HashName, salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  // An empty salt is HashLen zeros; HMAC pads its key with zeros, so both give the same PRK.
  return hmac(hash, salt, ikm);
}

export function hkdfExpand(hash: HashName, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const hashLen = hash === 'sha256' ? 32 : hash === 'sha384' ? 48 : 64;
  if (length > 255 * hashLen) throw new RangeError(`HKDF-Expand: length ${length} too large`);
  if (length <= hashLen) {
    const t1 = createHmac(hash, prk).update(info).update(Uint8Array.of(1)).digest();
    return u8(length === hashLen ? t1 : t1.subarray(0, length));
  }
  const out = new Uint8Array(length);
  let prev: Buffer | undefined;
  let filled = 0;
  for (let i = 1; filled < length; i++) {
    const h = createHmac(hash, prk);
    if (prev) h.update(prev);
    h.update(info);
    h.update(Uint8Array.of(i));
    prev = h.digest();
    const n = Math.min(prev.length, length - filled);
    out.set(n === prev.length ? prev : prev.subarray(0, n), filled);
    filled += n;
  }
  return out;
}

// ---- AEAD ---------------------------------------------------------------------------------

export interface Aead {
  readonly id: number;
  readonly keyLength: number;
  readonly nonceLength: number;
  seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** Throws MlsProtocolError('decryptFailed') when the tag does not verify. */
  open(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array;
}

const TAG_LENGTH = 16;

function nodeAead(id: number, cipher: 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305', keyLength: number): Aead {
  return {
    id,
    keyLength,
    nonceLength: 12,
    seal(key, nonce, aad, plaintext) {
      const c = createCipheriv(cipher as 'aes-128-gcm', key, nonce, { authTagLength: TAG_LENGTH });
      c.setAAD(aad);
      const body = c.update(plaintext);
      const fin = c.final();
      return concat(body, fin, c.getAuthTag());
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
export const CHACHA20_POLY1305: Aead = nodeAead(0x0003, 'chacha20-poly1305', 32);

// ---- KeyObject cache ------------------------------------------------------------------------

/**
 * Bounded map from key bytes to node KeyObjects (parsing a key costs more than using it). When
 * full, the oldest entry goes; a hit moves the entry to the young end.
 */
export class KeyObjectCache<V = KeyObject> {
  private readonly map = new Map<string, V>();

  constructor(
    private readonly make: (key: Uint8Array) => V,
    private readonly max = 1024,
  ) {}

  get(key: Uint8Array): V {
    const id = buf(key).toString('latin1');
    const hit = this.map.get(id);
    if (hit !== undefined) {
      this.map.delete(id);
      this.map.set(id, hit);
      return hit;
    }
    const made = this.make(key);
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value as string);
    this.map.set(id, made);
    return made;
  }

  /** Make the value without caching it (one-time keys such as HPKE ephemeral keys). */
  once(key: Uint8Array): V {
    return this.make(key);
  }
}

// ---- DER wrappers for raw keys ------------------------------------------------------------

/** DER prefixes that turn raw key bytes into PKCS#8 (private) or SPKI (public) documents. */
const DER = {
  x25519: { private: '302e020100300506032b656e04220420', public: '302a300506032b656e032100' },
  ed25519: { private: '302e020100300506032b657004220420', public: '302a300506032b6570032100' },
  // PKCS#8 { ecPublicKey, prime256v1 } around an RFC 5915 ECPrivateKey with no public key
  p256: {
    private: '3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420',
    public: '3059301306072a8648ce3d020106082a8648ce3d030107034200',
  },
} as const;

function derKey(kind: 'private' | 'public', prefix: Buffer, raw: Uint8Array, what: string, len: number): KeyObject {
  if (raw.length !== len) throw new MlsProtocolError('invalid', `${what}: expected ${len} bytes, got ${raw.length}`);
  const der = Buffer.concat([prefix, raw]);
  try {
    return kind === 'private'
      ? createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
      : createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch (cause) {
    throw new MlsProtocolError('invalid', `${what}: not a valid key`, { cause });
  }
}

export interface RawKeyCaches {
  readonly private: KeyObjectCache;
  readonly public: KeyObjectCache;
}

/** KeyObject caches for raw keys of one algorithm (`len`: private and public key lengths). */
function rawKeyCaches(alg: keyof typeof DER, name: string, privateLength: number, publicLength: number): RawKeyCaches {
  const priv = Buffer.from(DER[alg].private, 'hex');
  const pub = Buffer.from(DER[alg].public, 'hex');
  return {
    private: new KeyObjectCache((k) => derKey('private', priv, k, `${name} private key`, privateLength)),
    public: new KeyObjectCache((k) => derKey('public', pub, k, `${name} public key`, publicLength)),
  };
}

export const X25519_KEYS = rawKeyCaches('x25519', 'X25519', 32, 32);
export const ED25519_KEYS = rawKeyCaches('ed25519', 'Ed25519', 32, 32);
/** P-256 keys: a 32-byte scalar and a 65-byte uncompressed point, for ECDH and ECDSA alike. */
export const P256_KEYS = rawKeyCaches('p256', 'P-256', 32, 65);

/** A JWK member (base64url) as bytes. */
export function b64url(s: string | undefined): Uint8Array {
  if (s === undefined) throw new Error('JWK without the expected member');
  return u8(Buffer.from(s, 'base64url'));
}

// ---- KEM ------------------------------------------------------------------------------------

export interface Kem {
  readonly id: number;
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

function labeledExtract(suiteId: Uint8Array, salt: Uint8Array, label: string, ikm: Uint8Array): Uint8Array {
  return hkdfExtract('sha256', salt, concat(ascii('HPKE-v1'), suiteId, ascii(label), ikm));
}

function labeledExpand(
  suiteId: Uint8Array,
  prk: Uint8Array,
  label: string,
  info: Uint8Array,
  length: number,
): Uint8Array {
  return hkdfExpand('sha256', prk, concat(i2osp(length, 2), ascii('HPKE-v1'), suiteId, ascii(label), info), length);
}

interface DhGroup {
  readonly kemId: number;
  readonly nPk: number;
  readonly nSk: number;
  readonly keys: RawKeyCaches;
  serializePublic(key: KeyObject): Uint8Array;
  generate(): KeyObject;
  skFromIkm(suiteId: Uint8Array, ikm: Uint8Array): Uint8Array;
  serializePrivate(key: KeyObject): Uint8Array;
}

function dhKem(g: DhGroup): Kem {
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
    labeledExpand(suiteId, labeledExtract(suiteId, EMPTY, 'eae_prk', z), 'shared_secret', kemContext, 32);
  // pkRm for the decapsulation's kem_context, without a scalar multiplication per message.
  const publicOf = new KeyObjectCache<Uint8Array>((sk) => g.serializePublic(createPublicKey(g.keys.private.get(sk))));
  return {
    id: g.kemId,
    secretLength: 32,
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

export const DHKEM_X25519_HKDF_SHA256: Kem = dhKem({
  kemId: 0x0020,
  nPk: 32,
  nSk: 32,
  keys: X25519_KEYS,
  serializePublic: (key) => b64url(key.export({ format: 'jwk' }).x),
  serializePrivate: (key) => b64url(key.export({ format: 'jwk' }).d),
  generate: () => generateKeyPairSync('x25519').privateKey,
  skFromIkm(suiteId, ikm) {
    const prk = labeledExtract(suiteId, EMPTY, 'dkp_prk', ikm);
    return labeledExpand(suiteId, prk, 'sk', EMPTY, 32);
  },
});

const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

function p256SerializePublic(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  return concat(Uint8Array.of(4), b64url(jwk.x), b64url(jwk.y));
}

export const DHKEM_P256_HKDF_SHA256: Kem = dhKem({
  kemId: 0x0010,
  nPk: 65,
  nSk: 32,
  keys: P256_KEYS,
  serializePublic: p256SerializePublic,
  // JWK 'd' is the 32-byte big-endian scalar (Field-Element-to-Octet-String).
  serializePrivate: (key) => b64url(key.export({ format: 'jwk' }).d),
  generate: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
  skFromIkm(suiteId, ikm) {
    // RFC 9180 §7.1.3: rejection sampling, bitmask 0xff for P-256.
    const prk = labeledExtract(suiteId, EMPTY, 'dkp_prk', ikm);
    for (let counter = 0; counter < 256; counter++) {
      const bytes = labeledExpand(suiteId, prk, 'candidate', Uint8Array.of(counter), 32);
      const sk = BigInt('0x' + buf(bytes).toString('hex'));
      if (sk !== 0n && sk < P256_ORDER) return bytes;
    }
    throw new MlsProtocolError('invalid', 'DeriveKeyPair: no valid P-256 scalar found');
  },
});

// ---- HPKE -----------------------------------------------------------------------------------

export interface HpkeContext {
  readonly key: Uint8Array;
  readonly baseNonce: Uint8Array;
  readonly exporterSecret: Uint8Array;
}

const MODE_BASE = 0x00;

/** HPKE base mode for one (KEM, HKDF-SHA256, AEAD) triple. */
export class Hpke {
  private readonly suiteId: Uint8Array;

  constructor(
    readonly kem: Kem,
    readonly aead: Aead,
  ) {
    this.suiteId = concat(ascii('HPKE'), i2osp(kem.id, 2), i2osp(0x0001, 2), i2osp(aead.id, 2));
  }

  /** KeySchedule(mode_base, shared_secret, info, default_psk, default_psk_id) (RFC 9180 §5.1). */
  keySchedule(sharedSecret: Uint8Array, info: Uint8Array): HpkeContext {
    const s = this.suiteId;
    const pskIdHash = labeledExtract(s, EMPTY, 'psk_id_hash', EMPTY);
    const infoHash = labeledExtract(s, EMPTY, 'info_hash', info);
    const context = concat(Uint8Array.of(MODE_BASE), pskIdHash, infoHash);
    const secret = labeledExtract(s, sharedSecret, 'secret', EMPTY);
    return {
      key: labeledExpand(s, secret, 'key', context, this.aead.keyLength),
      baseNonce: labeledExpand(s, secret, 'base_nonce', context, this.aead.nonceLength),
      exporterSecret: labeledExpand(s, secret, 'exp', context, 32),
    };
  }

  setupBaseS(publicKey: Uint8Array, info: Uint8Array, ephemeral?: KeyPair): { enc: Uint8Array; context: HpkeContext } {
    const { sharedSecret, enc } = this.kem.encap(publicKey, ephemeral);
    return { enc, context: this.keySchedule(sharedSecret, info) };
  }

  setupBaseR(enc: Uint8Array, privateKey: Uint8Array, info: Uint8Array): HpkeContext {
    return this.keySchedule(this.kem.decap(enc, privateKey), info);
  }

  /** Single-shot SealBase: the first (sequence 0) message of a fresh context, nonce = base_nonce. */
  seal(
    publicKey: Uint8Array,
    info: Uint8Array,
    aad: Uint8Array,
    plaintext: Uint8Array,
    ephemeral?: KeyPair,
  ): { enc: Uint8Array; ciphertext: Uint8Array } {
    const { enc, context } = this.setupBaseS(publicKey, info, ephemeral);
    return { enc, ciphertext: this.aead.seal(context.key, context.baseNonce, aad, plaintext) };
  }

  /** Single-shot OpenBase; any failure (bad enc, bad tag) is MlsProtocolError('decryptFailed'). */
  open(privateKey: Uint8Array, enc: Uint8Array, info: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    const context = this.setupBaseR(enc, privateKey, info);
    return this.aead.open(context.key, context.baseNonce, aad, ciphertext);
  }

  /** Context.Export (RFC 9180 §5.3). */
  export(context: HpkeContext, exporterContext: Uint8Array, length: number): Uint8Array {
    return labeledExpand(this.suiteId, context.exporterSecret, 'sec', exporterContext, length);
  }

  sendExport(
    publicKey: Uint8Array,
    info: Uint8Array,
    exporterContext: Uint8Array,
    length: number,
    ephemeral?: KeyPair,
  ): { enc: Uint8Array; secret: Uint8Array } {
    const { enc, context } = this.setupBaseS(publicKey, info, ephemeral);
    return { enc, secret: this.export(context, exporterContext, length) };
  }

  receiveExport(
    privateKey: Uint8Array,
    enc: Uint8Array,
    info: Uint8Array,
    exporterContext: Uint8Array,
    length: number,
  ): Uint8Array {
    return this.export(this.setupBaseR(enc, privateKey, info), exporterContext, length);
  }
}
