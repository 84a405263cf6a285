/**
 * Polling helpers for multi-process tests: wait on an observable condition with a deadline,
 * never on a sleep. A timeout names what was awaited and the last thing seen.
 */
import { errorMessage } from '../../src/common/errors';

const DEFAULT_WAIT_MS = 30_000;
const DEFAULT_POLL_MS = 50;

export interface WaitOptions {
  /** Give up after this long (default DEFAULT_WAIT_MS). */
  readonly timeoutMs?: number;
  /** Pause between probes (default DEFAULT_POLL_MS). */
  readonly intervalMs?: number;
  /** What is awaited, for the timeout message. */
  readonly what?: string;
}

class WaitTimeoutError extends Error {
  constructor(
    message: string,
    readonly lastSeen: unknown,
  ) {
    super(message);
    this.name = 'WaitTimeoutError';
  }
}

function describeValue(v: unknown): string {
  if (v instanceof Error) return `error: ${v.message}`;
  try {
    const text = JSON.stringify(v);
    return text === undefined ? String(v) : text.length > 600 ? `${text.slice(0, 600)}…` : text;
  } catch {
    return String(v);
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Probe until it returns something other than `undefined`/`false`, and return that. A probe that
 * throws counts as "not yet" (a process still starting refuses connections); its error is shown
 * if the wait times out.
 * @throws WaitTimeoutError after `timeoutMs`.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_WAIT_MS;
  const intervalMs = opts.intervalMs ?? DEFAULT_POLL_MS;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      const what = opts.what ?? 'condition';
      throw new WaitTimeoutError(
        `timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${describeValue(last)}`,
        last,
      );
    }
    await pause(intervalMs);
  }
}

/**
 * Poll `read` until `accept(value)` holds and return that value; on timeout the last value read
 * is in the error message.
 */
export async function waitForValue<T>(
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  opts: WaitOptions = {},
): Promise<T> {
  let last: T | undefined;
  try {
    return await waitFor(async () => {
      last = await read();
      return accept(last) ? { value: last } : undefined;
    }, opts).then((r) => r.value);
  } catch (e) {
    if (e instanceof WaitTimeoutError && last !== undefined) {
      throw new WaitTimeoutError(`${e.message.split('; last seen:')[0]}; last value: ${describeValue(last)}`, last);
    }
    throw e;
  }
}

/** Add context to an error while keeping its stack. */
export function withContext(e: unknown, context: string): Error {
  const err = e instanceof Error ? e : new Error(errorMessage(e));
  err.message = `${err.message}\n${context}`;
  return err;
}

/** A test body that, when it fails, carries `context()` (e.g. log tails) in its error message. */
export function withFailureContext(body: () => Promise<void>, context: () => string): () => Promise<void> {
  return async () => {
    try {
      await body();
    } catch (e) {
      throw withContext(e, context());
    }
  };
}
