import { CodecError } from '../../common/errors';

/** Lower-case hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/**
 * Strict hex decoding: even length, only [0-9a-fA-F]. (Node's `Buffer.from(s, 'hex')` silently stops at the
 * first bad character, which would turn a typo in a fixture into a shorter value.)
 */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new CodecError(`hex: not an even-length hex string (${hex.length} chars)`);
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Bytewise lexicographic comparison (RFC 8949 §4.2.1 map-key order). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
