import 'reflect-metadata';
import { Type } from 'class-transformer';
import { DOMAIN, IntRange } from '../common/config-schema';
import { ClusterConfig } from './cluster-config';
import { ConsentConfig } from './consent-config';
import { LimitsConfig } from './limits-config';
import { MediaConfig } from './media-config';
import {
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  ValidateIf,
  ValidateNested,
} from 'class-validator';

/**
 * The gateway core's configuration: the sections of the one YAML file that the core reads (see
 * config.sample.yaml for every key with its default). The bridges' sections are validated by
 * their own modules (bridges/<platform>/<platform>.config.ts); see `ConfigSection`. Validated
 * once at start by `loadConfig`; every error names its key path. Relative file paths are resolved against the directory holding the config file.
 */

export class ProviderConfig {
  /** This provider's MIMI domain: the authority of our room and user URIs, and the name in our certificate. */
  @Matches(DOMAIN, { message: 'a lower-case DNS domain name, e.g. gw.example.org' })
  domain!: string;

  /** Base URL that peers use to reach our MIMI endpoints (published in the directory). */
  @IsOptional()
  @IsUrl({ protocols: ['https'], require_tld: false, require_protocol: true }, { message: 'an https:// URL' })
  publicBaseUrl?: string;
}

export class ListenConfig {
  @IsString({ message: 'an IP address or host name to bind' })
  host: string = '127.0.0.1';

  @IntRange(0, 65535, 'a TCP port number (0 picks a free one)')
  port: number = 8443;
}

export class TlsConfig {
  /** PEM certificate chain naming `provider.domain` (server and client certificate alike). */
  @IsString({ message: 'a path to a PEM certificate file' })
  certFile: string = 'data/tls/provider.crt';

  @IsString({ message: 'a path to a PEM private key file' })
  keyFile: string = 'data/tls/provider.key';

  /** Trust anchors for peers' client and server certificates, unless a peer names its own. */
  @IsArray({ message: 'a list of paths to PEM CA certificate files' })
  @IsString({ each: true, message: 'a list of paths to PEM CA certificate files' })
  caFiles: string[] = ['data/tls/ca.crt'];

  /**
   * When the files above are missing, create a development CA and a certificate for
   * `provider.domain` there (embedded-defaults quick start). Never use this in production.
   */
  @IsBoolean({ message: 'true or false' })
  devAutoGenerate: boolean = false;
}

export class DatabaseConfig {
  @IsIn(['better-sqlite3', 'postgres'], { message: "one of 'better-sqlite3' (embedded default) or 'postgres'" })
  type: 'better-sqlite3' | 'postgres' = 'better-sqlite3';

  /** better-sqlite3: database file (WAL mode). */
  @ValidateIf((o: DatabaseConfig) => o.type === 'better-sqlite3')
  @IsString({ message: 'a path to the SQLite database file' })
  path: string = 'data/gateway.sqlite';

  /** postgres: connection URL, e.g. postgres://user:pass@127.0.0.1:5432/mimi */
  @ValidateIf((o: DatabaseConfig) => o.type === 'postgres')
  @Matches(/^postgres(ql)?:\/\//, { message: 'a postgres:// connection URL (required when type is postgres)' })
  url?: string;

  /** postgres: connection pool size per gateway process. */
  @IntRange(1, 200, 'a whole number of connections')
  poolSize: number = 10;
}

export class PeerConfig {
  @Matches(DOMAIN, { message: 'a lower-case DNS domain name' })
  domain!: string;

  /** Where the peer's MIMI endpoints live. When absent, its directory is fetched from https://<domain>. */
  @IsOptional()
  @IsUrl({ protocols: ['https'], require_tld: false, require_protocol: true }, { message: 'an https:// URL' })
  baseUrl?: string;

  /** Trust anchors for this peer only (default: tls.caFiles). */
  @IsOptional()
  @IsArray({ message: 'a list of paths to PEM CA certificate files' })
  @IsString({ each: true, message: 'a list of paths to PEM CA certificate files' })
  caFiles?: string[];

  /**
   * The address domains whose users this peer serves (its XMPP server's domain, its Matrix
   * homeserver's name), so that an invite written `xmpp:bob@<domain>` or `@bob:<domain>` asks this
   * peer's `/identifierQuery`. An address domain no peer claims is asked of the provider of that name.
   */
  @IsOptional()
  @IsArray({ message: 'a list of address domains (e.g. the XMPP domain or homeserver name the peer serves)' })
  @IsString({
    each: true,
    message: 'a list of address domains (e.g. the XMPP domain or homeserver name the peer serves)',
  })
  addressDomains?: string[];

  /** `/notify` messages per request to this peer (default: outbox.coalesceMaxMessages; 1: one each). */
  @IsOptional()
  @IntRange(1, 1000, 'a whole number of messages')
  coalesceMaxMessages?: number;
}

export class OutboxConfig {
  /** How many (destination, room) streams are delivered concurrently. */
  @IntRange(1, 256, 'a whole number')
  concurrency: number = 8;

  /** First retry delay; doubles on every attempt (with full jitter) up to maxBackoffMs. */
  @IntRange(1, Number.MAX_SAFE_INTEGER, 'milliseconds')
  initialBackoffMs: number = 500;

  @IntRange(1, Number.MAX_SAFE_INTEGER, 'milliseconds')
  maxBackoffMs: number = 300000;

  /** Per-request timeout for a delivery. */
  @IntRange(100, Number.MAX_SAFE_INTEGER, 'milliseconds')
  requestTimeoutMs: number = 15000;

  /** How often idle workers look for due rows (new rows wake them at once). */
  @IntRange(10, Number.MAX_SAFE_INTEGER, 'milliseconds')
  pollIntervalMs: number = 1000;

  /** Rows handed to one worker pass; larger batches raise throughput when a peer has a backlog. */
  @IntRange(1, 1000, 'a whole number')
  batchSize: number = 50;

  /**
   * With a backlog, up to this many `/notify` messages of one room go to a peer in one request
   * (protocol-06 §5.5 allows concatenated FanoutMessages); 1 sends every message alone (for peers
   * that accept only one per request).
   */
  @IntRange(1, 1000, 'a whole number of messages')
  coalesceMaxMessages: number = 32;

  /**
   * `/notify` requests of one (destination, room) stream in flight at once, to a peer that applies
   * them in stream order (it says so on its answers; src/replication/README.md, "pipelining");
   * other peers always get one at a time. 1: one at a time to every peer.
   */
  @IntRange(1, 64, 'a whole number of requests')
  pipelineDepth: number = 4;

  /** Largest body of such a combined request; a single larger message is still sent (alone). */
  @IntRange(1024, 16 * 1024 * 1024, 'bytes')
  coalesceMaxBytes: number = 262144;

  /**
   * `mimi_outbox_backlog_alarm{destination}` turns 1 once the oldest row pending for a destination
   * is this old (a follower down or refusing us for that long)...
   */
  @IntRange(1000, Number.MAX_SAFE_INTEGER, 'milliseconds')
  backlogAlarmAgeMs: number = 900000;

  /** ...or once this many rows are pending for it. */
  @IntRange(1, Number.MAX_SAFE_INTEGER, 'a whole number of rows')
  backlogAlarmRows: number = 10000;
}

export class RetentionConfig {
  /** Delivered outbox rows are deleted this long after their delivery (parked rows are kept). */
  @IntRange(1, 100_000, 'hours')
  outboxDeliveredHours: number = 168;

  /**
   * Keys of received /notify bodies (byte-identical de-duplication) are forgotten this long after
   * they were first seen. Keep it well above a peer's longest retry (outbox.maxBackoffMs there).
   */
  @IntRange(1, 100_000, 'hours')
  dedupeHours: number = 168;

  /** How often the retention job runs (the first run is one minute after start). */
  @IntRange(1, 100_000, 'minutes')
  intervalMinutes: number = 60;
}

export class LoggingConfig {
  @IsIn(['error', 'warn', 'log', 'debug', 'verbose'], { message: "one of 'error', 'warn', 'log', 'debug', 'verbose'" })
  level: 'error' | 'warn' | 'log' | 'debug' | 'verbose' = 'log';

  @IsBoolean({ message: 'true or false' })
  json: boolean = false;
}

export class AdminConfig {
  /** Plain-HTTP listener for health, metrics and the provisioning API (keep it on loopback). */
  @IsBoolean({ message: 'true or false' })
  enabled: boolean = true;

  @IsString({ message: 'an IP address or host name to bind' })
  host: string = '127.0.0.1';

  @IntRange(0, 65535, 'a TCP port number (0 picks a free one)')
  port: number = 8480;

  /**
   * Bearer token for the provisioning API; a file path keeps it out of the config (`init` writes
   * one). Without it the provisioning API refuses every call, unless `insecureNoProvisioningToken`.
   */
  @IsOptional()
  @IsString({ message: 'a path to a file holding the provisioning token' })
  tokenFile?: string;

  /** Serve the provisioning API without a token (tests only; logged as a warning at start). */
  @IsBoolean({ message: 'true or false' })
  insecureNoProvisioningToken: boolean = false;

  /**
   * Host names (besides the bound address, and localhost names when it is a loopback address)
   * that provisioning requests may name in `Host` and `Origin`, e.g. behind a reverse proxy.
   */
  @IsArray({ message: 'a list of host names' })
  @IsString({ each: true, message: 'a list of host names' })
  allowedHosts: string[] = [];
}

export class MlsConfig {
  /** A puppet's leaf key is rotated (an UpdatePath commit of that puppet) once it is this old. */
  @IntRange(1, 100_000, 'hours')
  leafKeyMaxAgeHours: number = 168;

  /** ... or once it protected this many application messages (checked after each send). */
  @IntRange(1, Number.MAX_SAFE_INTEGER, 'a whole number of messages')
  leafKeyMaxMessages: number = 10000;

  /** How often the groups in memory are checked for leaf keys past their age (0: only after sends). */
  @IntRange(0, 100_000, 'seconds')
  rotationSweepSeconds: number = 300;

  /**
   * Per sweep and group, at most this many further rotations of puppets whose UpdatePath gives
   * blank tree nodes keys again (after adds and removes), which keeps later commits small in
   * large rooms. 0: none.
   */
  @IntRange(0, 1000, 'a whole number of rotations')
  pathFillPerSweep: number = 0;

  /**
   * MLS groups and puppet identities not used for this long are unloaded from memory (read back
   * from the database on next use), checked every quarter of it. 0: only the size caps apply.
   */
  @IntRange(0, 100_000, 'seconds')
  idleUnloadSeconds: number = 600;
}

export class GatewayConfig {
  @IsDefined({ message: "a mapping with at least `domain`, this provider's MIMI domain" })
  @ValidateNested()
  @Type(() => ProviderConfig)
  provider!: ProviderConfig;

  @ValidateNested()
  @Type(() => ListenConfig)
  listen: ListenConfig = new ListenConfig();

  @ValidateNested()
  @Type(() => TlsConfig)
  tls: TlsConfig = new TlsConfig();

  @ValidateNested()
  @Type(() => DatabaseConfig)
  database: DatabaseConfig = new DatabaseConfig();

  @IsArray({ message: 'a list of peers' })
  @ValidateNested({ each: true })
  @Type(() => PeerConfig)
  peers: PeerConfig[] = [];

  @ValidateNested()
  @Type(() => OutboxConfig)
  outbox: OutboxConfig = new OutboxConfig();

  @ValidateNested()
  @Type(() => RetentionConfig)
  retention: RetentionConfig = new RetentionConfig();

  @ValidateNested()
  @Type(() => LoggingConfig)
  logging: LoggingConfig = new LoggingConfig();

  @ValidateNested()
  @Type(() => AdminConfig)
  admin: AdminConfig = new AdminConfig();

  @ValidateNested()
  @Type(() => MlsConfig)
  mls: MlsConfig = new MlsConfig();

  @ValidateNested()
  @Type(() => LimitsConfig)
  limits: LimitsConfig = new LimitsConfig();

  @ValidateNested()
  @Type(() => ClusterConfig)
  cluster: ClusterConfig = new ClusterConfig();

  @ValidateNested()
  @Type(() => MediaConfig)
  media: MediaConfig = new MediaConfig();

  @ValidateNested()
  @Type(() => ConsentConfig)
  consent: ConsentConfig = new ConsentConfig();

  /**
   * The validated sections owned by others (one per bridge module, named after its platform), by key: see
   * `ConfigSection` in load-config.ts. Only the sections the loader was given and the file has.
   */
  sections!: Readonly<Record<string, object>>;

  /** Directory of the config file; relative paths in the config are resolved against it. */
  baseDir!: string;
}
