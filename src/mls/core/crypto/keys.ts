/**
 * Raw key bytes as node KeyObjects: DER wrappers (PKCS#8 / SPKI) for the key encodings of
 * RFC 9420 / RFC 9180 and a bounded cache, since parsing a key costs more than using it.
 *
 * Encodings: X25519 / X448 keys as in RFC 7748 (32 / 56 bytes); Ed25519 / Ed448 keys as in
 * RFC 8032 (32 / 57-byte private key and public key); NIST curves as a big-endian scalar of
 * ceil(log2(n)/8) bytes (Field-Element-to-Octet-String) and an uncompressed point 04 || x || y.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { MlsProtocolError } from '../errors';
import { buf, u8 } from './kdf';

/**
 * Bounded map from key bytes to node KeyObjects. When full, the oldest entry goes; a hit moves
 * the entry to the young end.
 *
 * In front of it sits a map keyed by the key's `Uint8Array` object itself: a group's tree holds
 * one array per member signature key and a local member's identity one per private key, so as
 * long as those arrays live their KeyObjects are found without hashing the bytes and are never
 * evicted, however many members (and groups) there are. The entry keeps a copy of the bytes it
 * was made from, so an array whose contents changed is not served a stale key.
 */
export class KeyObjectCache<V = KeyObject> {
  private readonly map = new Map<string, V>();
  private readonly byArray = new WeakMap<Uint8Array, { readonly bytes: Uint8Array; readonly value: V }>();

  constructor(
    private readonly make: (key: Uint8Array) => V,
    private readonly max = 1024,
  ) {}

  get(key: Uint8Array): V {
    const pinned = this.byArray.get(key);
    if (pinned !== undefined && sameBytes(pinned.bytes, key)) return pinned.value;
    const value = this.lookup(key);
    this.byArray.set(key, { bytes: key.slice(), value });
    return value;
  }

  private lookup(key: Uint8Array): V {
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

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * DER prefixes that turn raw key bytes into PKCS#8 (private) or SPKI (public) documents. The
 * NIST-curve PKCS#8 prefixes are { ecPublicKey, curve } around an RFC 5915 ECPrivateKey holding
 * the scalar only; their SPKI prefixes end in the BIT STRING header before the 04 of the point.
 */
const DER = {
  p256: {
    private: '3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420',
    public: '3059301306072a8648ce3d020106082a8648ce3d030107034200',
  },
  p384: {
    private: '304e020100301006072a8648ce3d020106052b81040022043730350201010430',
    public: '3076301006072a8648ce3d020106052b81040022036200',
  },
  p521: {
    private: '3060020100301006072a8648ce3d020106052b81040023044930470201010442',
    public: '30819b301006072a8648ce3d020106052b8104002303818600',
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

/**
 * Raw X25519 / X448 / Ed25519 / Ed448 keys as KeyObjects through node's JWK import (OKP,
 * RFC 8037), which hands the bytes to OpenSSL as they are: an order of magnitude faster than
 * parsing the same key as a DER document (OpenSSL's decoder framework tries decoder after
 * decoder). For a private key node requires an `x` member; node 20 and 22 derive the public key
 * from `d` alone, so `x` is a placeholder of the right length (`keys.spec.ts` checks that the
 * public key comes out right). Node 24 checks `x`, and gets PKCS#8 (`placeholderXAccepted`).
 */
function okpKey(kind: 'private' | 'public', crv: string, raw: Uint8Array, what: string, len: number): KeyObject {
  if (raw.length !== len) throw new MlsProtocolError('invalid', `${what}: expected ${len} bytes, got ${raw.length}`);
  if (kind === 'private' && !placeholderXAccepted()) {
    return derKey('private', Buffer.from(OKP_PKCS8[crv as keyof typeof OKP_PKCS8], 'hex'), raw, what, len);
  }
  const encoded = buf(raw).toString('base64url');
  try {
    return kind === 'private'
      ? createPrivateKey({ key: { kty: 'OKP', crv, d: encoded, x: placeholderX(len) }, format: 'jwk' })
      : createPublicKey({ key: { kty: 'OKP', crv, x: encoded }, format: 'jwk' });
  } catch (cause) {
    throw new MlsProtocolError('invalid', `${what}: not a valid key`, { cause });
  }
}

/** PKCS#8 prefixes (RFC 8410) of the OKP private keys, for nodes that check `x` against `d`. */
const OKP_PKCS8 = {
  X25519: '302e020100300506032b656e04220420',
  X448: '3046020100300506032b656f043a0438',
  Ed25519: '302e020100300506032b657004220420',
  Ed448: '3047020100300506032b6571043b0439',
} as const;

let placeholderOk: boolean | undefined;
/**
 * Whether this node takes a private OKP JWK whose `x` is a placeholder. Node 20 and 22 derive the
 * public key from `d`; node 24 checks `x` against it and refuses, so there private keys go
 * through PKCS#8 instead (slower, but only our own keys are imported as private keys).
 */
function placeholderXAccepted(): boolean {
  if (placeholderOk === undefined) {
    try {
      const d = Buffer.alloc(32, 1).toString('base64url');
      createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d, x: placeholderX(32) }, format: 'jwk' });
      placeholderOk = true;
    } catch {
      placeholderOk = false;
    }
  }
  return placeholderOk;
}

const placeholders = new Map<number, string>();
function placeholderX(len: number): string {
  let x = placeholders.get(len);
  if (x === undefined) {
    x = Buffer.alloc(len).toString('base64url');
    placeholders.set(len, x);
  }
  return x;
}

export interface RawKeyCaches {
  readonly private: KeyObjectCache;
  readonly public: KeyObjectCache;
}

/** `k` with zero bytes in front up to `len` bytes (a big-endian integer keeps its value). */
function leftPad(k: Uint8Array, len: number): Uint8Array {
  const out = new Uint8Array(len);
  out.set(k, len - k.length);
  return out;
}

/**
 * KeyObject caches for raw keys of one algorithm, with its private and public key lengths.
 * `scalar`: the private key is a big-endian integer, which some peers (and the MLS working
 * group's P-521 vectors) write without its leading zero bytes; such a shorter key is read as
 * the same integer. Keys we make always have the full length.
 */
function rawKeyCaches(
  alg: keyof typeof DER,
  name: string,
  privateLength: number,
  publicLength: number,
  scalar = false,
): RawKeyCaches {
  const priv = Buffer.from(DER[alg].private, 'hex');
  const pub = Buffer.from(DER[alg].public, 'hex');
  const what = `${name} private key`;
  const makePrivate = scalar
    ? (k: Uint8Array): KeyObject =>
        derKey(
          'private',
          priv,
          k.length > 0 && k.length < privateLength ? leftPad(k, privateLength) : k,
          what,
          privateLength,
        )
    : (k: Uint8Array): KeyObject => derKey('private', priv, k, what, privateLength);
  return {
    private: new KeyObjectCache(makePrivate),
    public: new KeyObjectCache((k) => derKey('public', pub, k, `${name} public key`, publicLength)),
  };
}

/** KeyObject caches for an OKP algorithm (RFC 8037 `crv`), private and public keys of `len` bytes. */
function okpKeyCaches(crv: string, len: number): RawKeyCaches {
  return {
    private: new KeyObjectCache((k) => okpKey('private', crv, k, `${crv} private key`, len)),
    public: new KeyObjectCache((k) => okpKey('public', crv, k, `${crv} public key`, len)),
  };
}

export const X25519_KEYS = okpKeyCaches('X25519', 32);
export const X448_KEYS = okpKeyCaches('X448', 56);
export const ED25519_KEYS = okpKeyCaches('Ed25519', 32);
export const ED448_KEYS = okpKeyCaches('Ed448', 57);
/** NIST-curve keys serve ECDH and ECDSA alike. */
export const P256_KEYS = rawKeyCaches('p256', 'P-256', 32, 65, true);
export const P384_KEYS = rawKeyCaches('p384', 'P-384', 48, 97, true);
export const P521_KEYS = rawKeyCaches('p521', 'P-521', 66, 133, true);

/** A JWK member (base64url) as bytes. */
export function b64url(s: string | undefined): Uint8Array {
  if (s === undefined) throw new Error('JWK without the expected member');
  return u8(Buffer.from(s, 'base64url'));
}
