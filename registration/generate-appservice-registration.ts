import YAML from 'yaml';
import type { MatrixConfig } from '../bridges/matrix/matrix.config';
import type { MatrixTokens } from './matrix-tokens';

/**
 * The appservice registration the homeserver loads (Matrix AS API "Registration"; Synapse:
 * `app_service_config_files`). Generated from the same config the gateway runs with, so the
 * namespaces and tokens cannot drift from what the gateway uses.
 */
export interface AppserviceRegistration {
  /** Unique per homeserver and never changed (Synapse keys stored state by it). */
  readonly id: string;
  readonly url: string;
  readonly as_token: string;
  readonly hs_token: string;
  readonly sender_localpart: string;
  /** false: ghosts post at the pace of the MIMI room, not of one Matrix user (RELIABILITY §1.2). */
  readonly rate_limited: boolean;
  /** true: transactions carry ephemeral events (read receipts; AS API v1.13, MSC2409). */
  readonly receive_ephemeral: boolean;
  /** The same, under MSC2409's name, for homeservers from before its stable name. */
  readonly 'de.sorunome.msc2409.push_ephemeral': boolean;
  readonly namespaces: {
    readonly users: readonly { readonly regex: string; readonly exclusive: boolean }[];
    readonly aliases: readonly { readonly regex: string; readonly exclusive: boolean }[];
    readonly rooms: readonly { readonly regex: string; readonly exclusive: boolean }[];
  };
  /** Only when the gateway reaches the homeserver over loopback: the as_token then only works from there. */
  readonly ip_range_whitelist?: readonly string[];
}

export const APPSERVICE_ID = 'mimi-gateway';

const REGEX_SPECIAL = /[.*+?^${}()|[\]\\]/g;

export function escapeRegex(s: string): string {
  return s.replace(REGEX_SPECIAL, '\\$&');
}

function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * Build the registration (pure). Ghosts are `@<prefix>…:<domain>` and portal aliases
 * `#<prefix>…:<domain>`, both exclusive, so no human can take a ghost's name or a portal alias
 * (AS API "exclusive namespaces"); the bot is `@<botLocalpart>:<domain>`.
 */
export function generateAppserviceRegistration(
  matrix: Pick<
    MatrixConfig,
    'homeserverUrl' | 'domain' | 'appserviceHost' | 'appservicePort' | 'prefix' | 'botLocalpart'
  >,
  tokens: MatrixTokens,
): AppserviceRegistration {
  const prefix = escapeRegex(matrix.prefix);
  const domain = escapeRegex(matrix.domain);
  return {
    id: APPSERVICE_ID,
    url: `http://${urlHost(matrix.appserviceHost)}:${matrix.appservicePort}`,
    as_token: tokens.asToken,
    hs_token: tokens.hsToken,
    sender_localpart: matrix.botLocalpart,
    rate_limited: false,
    receive_ephemeral: true,
    'de.sorunome.msc2409.push_ephemeral': true,
    namespaces: {
      users: [{ regex: `@${prefix}.*:${domain}`, exclusive: true }],
      aliases: [{ regex: `#${prefix}.*:${domain}`, exclusive: true }],
      rooms: [],
    },
    ...(isLoopbackUrl(matrix.homeserverUrl) ? { ip_range_whitelist: ['127.0.0.0/8', '::1/128'] } : {}),
  };
}

/** The registration as YAML, with a header saying where it came from. Deterministic. */
export function renderRegistrationYaml(reg: AppserviceRegistration): string {
  return (
    '# Matrix appservice registration for mimi-gateway, written by `mimi-gateway generate-registration`.\n' +
    '# Add this file to the homeserver (Synapse: app_service_config_files) and restart it.\n' +
    '# Regenerate it after changing the matrix section of the gateway config. It holds secrets.\n' +
    YAML.stringify(reg, { lineWidth: 0 })
  );
}
