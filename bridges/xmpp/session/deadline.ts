/** Promises with a deadline: what every wait of the bridge (join, reflection, IQ) is built on. */
import { ErrorCode, errorMessage, GatewayError, PlatformError } from '../../../src/common/errors';

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

/** A promise with its resolve/reject; an unobserved rejection is not reported as unhandled. */
export function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/**
 * Run `fn`, rejecting with a retryable Timeout at `deadline` (ms since the epoch). Errors that are
 * not GatewayErrors become PlatformUnavailable.
 */
export async function withDeadline<T>(deadline: number, what: string, fn: () => Promise<T>): Promise<T> {
  const remaining = deadline - Date.now();
  if (remaining <= 0) throw new PlatformError(ErrorCode.Timeout, `${what}: timed out`);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new PlatformError(ErrorCode.Timeout, `${what}: timed out after ${remaining} ms`)),
      remaining,
    );
  });
  try {
    return await Promise.race([fn(), timeout]);
  } catch (e) {
    if (e instanceof GatewayError) throw e;
    throw new PlatformError(ErrorCode.PlatformUnavailable, `${what}: ${errorMessage(e)}`, { cause: e });
  } finally {
    clearTimeout(timer);
  }
}
