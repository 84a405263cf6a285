/**
 * Writing TLS-presentation values (RFC 9420 §2.1) straight into an array sized beforehand: the
 * per-message paths (`framing-bytes.ts`, `secret-tree.ts` rows, `crypto/labeled.ts` KDFLabels)
 * use these instead of the generic codec's growable writer. Each returns the next offset.
 */

/** Size of the `<V>` length prefix of `n` bytes (RFC 9420 §2.1.2, minimum encoding). */
export const varintSize = (n: number): number => (n < 64 ? 1 : n < 16384 ? 2 : 4);

/** Size of `opaque x<V>` holding `bytes`. */
export const opaqueSize = (bytes: Uint8Array): number => varintSize(bytes.length) + bytes.length;

/** The `<V>` length prefix of `n`. */
export function putVarint(out: Uint8Array, at: number, n: number): number {
  if (n < 64) {
    out[at] = n;
    return at + 1;
  }
  if (n < 16384) {
    out[at] = 0x40 | (n >> 8);
    out[at + 1] = n & 0xff;
    return at + 2;
  }
  if (n > 0x3fffffff) throw new RangeError(`vector of ${n} bytes is too long`);
  out[at] = 0x80 | (n >>> 24);
  out[at + 1] = (n >>> 16) & 0xff;
  out[at + 2] = (n >>> 8) & 0xff;
  out[at + 3] = n & 0xff;
  return at + 4;
}

/** `opaque x<V>`. */
export function putOpaque(out: Uint8Array, at: number, bytes: Uint8Array): number {
  const next = putVarint(out, at, bytes.length);
  out.set(bytes, next);
  return next + bytes.length;
}

/** `uint32`, big-endian. */
export function putUint32(out: Uint8Array, at: number, v: number): number {
  out[at] = (v >>> 24) & 0xff;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
  return at + 4;
}
