/**
 * The one escaping of MIMI URI local parts into platform identifiers (Matrix ghost localparts and
 * portal aliases, XMPP puppet JID local parts): `a-z 0-9 . -` stay, every other UTF-8 byte is
 * written as `<escape>hh` (lower-case hex). Matrix escapes with `=` (the spec's "mapping from
 * other character sets"), XMPP with `_` (`=` separates the domain in a puppet JID). Only the
 * canonical spelling decodes, so one MIMI user has exactly one platform identity.
 *
 * The outputs are identities stored on the platforms (ghost user IDs, puppet JIDs): they must not
 * change, see localpart-codec.spec.ts for the golden values.
 */

const KEEP = /^[a-z0-9.-]$/;

export type LocalpartEscape = '=' | '_';

export class LocalpartCodec {
  private readonly canonical: RegExp;

  constructor(readonly escape: LocalpartEscape) {
    this.canonical = new RegExp(`^([a-z0-9.-]|${escape}[0-9a-f]{2})*$`);
  }

  encode(s: string): string {
    let out = '';
    for (const byte of Buffer.from(s, 'utf8')) {
      const ch = String.fromCharCode(byte);
      out += byte < 0x80 && KEEP.test(ch) ? ch : `${this.escape}${byte.toString(16).padStart(2, '0')}`;
    }
    return out;
  }

  /** Inverse of encode; undefined for anything encode cannot have produced. */
  decode(s: string): string | undefined {
    if (!this.canonical.test(s)) return undefined;
    const bytes: number[] = [];
    for (let i = 0; i < s.length;) {
      if (s[i] === this.escape) {
        bytes.push(Number.parseInt(s.slice(i + 1, i + 3), 16));
        i += 3;
      } else {
        bytes.push(s.charCodeAt(i));
        i += 1;
      }
    }
    let decoded: string;
    try {
      decoded = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
    } catch {
      return undefined;
    }
    return this.encode(decoded) === s ? decoded : undefined;
  }
}

/** Matrix ghost localparts and portal aliases. */
export const matrixLocalparts = new LocalpartCodec('=');
/** XMPP puppet JID local parts. */
export const xmppLocalparts = new LocalpartCodec('_');
