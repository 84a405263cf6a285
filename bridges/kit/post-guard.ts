/**
 * Deadlines for everything a bridge waits for on its platform (a post, a join, an IQ answer), and
 * the guard that also fails every such wait at once when the bridge stops.
 */
import { ErrorCode, errorMessage, GatewayError, PlatformError } from '../../src/common/errors';

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

/** What an error other than a timeout becomes: GatewayErrors stay, anything else is PlatformUnavailable. */
function asPlatformUnavailable(e: unknown, what: string): Error {
  if (e instanceof GatewayError) return e;
  return new PlatformError(ErrorCode.PlatformUnavailable, `${what}: ${errorMessage(e)}`, { cause: e });
}

/**
 * Run `fn`, rejecting with a retryable Timeout at `deadline` (ms since the epoch). Other errors go
 * through `mapError` (default: asPlatformUnavailable).
 */
export async function withDeadline<T>(
  deadline: number,
  what: string,
  fn: () => Promise<T>,
  mapError: (e: unknown, what: string) => Error = asPlatformUnavailable,
): Promise<T> {
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
    if (e instanceof PlatformError && e.code === ErrorCode.Timeout) throw e;
    throw mapError(e, what);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The post guard: `run` is withDeadline whose waits `failAll` rejects at once (the bridge stops,
 * and no caller should wait out its deadline for a platform that is gone).
 */
export class PostGuard {
  private readonly pending = new Set<(e: Error) => void>();

  /**
   * @param retry runs `fn` (the platform's own retry rules, e.g. waiting out a rate limit) while
   *   `deadline` (ms since the epoch) allows; `what` names the call for its logs; default: once.
   */
  constructor(
    private readonly mapError: (e: unknown, what: string) => Error = asPlatformUnavailable,
    private readonly retry: <T>(fn: () => Promise<T>, deadline: number, what: string) => Promise<T> = (fn) => fn(),
  ) {}

  /** Run `fn`, rejecting with a retryable Timeout after `timeoutMs` and with `failAll`'s error. */
  async run<T>(what: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
    let stopError: Error | undefined;
    const stopped = deferred<never>();
    const stop = (e: Error): void => {
      stopError = e;
      stopped.reject(e);
    };
    this.pending.add(stop);
    try {
      const deadline = Date.now() + timeoutMs;
      return await withDeadline(
        deadline,
        what,
        () => Promise.race([this.retry(fn, deadline, what), stopped.promise]),
        (e, w) => (stopError !== undefined && e === stopError ? stopError : this.mapError(e, w)),
      );
    } finally {
      this.pending.delete(stop);
    }
  }

  /** Reject every wait still running with `error`. */
  failAll(error: Error): void {
    for (const reject of this.pending) reject(error);
    this.pending.clear();
  }
}
