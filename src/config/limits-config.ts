import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsNumber, Max, Min, ValidateNested } from 'class-validator';
import { IntRange } from '../common/config-schema';

/**
 * The `limits` section: what one peer provider or one source address may cost us (issue 14's
 * hostile run). Every key has a default fit for a small deployment; see config.sample.yaml.
 */

/** Timeouts and caps of the listeners' connections (TLS on the MIMI listener, plain HTTP on the admin one). */
export class ConnectionLimitsConfig {
  /** A TLS handshake (from accept, so also a connection that never sends a ClientHello) must finish within this. */
  @IntRange(100, 600_000, 'milliseconds')
  handshakeTimeoutMs: number = 10_000;

  /** The request line and headers of a request must arrive within this (slow-header connections). */
  @IntRange(100, 600_000, 'milliseconds')
  headersTimeoutMs: number = 10_000;

  /** A whole request, body included, must arrive within this. */
  @IntRange(100, 3_600_000, 'milliseconds')
  requestTimeoutMs: number = 60_000;

  /** A connection with nothing in flight is closed after this long. */
  @IntRange(100, 3_600_000, 'milliseconds')
  idleTimeoutMs: number = 30_000;

  /** Open connections from one source address (IP); the next one is closed at once. */
  @IntRange(1, 100_000, 'a whole number of connections')
  perAddress: number = 64;

  /** TLS handshakes in progress at once, over all addresses; past it new connections are closed at once. */
  @IntRange(1, 100_000, 'a whole number of handshakes')
  concurrentHandshakes: number = 64;
}

/** A token bucket: `burst` requests at once, refilled at `perSecond`. */
const PER_SECOND = { message: 'requests per second, from 0.001 to 1000000 (0.5: one every 2 s)' };

export class RateConfig {
  @IsNumber({ allowNaN: false, allowInfinity: false }, PER_SECOND)
  @Min(0.001, PER_SECOND)
  @Max(1_000_000, PER_SECOND)
  perSecond!: number;

  @IntRange(1, 10_000_000, 'a whole number of requests')
  burst!: number;
}

const rate = (perSecond: number, burst: number): RateConfig => Object.assign(new RateConfig(), { perSecond, burst });

/** Per authenticated peer provider and MIMI endpoint; over it → 429 MIMI_RATE_LIMITED with Retry-After. */
export class RequestLimitsConfig {
  @ValidateNested()
  @Type(() => RateConfig)
  keyMaterial: RateConfig = rate(10, 100);

  @ValidateNested()
  @Type(() => RateConfig)
  groupInfo: RateConfig = rate(20, 200);

  @ValidateNested()
  @Type(() => RateConfig)
  update: RateConfig = rate(50, 500);

  @ValidateNested()
  @Type(() => RateConfig)
  submitMessage: RateConfig = rate(200, 2000);

  @ValidateNested()
  @Type(() => RateConfig)
  requestConsent: RateConfig = rate(5, 50);

  @ValidateNested()
  @Type(() => RateConfig)
  updateConsent: RateConfig = rate(5, 50);

  @ValidateNested()
  @Type(() => RateConfig)
  reportAbuse: RateConfig = rate(1, 20);

  @ValidateNested()
  @Type(() => RateConfig)
  notify: RateConfig = rate(500, 5000);

  /** protocol-06 §5.8 (a directory search: kept low, so that a peer cannot enumerate our users quickly). */
  @ValidateNested()
  @Type(() => RateConfig)
  identifierQuery: RateConfig = rate(2, 20);

  /** protocol-06 §5.10.2, and our own asset endpoint (`/mimiAsset`, one budget for both). */
  @ValidateNested()
  @Type(() => RateConfig)
  proxyDownload: RateConfig = rate(20, 200);
}

export class LimitsConfig {
  @ValidateNested()
  @Type(() => ConnectionLimitsConfig)
  connections: ConnectionLimitsConfig = new ConnectionLimitsConfig();

  @ValidateNested()
  @Type(() => RequestLimitsConfig)
  requests: RequestLimitsConfig = new RequestLimitsConfig();

  /**
   * Unused KeyPackages we keep issued per (requesting provider, target user) for `/keyMaterial`;
   * a repeated request gets one of them again until the hub uses it, so replays cost no storage.
   */
  @IntRange(1, 1000, 'a whole number of KeyPackages')
  keyPackagesPerRequester: number = 4;
}
