import { ErrorCode } from '../../src/common/errors';
import { homeserverGuard } from './matrix-errors';

describe(homeserverGuard.name, () => {
  const limited = { statusCode: 429, body: { errcode: 'M_LIMIT_EXCEEDED', retry_after_ms: 30 } };

  it('waits out a 429, logs the wait with the call, and answers with the resend (T12)', async () => {
    const warnings: string[] = [];
    const guard = homeserverGuard({ warn: (m) => warnings.push(m) });
    let calls = 0;
    const answer = await guard.run('post to !r as @g', 5_000, async () => {
      calls += 1;
      if (calls === 1) throw limited;
      return 'event';
    });
    expect(answer).toBe('event');
    expect(calls).toBe(2);
    expect(warnings).toEqual(['post to !r as @g: rate limited (429), waiting 30 ms']);
  });

  it('maps another refusal to a permanent PlatformRejected without waiting', async () => {
    const warnings: string[] = [];
    const guard = homeserverGuard({ warn: (m) => warnings.push(m) });
    const exclusive = { statusCode: 400, body: { errcode: 'M_EXCLUSIVE', error: 'Invalid user localpart' } };
    await expect(
      guard.run('join', 5_000, async () => {
        throw exclusive;
      }),
    ).rejects.toMatchObject({
      code: ErrorCode.PlatformRejected,
      retryable: false,
      message: expect.stringContaining('M_EXCLUSIVE'),
    });
    expect(warnings).toEqual([]);
  });
});
