import { createHash } from 'node:crypto';
import { ErrorCode, PlatformError, errorMessage } from '../../src/common/errors';
import { PostGuard } from '../kit/post-guard';
import { rateLimitWaitMs, retryRateLimited } from './rate-limit';

/** The shape of a homeserver error as the bot SDK throws it. */
interface MatrixHttpError {
  statusCode?: number;
  errcode?: string;
  body?: { errcode?: string; error?: string };
  message?: string;
}

/** The HTTP status of a homeserver error, or undefined (network failure, other error). */
export function matrixStatus(e: unknown): number | undefined {
  const s = (e as MatrixHttpError | undefined)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

/** The Matrix errcode (`M_NOT_FOUND`, ...) of a homeserver error, when it has one. */
export function matrixErrcode(e: unknown): string | undefined {
  const x = e as MatrixHttpError | undefined;
  return x?.errcode ?? x?.body?.errcode;
}

/**
 * Homeserver answers → port errors: 429/5xx/network are retryable, other 4xx are permanent. A
 * 429's wait (rate-limit.ts) goes into `retryAfterMs`.
 */
export function toPlatformError(e: unknown, what: string): PlatformError {
  if (e instanceof PlatformError) return e;
  const status = matrixStatus(e);
  const code = matrixErrcode(e);
  const detail = `${what}: ${status ?? 'network'}${code ? ` ${code}` : ''} ${errorMessage(e)}`.trim();
  if (status === undefined || status === 429 || status >= 500) {
    return new PlatformError(ErrorCode.PlatformUnavailable, detail, {
      cause: e,
      retryAfterMs: rateLimitWaitMs(e) || undefined,
    });
  }
  return new PlatformError(ErrorCode.PlatformRejected, detail, { retryable: false, cause: e });
}

/** A Matrix transaction ID for a port idempotency key: unique per appservice, stable across retries. */
export function txnIdFor(kind: string, key: string): string {
  return `mimi.${kind}.${createHash('sha256').update(key, 'utf8').digest('base64url').slice(0, 32)}`;
}

/**
 * The deadlines of the bridge's homeserver requests (bridges/kit/post-guard.ts): errors mapped by
 * toPlatformError, and a 429 waited out and sent again while the deadline allows (rate-limit.ts),
 * each wait logged so that an operator sees the homeserver throttling the appservice (T12).
 */
export function homeserverGuard(logger: { warn(message: string): void }): PostGuard {
  return new PostGuard(toPlatformError, (fn, deadline, what) =>
    retryRateLimited(fn, deadline, { onWait: (ms) => logger.warn(`${what}: rate limited (429), waiting ${ms} ms`) }),
  );
}
