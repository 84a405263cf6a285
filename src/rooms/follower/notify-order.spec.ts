import { ErrorCode, GatewayError } from '../../common/errors';
import { NotifyOrder } from './notify-order';

const HUB = 'hub.example';
const ROOM = 'mimi://hub.example/r/one';

/** A /notify whose work the test finishes by hand, logging when it starts applying. */
function pending(log: string[], name: string): { apply: () => Promise<string>; finish: (fail?: Error) => void } {
  let finish!: (fail?: Error) => void;
  const done = new Promise<void>((resolve, reject) => (finish = (fail) => (fail ? reject(fail) : resolve())));
  return {
    apply: async () => {
      log.push(`start ${name}`);
      await done;
      log.push(`end ${name}`);
      return name;
    },
    finish,
  };
}

const turns = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('NotifyOrder', () => {
  it('applies a request without stream order at once, however many are unfinished', async () => {
    const order = new NotifyOrder();
    const log: string[] = [];
    const a = pending(log, 'a');
    const ra = order.run(HUB, ROOM, { last: 5 }, a.apply);
    await expect(order.run(HUB, ROOM, undefined, async () => 'plain')).resolves.toBe('plain');
    a.finish();
    await expect(ra).resolves.toBe('a');
  });

  it('holds a request that arrives before the one it follows until that one is applied', async () => {
    const order = new NotifyOrder();
    const log: string[] = [];
    const second = pending(log, 'second');
    const third = pending(log, 'third');
    const first = pending(log, 'first');
    const r3 = order.run(HUB, ROOM, { last: 9, after: 6 }, third.apply);
    const r2 = order.run(HUB, ROOM, { last: 6, after: 3 }, second.apply);
    await turns();
    expect(log).toEqual([]);
    const r1 = order.run(HUB, ROOM, { last: 3 }, first.apply);
    first.finish();
    second.finish();
    third.finish();
    await Promise.all([r1, r2, r3]);
    expect(log).toEqual(['start first', 'end first', 'start second', 'end second', 'start third', 'end third']);
  });

  it('keeps streams of other rooms and other hubs apart', async () => {
    const order = new NotifyOrder();
    order.waitMs = 50;
    await order.run(HUB, ROOM, { last: 4 }, async () => undefined);
    await expect(order.run(HUB, ROOM, { last: 8, after: 4 }, async () => 'same')).resolves.toBe('same');
    await expect(order.run('other.example', ROOM, { last: 8, after: 4 }, async () => 'x')).rejects.toMatchObject({
      code: ErrorCode.OutOfOrder,
    });
    await expect(order.run(HUB, `${ROOM}2`, { last: 8, after: 4 }, async () => 'x')).rejects.toMatchObject({
      code: ErrorCode.OutOfOrder,
    });
  });

  it('refuses the requests waiting behind one that failed, at once and retryably, without applying them', async () => {
    const order = new NotifyOrder();
    const log: string[] = [];
    const first = pending(log, 'first');
    const r1 = order.run(HUB, ROOM, { last: 3 }, first.apply);
    const r2 = order.run(HUB, ROOM, { last: 6, after: 3 }, async () => log.push('second'));
    const r3 = order.run(HUB, ROOM, { last: 9, after: 6 }, async () => log.push('third'));
    first.finish(new GatewayError(ErrorCode.Malformed, 'bad body'));
    await expect(r1).rejects.toMatchObject({ code: ErrorCode.Malformed });
    const refused = await r2.catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GatewayError);
    expect(refused).toMatchObject({ code: ErrorCode.OutOfOrder, retryable: true });
    await expect(r3).rejects.toMatchObject({ code: ErrorCode.OutOfOrder });
    // One that comes after the failure is refused at once too.
    await expect(order.run(HUB, ROOM, { last: 6, after: 3 }, async () => 'late')).rejects.toMatchObject({
      code: ErrorCode.OutOfOrder,
    });
    expect(log).toEqual(['start first']);
    // Sent again in order, they go through.
    await order.run(HUB, ROOM, { last: 3 }, async () => log.push('first again'));
    await order.run(HUB, ROOM, { last: 6, after: 3 }, async () => log.push('second again'));
    expect(log).toEqual(['start first', 'first again', 'second again']);
  });

  it('refuses a request whose predecessor does not come within waitMs', async () => {
    const order = new NotifyOrder();
    order.waitMs = 30;
    const started = Date.now();
    await expect(order.run(HUB, ROOM, { last: 6, after: 3 }, async () => 'never')).rejects.toMatchObject({
      code: ErrorCode.OutOfOrder,
      message: expect.stringContaining('did not come within 30 ms'),
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('lets a retried request through that waits behind the retry of the one that had failed', async () => {
    const order = new NotifyOrder();
    await expect(
      order.run(HUB, ROOM, { last: 3 }, async () => Promise.reject(new Error('database down'))),
    ).rejects.toThrow('database down');
    const log: string[] = [];
    const retry = pending(log, 'first again');
    const r1 = order.run(HUB, ROOM, { last: 3 }, retry.apply);
    const r2 = order.run(HUB, ROOM, { last: 6, after: 3 }, async () => log.push('second'));
    retry.finish();
    await Promise.all([r1, r2]);
    expect(log).toEqual(['start first again', 'end first again', 'second']);
  });
});
