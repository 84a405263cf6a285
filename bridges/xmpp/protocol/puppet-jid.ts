/**
 * Deterministic, reversible XMPP addresses for MIMI users and rooms (component mode).
 *
 * A MIMI user `mimi://<domain>/u/<local>` becomes the puppet `<enc(local)>=<domain>@<component>`.
 * JID local parts are case-insensitive (nodeprep folds case) and forbid `" & ' / : < > @` and
 * spaces, so `enc` keeps only `[a-z0-9.-]` and writes every other byte of the UTF-8 form as
 * `_xx` (lower-case hex; bridges/kit/localpart-codec.ts); `=` separates the domain, which never
 * contains `=` or `_`. Only the canonical spelling is a puppet's.
 * The bridge's own bot is `mimibot@<component>`: no `=`, so no MIMI user can map onto it.
 */
import { createHash } from 'node:crypto';
import { parseMimiUri, type RoomUri, type UserUri } from '../../../src/common/ids';
import { xmppLocalparts } from '../../kit/localpart-codec';

export const BOT_LOCALPART = 'mimibot';
/** Resource of every puppet and of the bot on the component domain. */
export const COMPONENT_RESOURCE = 'mimi';

/** The puppet local part of a MIMI user URI. @throws Error when `userUri` is not a MIMI user URI. */
export function puppetLocalpart(userUri: UserUri | string): string {
  const parsed = parseMimiUri(userUri);
  if (!parsed || parsed.kind !== 'u') throw new Error(`not a MIMI user URI: ${userUri}`);
  return `${xmppLocalparts.encode(parsed.local)}=${parsed.domain}`;
}

/** The MIMI user URI a puppet local part stands for, or undefined when it is not a puppet's. */
export function userUriOfPuppetLocalpart(localpart: string): UserUri | undefined {
  const eq = localpart.lastIndexOf('=');
  if (eq <= 0) return undefined;
  const local = xmppLocalparts.decode(localpart.slice(0, eq));
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
