/**
 * Byte helpers, hash, HMAC and HKDF (RFC 5869) on node:crypto, and HPKE's LabeledExtract /
 * LabeledExpand (RFC 9180 §4). The KDF is a parameter everywhere: an HPKE KEM and the HPKE
 * suite that uses it may each have their own (RFC 9180 §4.1, §5.1).
 */
import * as crypto from 'node:crypto';
import { createHash, createHmac } from 'node:crypto';

// ---- byte helpers -------------------------------------------------------------------------

/** A Uint8Array view of a Buffer (no copy), so callers get plain Uint8Arrays. */
export function u8(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

export function buf(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.length);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return u8(Buffer.concat(parts));
}

/** I2OSP(n, len): `n` as a big-endian `len`-byte string. */
export function i2osp(n: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = n & 0xff;
    n = Math.floor(n / 256);
  }
  return out;
}

export const ascii = (s: string): Uint8Array => u8(Buffer.from(s, 'latin1'));
export const EMPTY = new Uint8Array(0);

// ---- hash, HMAC, HKDF (RFC 5869) -------------------------------------------------------

export type HashName = 'sha256' | 'sha384' | 'sha512';

const HASH_LENGTH: Readonly<Record<HashName, number>> = { sha256: 32, sha384: 48, sha512: 64 };

export function hashBytes(hash: HashName, data: Uint8Array): Uint8Array {
  return u8(createHash(hash).update(data).digest());
}

/** Input block size of each hash (RFC 2104's B). */
const BLOCK_LENGTH: Readonly<Record<HashName, number>> = { sha256: 64, sha384: 128, sha512: 128 };
/** Messages up to this length take `shortHmac`; longer ones (or keys) stream through createHmac. */
const SHORT_HMAC_MAX = 512;
const oneShotHash = (crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: 'buffer') => Buffer }).hash;
/** Inner and outer hash inputs of `shortHmac` (synchronous use only; wiped after each call). */
const hmacInput = new Uint8Array(128 + SHORT_HMAC_MAX);

/**
 * HMAC (RFC 2104) = H((K ^ opad) || H((K ^ ipad) || data)) with node's one-shot hash, for the short
 * inputs of key derivation (a KDFLabel, about 30 bytes; ten per message): no HMAC object per call.
 */
function shortHmac(
  hash: HashName,
  block: number,
  key: Uint8Array,
  data: Uint8Array,
  h: NonNullable<typeof oneShotHash>,
): Uint8Array {
  const input = hmacInput;
  input.fill(0x36, 0, block);
  for (let i = 0; i < key.length; i++) input[i] = key[i]! ^ 0x36;
  input.set(data, block);
  const inner = h(hash, input.subarray(0, block + data.length), 'buffer');
  input.fill(0x5c, 0, block);
  for (let i = 0; i < key.length; i++) input[i] = key[i]! ^ 0x5c;
  input.set(inner, block);
  const out = h(hash, input.subarray(0, block + inner.length), 'buffer');
  input.fill(0, 0, block + Math.max(data.length, inner.length));
  return u8(out);
}

export function hmac(hash: HashName, key: Uint8Array, data: Uint8Array): Uint8Array {
  const block = BLOCK_LENGTH[hash];
  if (oneShotHash && key.length <= block && data.length <= SHORT_HMAC_MAX) {
    return shortHmac(hash, block, key, data, oneShotHash);
  }
  return u8(createHmac(hash, key).update(data).digest());
}

export function hkdfExtract(hash: HashName, salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  // An empty salt is HashLen zeros; HMAC pads its key with zeros, so both give the same PRK.
  return hmac(hash, salt, ikm);
}

const ONE = Uint8Array.of(1);

export function hkdfExpand(hash: HashName, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const hashLen = HASH_LENGTH[hash];
  if (length > 255 * hashLen) throw new RangeError(`HKDF-Expand: length ${length} too large`);
  if (length <= hashLen) {
    const t1 = createHmac(hash, prk).update(info).update(ONE).digest();
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

// ---- HPKE KDFs (RFC 9180 §7.2) ------------------------------------------------------------

export interface Kdf {
  /** HPKE KDF identifier. */
  readonly id: number;
  readonly hash: HashName;
  /** Nh: output length of Extract. */
  readonly hashLength: number;
}

const hkdf = (id: number, hash: HashName): Kdf => ({ id, hash, hashLength: HASH_LENGTH[hash] });

export const HKDF_SHA256: Kdf = hkdf(0x0001, 'sha256');
export const HKDF_SHA384: Kdf = hkdf(0x0002, 'sha384');
export const HKDF_SHA512: Kdf = hkdf(0x0003, 'sha512');

// ---- LabeledExtract / LabeledExpand (RFC 9180 §4) ---------------------------------------

const HPKE_V1 = ascii('HPKE-v1');

export function labeledExtract(
  kdf: Kdf,
  suiteId: Uint8Array,
  salt: Uint8Array,
  label: string,
  ikm: Uint8Array,
): Uint8Array {
  return hkdfExtract(kdf.hash, salt, concat(HPKE_V1, suiteId, ascii(label), ikm));
}

export function labeledExpand(
  kdf: Kdf,
  suiteId: Uint8Array,
  prk: Uint8Array,
  label: string,
  info: Uint8Array,
  length: number,
): Uint8Array {
  return hkdfExpand(kdf.hash, prk, concat(i2osp(length, 2), HPKE_V1, suiteId, ascii(label), info), length);
}
