/**
 * Deterministic, reversible XMPP addresses for MIMI users and rooms (component mode).
 *
 * A MIMI user `mimi://<domain>/u/<local>` becomes the puppet `<enc(local)>=<domain>@<component>`.
 * JID local parts are case-insensitive (nodeprep folds case) and forbid `" & ' / : < > @` and
 * spaces, so `enc` keeps only `[a-z0-9.-]` and writes every other byte of the UTF-8 form as
 * `_xx` (lower-case hex); `=` separates the domain, which never contains `=` or `_`.
 * The bridge's own bot is `mimibot@<component>`: no `=`, so no MIMI user can map onto it.
 */
import { createHash } from 'node:crypto';
import { parseMimiUri, type RoomUri, type UserUri } from '../../../src/common/ids';

export const BOT_LOCALPART = 'mimibot';
/** Resource of every puppet and of the bot on the component domain. */
export const COMPONENT_RESOURCE = 'mimi';

const KEEP = /^[a-z0-9.-]$/;

function encodePart(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && KEEP.test(ch) ? ch : `_${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

function decodePart(s: string): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '_') {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9a-f]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (KEEP.test(ch)) {
      bytes.push(ch.charCodeAt(0));
    } else {
      return undefined;
    }
  }
  const text = Buffer.from(bytes).toString('utf8');
  // A byte sequence that is not UTF-8 did not come from encodePart.
  return Buffer.from(text, 'utf8').equals(Buffer.from(bytes)) ? text : undefined;
}

/** The puppet local part of a MIMI user URI. @throws Error when `userUri` is not a MIMI user URI. */
export function puppetLocalpart(userUri: UserUri | string): string {
  const parsed = parseMimiUri(userUri);
  if (!parsed || parsed.kind !== 'u') throw new Error(`not a MIMI user URI: ${userUri}`);
  return `${encodePart(parsed.local)}=${parsed.domain}`;
}

/** The MIMI user URI a puppet local part stands for, or undefined when it is not a puppet's. */
export function userUriOfPuppetLocalpart(localpart: string): UserUri | undefined {
  const eq = localpart.lastIndexOf('=');
  if (eq <= 0) return undefined;
  const local = decodePart(localpart.slice(0, eq));
  const domain = localpart.slice(eq + 1);
  if (local === undefined || !/^[a-z0-9.-]+$/.test(domain)) return undefined;
  const uri = `mimi://${domain}/u/${local}`;
  return parseMimiUri(uri) ? (uri as UserUri) : undefined;
}

/** Bare puppet JID of a MIMI user on the component domain. */
export function puppetJid(userUri: UserUri | string, componentDomain: string): string {
  return `${puppetLocalpart(userUri)}@${componentDomain}`;
}

/** Readable fallback name of a MIMI user: the decoded local part of its URI. */
export function userUriLocalName(userUri: UserUri | string): string {
  const parsed = parseMimiUri(userUri);
  if (!parsed) return String(userUri);
  try {
    return decodeURIComponent(parsed.local);
  } catch {
    return parsed.local;
  }
}

/**
 * Local part of the MUC that mirrors a remote MIMI room (follower mode): a readable slug of the
 * room's local part plus 8 hex digits of SHA-256 over the whole URI, so two rooms never share a MUC.
 */
export function mirrorRoomLocalpart(roomUri: RoomUri | string): string {
  const parsed = parseMimiUri(roomUri);
  const base = parsed ? userUriLocalNameOf(parsed.local) : String(roomUri);
  const slug =
    base
      .normalize('NFKD')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40)
      .replace(/-+$/, '') || 'room';
  const hash = createHash('sha256').update(String(roomUri)).digest('hex').slice(0, 8);
  return `${slug}-${hash}`;
}

function userUriLocalNameOf(local: string): string {
  try {
    return decodeURIComponent(local);
  } catch {
    return local;
  }
}
