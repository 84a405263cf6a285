/** Assertions on CodecError for the codec specs (src/codec, src/mimi). Test support only. */
import { CodecError } from '../../src/common/errors';

/** What `fn` throws, or undefined when it returns. */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** `fn` throws a CodecError (whose message matches `pattern`, when given). */
export function expectCodecError(fn: () => unknown, pattern?: RegExp): void {
  const e = thrownBy(fn);
  expect(e).toBeInstanceOf(CodecError);
  if (pattern) expect((e as Error).message).toMatch(pattern);
}
