/**
 * Per-provider rate limits on the MIMI endpoints (issue 14: one signed `/keyMaterial` request
 * replayed 10,000 times got 10,000 answers). A token bucket per (authenticated peer, endpoint),
 * sized by `limits.requests`; over it the request is refused with 429 MIMI_RATE_LIMITED and a
 * `Retry-After` naming when the bucket holds a token again. Peers are limited independently, so
 * one noisy provider does not starve another.
 */
import { CanActivate, ExecutionContext, Inject, Injectable, Optional, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { CLOCK, type Clock, SystemClock } from '../../common/clock';
import { ErrorCode, GatewayError } from '../../common/errors';
import { MetricsRegistry, type Counter } from '../../common/metrics';
import { GatewayConfig } from '../../config/gateway-config';
import type { MimiEndpoint } from '../../ports/delivery-target.port';
import { MIMI_PEER_KEY, type MimiPeerIdentity } from './mimi-peer.guard';

export interface Rate {
  readonly perSecond: number;
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Past this many buckets, full (idle) ones are swept; bounds memory whatever the key space. */
const SWEEP_ABOVE = 10_000;

/** Token buckets by key. `take` answers undefined (allowed) or the milliseconds until a token is there. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  take(key: string, rate: Rate, now: number): number | undefined {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= SWEEP_ABOVE) this.sweep(rate, now);
      bucket = { tokens: rate.burst, at: now };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(rate.burst, bucket.tokens + ((now - bucket.at) / 1000) * rate.perSecond);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    return ((1 - bucket.tokens) / rate.perSecond) * 1000;
  }

  get size(): number {
    return this.buckets.size;
  }

  private sweep(rate: Rate, now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * rate.perSecond >= rate.burst) this.buckets.delete(key);
    }
  }
}

const ENDPOINT_KEY = 'mimiRateLimitedEndpoint';

/** Which endpoint's limit a route counts against: `@RateLimited('keyMaterial')` (with MimiRateLimitGuard). */
export const RateLimited = (endpoint: MimiEndpoint): MethodDecorator => SetMetadata(ENDPOINT_KEY, endpoint);

/**
 * Runs after MimiPeerGuard (`@UseGuards(MimiPeerGuard, MimiRateLimitGuard)`): counts the request
 * against its peer's bucket for the route's endpoint.
 * @throws GatewayError RateLimited (429) with `retryAfterMs` (sent as `Retry-After` in whole seconds)
 */
@Injectable()
export class MimiRateLimitGuard implements CanActivate {
  private readonly buckets = new TokenBuckets();
  private readonly refused?: Counter;

  constructor(
    private readonly config: GatewayConfig,
    private readonly reflector: Reflector,
    @Optional() metrics?: MetricsRegistry,
    @Optional() @Inject(CLOCK) private readonly clock: Clock = new SystemClock(),
  ) {
    this.refused = metrics?.counter('mimi_rate_limited_total', 'MIMI requests refused with 429, by peer and endpoint');
  }

  canActivate(context: ExecutionContext): boolean {
    const endpoint = this.reflector.get<MimiEndpoint | undefined>(ENDPOINT_KEY, context.getHandler());
    if (endpoint === undefined) return true;
    const peer = context.switchToHttp().getRequest<{ [MIMI_PEER_KEY]?: MimiPeerIdentity }>()[MIMI_PEER_KEY];
    if (peer === undefined) {
      throw new GatewayError(ErrorCode.Internal, 'MimiRateLimitGuard must run after MimiPeerGuard');
    }
    const waitMs = this.buckets.take(
      `${peer.domain} ${endpoint}`,
      this.config.limits.requests[endpoint],
      this.clock.now(),
    );
    if (waitMs === undefined) return true;
    this.refused?.inc({ peer: peer.domain, endpoint });
    const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
    throw new GatewayError(
      ErrorCode.RateLimited,
      `too many ${endpoint} requests from ${peer.domain}; retry after ${retryAfterSeconds} s`,
      { retryable: true, retryAfterMs: retryAfterSeconds * 1000 },
    );
  }
}
