import type { Platform, ProviderDomain, UserUri } from '../common/ids';
import type { PlatformBridge } from './platform-bridge.port';

/**
 * How a bridge builds itself (bridges/<platform>/<platform>.module.ts): from its own section of
 * the config file, validated by its own schema (bridges/<platform>/<platform>.config.ts). The
 * composition root (src/app.module.ts) only lists the bridge modules; the core config never sees
 * a bridge's keys, it hands the raw section to `config.parse`.
 */
export interface BridgeModule<S extends object = object> {
  /** The bridge's config section: its top-level key (`matrix`, `xmpp`) and its validator. */
  readonly config: {
    readonly key: string;
    /** @throws ConfigError naming every bad key path under `key` */
    parse(raw: unknown): S;
  };

  /**
   * Build the bridge from its validated section.
   * @throws ConfigError or Error when a file the section names cannot be read (tokens, secrets)
   */
  create(section: S, gateway: BridgeContext): PlatformBridge;
}

/** What a bridge module gets from the core besides its section. */
export interface BridgeContext {
  /** This provider's MIMI domain (`provider.domain`). */
  readonly providerDomain: ProviderDomain;
  /** Directory of the config file: relative paths in the section resolve against it. */
  readonly baseDir: string;
  /** The core's reversible mapping between legacy users and MIMI user URIs (ARCHITECTURE §4). */
  readonly identity: LegacyUserIdentity;
}

interface LegacyUserIdentity {
  /** The MIMI user URI of a native user of `platform`, e.g. `mimi://gw.example/u/matrix:%40alice%3Ahs`. */
  userUriOf(platform: Platform, userId: string): UserUri;
  /** The native user behind a URI made by `userUriOf` (of any provider), or undefined. */
  legacyUserOf(
    uri: string,
  ): { readonly domain: string; readonly platform: Platform; readonly userId: string } | undefined;
}
