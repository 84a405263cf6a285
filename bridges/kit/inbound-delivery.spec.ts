import { Logger } from '@nestjs/common';
import { Platform } from '../../src/common/ids';
import type { InboundEvent } from '../../src/ports';
import { InboundDelivery, type InboundDeliveryOptions, PoisonLedger } from './inbound-delivery';

const event = (id: string): InboundEvent => ({
  kind: 'roomMetadata',
  room: { platform: Platform.Xmpp, roomId: 'room@muc' },
  platformEventId: id,
  timestamp: 0,
  name: id,
});

/** A queue with 1 ms backoff on real timers; `opts` overrides. */
const newDelivery = (opts: Partial<InboundDeliveryOptions> = {}): InboundDelivery =>
  new InboundDelivery({
    name: 'test',
    retryAttempts: 1,
    retryInitialMs: 1,
    later: (ms, fn) => void setTimeout(fn, ms),
    stopping: () => false,
    ...opts,
  });

function delivery(refuse: (id: string, attempt: number) => boolean, retryAttempts = 2) {
  const recorded: string[] = [];
  const tries = new Map<string, number>();
  const d = newDelivery({ retryAttempts });
  d.open(async (e) => {
    const n = (tries.get(e.platformEventId) ?? 0) + 1;
    tries.set(e.platformEventId, n);
    if (refuse(e.platformEventId, n)) throw new Error(`bad ${e.platformEventId}`);
    recorded.push(e.platformEventId);
  });
  return { d, recorded, tries };
}

const settle = () => new Promise((r) => setTimeout(r, 50));

describe(InboundDelivery.name, () => {
  it('delivers in queue order and reports each batch', async () => {
    const { d, recorded } = delivery(() => false);
    const done: boolean[] = [];
    d.deliver('a', [event('1'), event('2')], { done: (ok) => done.push(ok) });
    d.deliver('a', [event('3')], { done: (ok) => done.push(ok) });
    await d.drain();
    expect(recorded).toEqual(['1', '2', '3']);
    expect(done).toEqual([true, true]);
  });

  it('retries a refused event in its place: the later events of its room wait, and it says when it got through', async () => {
    // A database outage: '1' is refused for a while; '2' comes meanwhile (T48: "soak R1 bob 15" was
    // recorded before "bob 14" when each retried on its own).
    const { d, recorded, tries } = delivery((id, n) => id === '1' && n <= 2, 3);
    const recovered: string[] = [];
    const done: boolean[] = [];
    d.deliver('a', [event('1')], {
      recovered: (e) => recovered.push(e.platformEventId),
      done: (ok) => done.push(ok),
    });
    await new Promise((r) => setImmediate(r));
    d.deliver('a', [event('2')]);
    d.deliver('b', [event('other')]);
    await settle();
    expect(recorded).toEqual(['other', '1', '2']);
    expect(tries.get('2')).toBe(1);
    expect(recovered).toEqual(['1']);
    expect(done).toEqual([true]);
  });

  it('keeps the later events waiting while a retry is on its way to the core', async () => {
    const recorded: string[] = [];
    let attempts1 = 0;
    let failRetry!: () => void;
    const retryFails = new Promise<void>((r) => (failRetry = r));
    const d = newDelivery({ retryAttempts: 3 });
    d.open(async (e) => {
      if (e.platformEventId === '1') {
        attempts1 += 1;
        if (attempts1 === 1) throw new Error('database down');
        if (attempts1 === 2) {
          await retryFails;
          throw new Error('still down');
        }
      }
      recorded.push(e.platformEventId);
    });
    d.deliver('a', [event('1')]);
    while (attempts1 < 2) await new Promise((r) => setTimeout(r, 1));
    d.deliver('a', [event('2')]);
    await new Promise((r) => setTimeout(r, 5));
    failRetry();
    await settle();
    expect(recorded).toEqual(['1', '2']);
  });

  it('lets the room go on once the refused event is parked', async () => {
    const { d, recorded } = delivery((id) => id === 'bad', 1);
    d.deliver('a', [event('bad')]);
    await new Promise((r) => setImmediate(r));
    d.deliver('a', [event('next')]);
    await settle();
    expect(recorded).toEqual(['next']);
    expect(d.parked.get('bad')).toMatchObject({ attempts: 2 });
  });

  it('drain wakes a waiting retry and a stopping bridge leaves it to the platform', async () => {
    let stopping = false;
    const d = new InboundDelivery({
      name: 'test',
      retryAttempts: 5,
      retryInitialMs: 60_000,
      later: () => undefined, // a stopped bridge's cancelled timer: never fires
      stopping: () => stopping,
    });
    d.open(() => Promise.reject(new Error('database down')));
    const done: boolean[] = [];
    d.deliver('a', [event('1')], { done: (ok) => done.push(ok) });
    await new Promise((r) => setImmediate(r));
    stopping = true;
    await d.drain();
    expect(done).toEqual([false]);
  });

  it('parks a poison event alone with its reason; the queue goes on', async () => {
    const { d, recorded, tries } = delivery((id) => id === 'bad', 2);
    d.deliver('a', [event('bad'), event('ok1')]);
    await settle();
    d.deliver('a', [event('ok2')]);
    await settle();
    expect(recorded).toEqual(['ok1', 'ok2']);
    expect(tries.get('bad')).toBe(3);
    expect(d.parked.get('bad')).toMatchObject({ room: 'a', attempts: 3, reason: 'bad bad' });
  });
});

describe(`${InboundDelivery.name} with a batching sink`, () => {
  it('hands a burst to the sink without waiting between events, and reports it only once all are recorded', async () => {
    const handed: string[] = [];
    let commit!: () => void;
    const committed = new Promise<void>((r) => (commit = r));
    const d = newDelivery();
    d.open((e) => {
      handed.push(e.platformEventId);
      return committed;
    });
    const done: boolean[] = [];
    d.deliver('a', [event('1'), event('2')], { done: (ok) => done.push(ok) });
    d.deliver('a', [event('3')], { done: (ok) => done.push(ok) });
    await settle();
    expect(handed).toEqual(['1', '2', '3']);
    expect(done).toEqual([]);
    commit();
    await d.drain();
    expect(done).toEqual([true, true]);
  });
});

describe(PoisonLedger.name, () => {
  it('parks after maxAttempts failures and forgets an event once it succeeded', () => {
    const ledger = new PoisonLedger(2, new Logger('test'));
    expect(ledger.failed('r', '$1', 'x')).toBe('retry');
    ledger.succeeded('$1');
    expect(ledger.failed('r', '$1', 'x')).toBe('retry');
    expect(ledger.failed('r', '$1', 'y')).toBe('parked');
    expect(ledger.parked.get('$1')?.reason).toBe('y');
    expect(ledger.attempts('$1')).toBe(0);
  });
});
