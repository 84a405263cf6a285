/**
 * Identity mapping (ARCHITECTURE §4): a legacy user the gateway speaks for gets a MIMI user URI
 * under OUR provider domain, whatever server the user lives on:
 *
 *   (platform, userId)  ↔  mimi://<domain>/u/<platform>:<encodeURIComponent(userId)>
 *
 * e.g. Matrix `@alice:hs.example` → `mimi://gw.example/u/matrix:%40alice%3Ahs.example`. The
 * platform name is a lower-case word (`Platform` values), so the first `:` separates it; the user
 * ID is percent-encoded, so the mapping is reversible for any user ID (`parseLegacyUserUri`).
 * The gateway's own bot has a local part without `:` and is never a legacy user.
 */
import { Platform, type ProviderDomain, type UserUri, parseMimiUri } from '../common/ids';

const PLATFORM_RE = /^[a-z][a-z0-9-]*$/;
const KNOWN_PLATFORMS: ReadonlySet<string> = new Set(Object.values(Platform));

/** Local part of the gateway bot's user URI: the member client that commits room changes on the hub. */
export const GATEWAY_BOT_LOCALPART = 'gateway-bot';

/** The MIMI user URI of a legacy user. @throws Error on an empty user ID or a malformed platform name */
export function legacyUserUri(domain: string, platform: string, userId: string): UserUri {
  if (!PLATFORM_RE.test(platform)) throw new Error(`not a platform name: ${JSON.stringify(platform)}`);
  if (userId.length === 0) throw new Error('a legacy user ID must not be empty');
  return `mimi://${domain.toLowerCase()}/u/${platform}:${encodeURIComponent(userId)}` as UserUri;
}

/** The legacy user behind a URI made by `legacyUserUri`, or `undefined` for any other URI. */
export function parseLegacyUserUri(
  uri: string,
): { domain: ProviderDomain; platform: Platform; userId: string } | undefined {
  const parsed = parseMimiUri(uri);
  if (parsed?.kind !== 'u') return undefined;
  const colon = parsed.local.indexOf(':');
  if (colon <= 0) return undefined;
  const platform = parsed.local.slice(0, colon);
  if (!KNOWN_PLATFORMS.has(platform)) return undefined;
  let userId: string;
  try {
    userId = decodeURIComponent(parsed.local.slice(colon + 1));
  } catch {
    return undefined;
  }
  if (userId.length === 0) return undefined;
  // Only the canonical spelling maps back, so one legacy user has exactly one URI.
  if (legacyUserUri(parsed.domain, platform, userId) !== uri) return undefined;
  return { domain: parsed.domain, platform: platform as Platform, userId };
}

/** The gateway bot's user URI on `domain`. */
export function gatewayBotUri(domain: string): UserUri {
  return `mimi://${domain.toLowerCase()}/u/${GATEWAY_BOT_LOCALPART}` as UserUri;
}
