/**
 * Branded identifier types: a Matrix room ID cannot be passed where a MUC JID is expected.
 * Platform words stay in bridges/; the core knows only `LegacyRoomRef` (opaque strings + platform).
 */
export type ProviderDomain = string & { readonly __brand: 'ProviderDomain' };
/** `mimi://<domain>/r/<localpart>` */
export type RoomUri = string & { readonly __brand: 'RoomUri' };
/** `mimi://<domain>/u/<localpart>` */
export type UserUri = string & { readonly __brand: 'UserUri' };

export enum Platform {
  Matrix = 'matrix',
  Xmpp = 'xmpp',
  Memory = 'memory',
}

const DOMAIN_RE = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$/i;

export function isProviderDomain(s: string): s is ProviderDomain {
  return DOMAIN_RE.test(s);
}

/**
 * Parse `mimi://domain/<kind>/<rest>` into its parts, or return undefined. A URI holds no control
 * characters (RFC 3986: they are percent-encoded): one with a NUL, a line break or another C0 or
 * DEL is refused here, before it reaches a log line or a database (PostgreSQL text cannot hold NUL).
 */
export function parseMimiUri(uri: string): { domain: ProviderDomain; kind: string; local: string } | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(uri)) return undefined;
  const m = /^mimi:\/\/([^/?#]+)\/([a-z]+)\/(.+)$/.exec(uri);
  if (!m || !isProviderDomain(m[1]!)) return undefined;
  return { domain: m[1]!.toLowerCase() as ProviderDomain, kind: m[2]!, local: m[3]! };
}

export function roomUri(domain: string, local: string): RoomUri {
  return `mimi://${domain}/r/${encodeURIComponent(local)}` as RoomUri;
}

export function userUri(domain: string, local: string): UserUri {
  return `mimi://${domain}/u/${encodeURIComponent(local)}` as UserUri;
}

/** The provider that owns a MIMI URI (its authority). */
export function domainOf(uri: string): ProviderDomain | undefined {
  return parseMimiUri(uri)?.domain;
}
