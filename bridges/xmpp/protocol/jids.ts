/**
 * JID handling for the bridge (RFC 7622 shapes only; the server has already applied the
 * stringprep profiles to what it routes). Local and domain parts compare case-insensitively,
 * the resource (a MUC nickname) exactly.
 */
export interface ParsedJid {
  readonly local: string;
  readonly domain: string;
  readonly resource: string;
}

/** Split `local@domain/resource`; the resource may itself contain '/' and '@'. */
export function parseJid(jid: string): ParsedJid {
  const slash = jid.indexOf('/');
  const resource = slash === -1 ? '' : jid.slice(slash + 1);
  const bareJid = slash === -1 ? jid : jid.slice(0, slash);
  const at = bareJid.indexOf('@');
  const local = at === -1 ? '' : bareJid.slice(0, at);
  const domain = at === -1 ? bareJid : bareJid.slice(at + 1);
  return { local: local.toLowerCase(), domain: domain.toLowerCase(), resource };
}

/** `local@domain` (lower case) of any JID. */
export function bare(jid: string): string {
  const { local, domain } = parseJid(jid);
  return local ? `${local}@${domain}` : domain;
}

/** The resource part (a MUC occupant's nickname), '' when absent. */
export function resourceOf(jid: string): string {
  return parseJid(jid).resource;
}

export function fullJid(bareJid: string, resource: string): string {
  return resource ? `${bareJid}/${resource}` : bareJid;
}

/** True when `jid` looks like a bare JID with a local part: `room@service`. */
export function isBareJidWithLocal(jid: string): boolean {
  return /^[^@/\s]+@[^@/\s]+$/.test(jid);
}
