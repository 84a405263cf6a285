import { parseMimiUri, type RoomUri, type UserUri } from '../../src/common/ids';
import { matrixLocalparts } from '../kit/localpart-codec';

/**
 * Matrix identifiers the bridge derives from MIMI URIs, deterministically and reversibly:
 *
 *   ghost of  mimi://<domain>/u/<local>  =  @<prefix><domain>_<enc(local)>:<homeserver domain>
 *   portal of mimi://<domain>/r/<local>  =  #<prefix><domain>_<enc(local)>:<homeserver domain>
 *
 * `enc` keeps `a-z 0-9 . -` and writes every other UTF-8 byte as `=hh` (lower-case hex), the
 * Matrix spec's "mapping from other character sets" escaping; a DNS domain has no `_`, so the
 * first `_` after the prefix ends it. Only the canonical spelling decodes, so one MIMI user has
 * exactly one ghost. The prefix (default `_mimi_`) is the exclusive namespace of the
 * registration; it contains `_`, as matrix-appservice-bridge's bot-sdk namespace (`@.+_.+:.*`)
 * needs.
 */

/** Matrix spec: user IDs are at most 255 bytes, including the leading @ and the domain. */
export const MAX_MATRIX_ID_LENGTH = 255;

const DOMAIN_RE = /^[a-z0-9.-]+$/;

/** `enc` above: the kit's localpart codec with `=` escapes. */
export function encodeLocal(s: string): string {
  return matrixLocalparts.encode(s);
}

/** Inverse of encodeLocal; undefined for anything encodeLocal cannot have produced. */
export function decodeLocal(s: string): string | undefined {
  return matrixLocalparts.decode(s);
}

function localpartFor(prefix: string, uri: string, kind: 'u' | 'r'): string | undefined {
  const p = parseMimiUri(uri);
  if (!p || p.kind !== kind || `mimi://${p.domain}/${kind}/${p.local}` !== uri) return undefined;
  return `${prefix}${p.domain}_${encodeLocal(p.local)}`;
}

function uriFor(prefix: string, localpart: string, kind: 'u' | 'r'): string | undefined {
  if (!localpart.startsWith(prefix)) return undefined;
  const rest = localpart.slice(prefix.length);
  const sep = rest.indexOf('_');
  if (sep <= 0) return undefined;
  const domain = rest.slice(0, sep);
  const local = decodeLocal(rest.slice(sep + 1));
  if (!DOMAIN_RE.test(domain) || local === undefined || local.length === 0) return undefined;
  const uri = `mimi://${domain}/${kind}/${local}`;
  return localpartFor(prefix, uri, kind) === localpart ? uri : undefined;
}

function splitId(id: string, sigil: '@' | '#', domain: string): string | undefined {
  const suffix = `:${domain}`;
  if (!id.startsWith(sigil) || !id.endsWith(suffix)) return undefined;
  return id.slice(1, id.length - suffix.length);
}

/** Turns MIMI URIs into ghost user IDs and portal aliases of one homeserver, and back. */
export class MatrixIds {
  constructor(
    /** Ghost/portal localpart prefix (matrix.prefix). */
    readonly prefix: string,
    /** The homeserver's server_name (matrix.domain). */
    readonly domain: string,
    readonly botLocalpart: string,
  ) {}

  get botUserId(): string {
    return `@${this.botLocalpart}:${this.domain}`;
  }

  /** The ghost's user ID, or undefined when the URI is not a canonical MIMI user URI or too long. */
  ghostUserId(userUri: string): string | undefined {
    const lp = localpartFor(this.prefix, userUri, 'u');
    const id = lp === undefined ? undefined : `@${lp}:${this.domain}`;
    return id !== undefined && Buffer.byteLength(id) <= MAX_MATRIX_ID_LENGTH ? id : undefined;
  }

  /** The MIMI user behind a ghost user ID, or undefined for any other user. */
  userUriOfGhost(mxid: string): UserUri | undefined {
    const lp = splitId(mxid, '@', this.domain);
    return lp === undefined ? undefined : (uriFor(this.prefix, lp, 'u') as UserUri | undefined);
  }

  portalAlias(roomUri: string): string | undefined {
    const lp = this.portalAliasLocalpart(roomUri);
    const alias = lp === undefined ? undefined : `#${lp}:${this.domain}`;
    return alias !== undefined && Buffer.byteLength(alias) <= MAX_MATRIX_ID_LENGTH ? alias : undefined;
  }

  portalAliasLocalpart(roomUri: string): string | undefined {
    return localpartFor(this.prefix, roomUri, 'r');
  }

  /** The MIMI room a portal alias names, or undefined for any other alias. */
  roomUriOfPortalAlias(alias: string): RoomUri | undefined {
    const lp = splitId(alias, '#', this.domain);
    return lp === undefined ? undefined : (uriFor(this.prefix, lp, 'r') as RoomUri | undefined);
  }

  /** True for the bot and every user in the ghost namespace (their events are our echoes). */
  isOwnUser(mxid: string): boolean {
    if (mxid === this.botUserId) return true;
    const lp = splitId(mxid, '@', this.domain);
    return lp !== undefined && lp.startsWith(this.prefix);
  }
}

/** `mxc://<server>/<media id>` (Matrix spec "Matrix Content (mxc://) URIs"). */
const MXC_RE = /^mxc:\/\/([A-Za-z0-9.:[\]-]{1,255})\/([A-Za-z0-9_-]{1,255})$/;

export function parseMxc(mxc: string): { server: string; mediaId: string } | undefined {
  const m = MXC_RE.exec(mxc);
  return m ? { server: m[1]!, mediaId: m[2]! } : undefined;
}

/**
 * The authenticated-media download URL (client-server API v1.11 `GET /_matrix/client/v1/media/
 * download/{serverName}/{mediaId}`) of an mxc URI on `homeserverUrl`. Fetching it needs the
 * appservice's token, so only MatrixBridge.downloadMedia can, and only for URLs of this shape.
 */
export function mediaDownloadUrl(homeserverUrl: string, mxc: string): string | undefined {
  const p = parseMxc(mxc);
  if (!p) return undefined;
  return `${homeserverUrl.replace(/\/+$/, '')}/_matrix/client/v1/media/download/${encodeURIComponent(p.server)}/${p.mediaId}`;
}

/** The mxc URI behind a URL made by mediaDownloadUrl for the same homeserver, else undefined. */
export function mxcOfDownloadUrl(homeserverUrl: string, url: string): string | undefined {
  const base = `${homeserverUrl.replace(/\/+$/, '')}/_matrix/client/v1/media/download/`;
  if (!url.startsWith(base)) return undefined;
  const m = /^([^/?#]+)\/([A-Za-z0-9_-]+)$/.exec(url.slice(base.length));
  if (!m) return undefined;
  let server: string;
  try {
    server = decodeURIComponent(m[1]!);
  } catch {
    return undefined;
  }
  const mxc = `mxc://${server}/${m[2]}`;
  return mediaDownloadUrl(homeserverUrl, mxc) === url ? mxc : undefined;
}
