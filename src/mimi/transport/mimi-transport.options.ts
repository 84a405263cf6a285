/** Optional knobs of the transport that are not configuration (tests and embedding only). */
export const MIMI_TRANSPORT_OPTIONS = Symbol('MIMI_TRANSPORT_OPTIONS');

export interface MimiTransportOptions {
  /**
   * Where a peer's directory is fetched from (default `https://<domain>/.well-known/mimi-protocol-directory`).
   * The TLS server name and the certificate check still use the peer domain, so tests can point this
   * at 127.0.0.1 without weakening authentication.
   */
  readonly directoryUrlFor?: (domain: string) => string;
  /** How long a fetched directory is used before it is fetched again (default DIRECTORY_TTL_MS). */
  readonly directoryTtlMs?: number;
  /** After a failed directory fetch, how long to wait before trying again (default DIRECTORY_RETRY_MS). */
  readonly directoryRetryMs?: number;
  /** Clock in ms since the epoch (default Date.now). */
  readonly now?: () => number;
}
