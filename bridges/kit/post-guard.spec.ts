import { ErrorCode, GatewayError, PlatformError } from '../../src/common/errors';
import { PostGuard, withDeadline } from './post-guard';

describe('post guard', () => {
  it('rejects with a retryable Timeout at the deadline', async () => {
    const err = await withDeadline(Date.now() + 20, 'post', () => new Promise<never>(() => undefined)).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PlatformError);
    expect((err as PlatformError).code).toBe(ErrorCode.Timeout);
    expect((err as PlatformError).retryable).toBe(true);
  });

  it('keeps GatewayErrors and makes anything else PlatformUnavailable', async () => {
    const refused = new PlatformError(ErrorCode.PlatformRejected, 'no', { retryable: false });
    await expect(withDeadline(Date.now() + 1000, 'post', () => Promise.reject(refused))).rejects.toBe(refused);
    const err = await withDeadline(Date.now() + 1000, 'post', () => Promise.reject(new Error('reset'))).catch(
      (e: unknown) => e as GatewayError,
    );
    expect(err.code).toBe(ErrorCode.PlatformUnavailable);
  });

  it('fails every running wait at once on failAll, and maps errors its way', async () => {
    const guard = new PostGuard(
      (e, what) => new PlatformError(ErrorCode.PlatformRejected, `${what}: mapped`, { cause: e }),
    );
    const waiting = guard.run('post', 60_000, () => new Promise<never>(() => undefined));
    const stopped = new PlatformError(ErrorCode.PlatformUnavailable, 'stopping');
    guard.failAll(stopped);
    await expect(waiting).rejects.toBe(stopped);
    await expect(guard.run('post', 1000, () => Promise.reject(new Error('x')))).rejects.toThrow('post: mapped');
    await expect(guard.run('post', 1000, () => Promise.resolve(7))).resolves.toBe(7);
  });
});
