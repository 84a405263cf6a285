import { BatchFailure, IngestBatcher, type IngestHandlers } from './ingest-batch';

/** Events are strings; `!x` is not batchable; `bad*` fail wherever they are handled. */
function harness(opts: { maxBatch?: number; commitFails?: boolean } = {}) {
  const committed: string[][] = [];
  const calls: string[] = [];
  const handlers: IngestHandlers<string> = {
    batchable: (e) => !e.startsWith('!'),
    many: async (_key, events) => {
      calls.push(`many(${events.join(',')})`);
      const bad = events.findIndex((e) => e.startsWith('bad'));
      if (bad >= 0) throw new BatchFailure(bad, new Error(`${events[bad]} is poison`));
      if (opts.commitFails) throw new Error('disk full');
      committed.push([...events]);
    },
    one: async (_key, e) => {
      calls.push(`one(${e})`);
      if (e.startsWith('bad')) throw new Error(`${e} is poison`);
      committed.push([e]);
    },
  };
  const batcher = new IngestBatcher(handlers, { maxBatch: opts.maxBatch });
  const submit = (events: readonly string[], key = 'room') =>
    Promise.allSettled(events.map((e) => batcher.submit(key, e)));
  return { batcher, committed, calls, submit };
}

const outcomes = (results: PromiseSettledResult<void>[]) =>
  results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as Error).message));

describe(IngestBatcher.name, () => {
  it('handles events handed over together in one batch, in order, and resolves each once committed', async () => {
    const h = harness();
    const results = await h.submit(['a', 'b', 'c']);
    expect(outcomes(results)).toEqual(['ok', 'ok', 'ok']);
    expect(h.committed).toEqual([['a', 'b', 'c']]);
  });

  it('does not resolve an event before its batch committed', async () => {
    let commit!: () => void;
    const committed: string[] = [];
    const batcher = new IngestBatcher<string>({
      batchable: () => true,
      many: async (_k, events) => {
        await new Promise<void>((r) => (commit = r));
        committed.push(...events);
      },
      one: async (_k, e) => void committed.push(e),
    });
    let resolved = 0;
    const all = ['a', 'b'].map((e) => batcher.submit('room', e).then(() => (resolved += 1)));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(resolved).toBe(0);
    commit();
    await Promise.all(all);
    expect(resolved).toBe(2);
    expect(committed).toEqual(['a', 'b']);
  });

  it('handles an event that is not batchable alone, in its place', async () => {
    const h = harness();
    expect(outcomes(await h.submit(['a', 'b', '!m', 'c', 'd']))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(h.committed).toEqual([['a', 'b'], ['!m'], ['c', 'd']]);
  });

  it('isolates a poison event: its neighbours are committed, it alone is refused', async () => {
    const h = harness();
    const results = await h.submit(['a', 'b', 'bad1', 'c', 'd']);
    expect(outcomes(results)).toEqual(['ok', 'ok', 'bad1 is poison', 'ok', 'ok']);
    expect(h.committed).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    expect(h.calls).toEqual(['many(a,b,bad1,c,d)', 'many(a,b)', 'one(bad1)', 'many(c,d)']);
  });

  it('isolates several poison events', async () => {
    const h = harness();
    const results = await h.submit(['bad1', 'a', 'bad2', 'b']);
    expect(outcomes(results)).toEqual(['bad1 is poison', 'ok', 'bad2 is poison', 'ok']);
    expect(h.committed.flat()).toEqual(['a', 'b']);
  });

  it('handles every event alone when the batch fails without naming one (the commit failed)', async () => {
    const h = harness({ commitFails: true });
    expect(outcomes(await h.submit(['a', 'b']))).toEqual(['ok', 'ok']);
    expect(h.calls).toEqual(['many(a,b)', 'one(a)', 'one(b)']);
    expect(h.committed).toEqual([['a'], ['b']]);
  });

  it('caps a batch at maxBatch events', async () => {
    const h = harness({ maxBatch: 2 });
    await h.submit(['a', 'b', 'c', 'd', 'e']);
    expect(h.committed).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
  });

  it('keeps one queue per key: other keys are batched separately', async () => {
    const h = harness();
    await Promise.all([h.submit(['a1', 'a2'], 'A'), h.submit(['b1', 'b2'], 'B')]);
    expect(h.committed).toEqual(
      expect.arrayContaining([
        ['a1', 'a2'],
        ['b1', 'b2'],
      ]),
    );
    expect(h.committed).toHaveLength(2);
  });

  it('batches what arrives while a batch is being committed', async () => {
    const h = harness();
    const first = h.batcher.submit('room', 'a');
    await new Promise((r) => setImmediate(r)); // the first drain has started with [a]
    const later = h.submit(['b', 'c']);
    await first;
    await later;
    await h.batcher.idle();
    expect(h.committed).toEqual([['a'], ['b', 'c']]);
  });

  it('takes an event submitted while the drain of its queue is finishing (no event is stranded)', async () => {
    // Whatever number of promise turns after the first event resolved the next one comes.
    for (let hops = 0; hops < 12; hops++) {
      const h = harness();
      await h.batcher.submit('room', 'a');
      for (let i = 0; i < hops; i++) await Promise.resolve();
      const stranded = Symbol('stranded');
      const outcome = await Promise.race([
        h.batcher.submit('room', 'b'),
        new Promise((r) => setTimeout(() => r(stranded), 200)),
      ]);
      expect({ hops, outcome }).toEqual({ hops, outcome: undefined });
    }
  });
});
