/**
 * The small TLS-PL types the room-state components share (room-policy-03 Appendix B, protocol-06
 * §7.6): `bool`, `Uri`, `UTF8String` ("valid UTF-8 without nulls") and `Optionality`.
 */
import type { TlsReader, TlsWriter } from '../../codec/tls-codec';

/** `enum { false(0), true(1) } bool;` — any other octet is refused. */
export function readBool(r: TlsReader): boolean {
  const at = r.offset;
  const v = r.uint8();
  if (v > 1) return r.fail(`bool must be 0 or 1, not ${v}`, at);
  return v === 1;
}

export function writeBool(w: TlsWriter, v: boolean): void {
  w.uint8(v ? 1 : 0);
}

/** `struct { opaque uri<V>; } Uri;` as text; an empty Uri is allowed (the drafts use it for "none"). */
export function readUri(r: TlsReader): string {
  return r.field('uri', (x) => x.utf8());
}

export function writeUri(w: TlsWriter, uri: string): void {
  w.utf8(uri);
}

/** `struct { opaque string<V>; } UTF8String;`: UTF-8 without NUL characters. */
export function readUtf8String(r: TlsReader): string {
  const at = r.offset;
  const s = r.utf8();
  if (s.includes('\u0000')) return r.fail('UTF8String contains a NUL character', at);
  return s;
}

export function writeUtf8String(w: TlsWriter, s: string): void {
  if (s.includes('\u0000')) w.fail('UTF8String contains a NUL character');
  w.utf8(s);
}

/** room-policy-03 §6.1 `enum { optional(0), required(1), forbidden(2) } Optionality;`. */
export const Optionality = { optional: 0, required: 1, forbidden: 2 } as const;
export type Optionality = keyof typeof Optionality;
