/**
 * T46 (docs/RELIABILITY.md): memory and queues while two followers are down. A gateway has
 * 20 000 messages for each of three followers; two of them refuse connections throughout, the
 * third is up. The outbox must read its rows from the database a bounded batch at a time (never
 * the whole backlog into memory), show the backlog per destination in the `mimi_outbox_pending`
 * gauge (the series to alarm on), and deliver everything to the healthy follower while the others
 * are still down. The process's memory is sampled (test/support/fault-rss.ts): its peak growth
 * must stay well below the size of the backlog it holds for the two followers that are down.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type ProviderDomain, roomUri } from '../../src/common/ids';
import { MetricsRegistry } from '../../src/common/metrics';
import { OutboxRepository } from '../../src/persistence';
import type { OutboxEntry } from '../../src/persistence/repositories/outbox.repository';
import { createTestPki } from '../kits/mimi/transport-fixtures';
import { ReceivingPeer, SenderWorld } from '../support/fault-follower';
import { RssSampler, readRssKb } from '../support/fault-rss';
import { eventually } from './gateway-pair';

const SENDER = 'a.example';
const HEALTHY = 'c.example';
const DOWN = ['b.example', 'd.example'] as const;
const MESSAGES = 20_000;
const ROOMS = 10;
const BODY_BYTES = 4096;
const BATCH_SIZE = 50;
/** Rows per enqueue transaction. */
const ENQUEUE_CHUNK = 200;
/** The backlog held for the followers that are down, in kB. */
const BACKLOG_KB = (DOWN.length * MESSAGES * BODY_BYTES) / 1024;

/** A full garbage collection (V8's gc, exposed at run time): what is left is live memory. */
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Live JS memory (heap and Buffers) in kB after a full collection. */
function liveKb(): number {
  collectGarbage();
  const m = process.memoryUsage();
  return Math.round((m.heapUsed + m.external) / 1024);
}

function body(i: number): Buffer {
  const b = Buffer.alloc(BODY_BYTES, 0x2e);
  b.write(`message ${i} `);
  return b;
}

describe('T46: memory and queues while two followers are down', () => {
  let world: SenderWorld;
  let healthy: ReceivingPeer;
  const down: number[] = [];

  beforeAll(async () => {
    const pki = await createTestPki();
    world = await SenderWorld.create(pki, 'outage-memory-');
    healthy = new ReceivingPeer(pki.cByCa, pki.ca.certPem, SENDER);
    healthy.keepBodies = false;
    await healthy.start();
    // Ports that nothing listens on: connection refused.
    for (const _ of DOWN) {
      const gone = new ReceivingPeer(pki.b, pki.ca.certPem, SENDER);
      await gone.start();
      await gone.stop();
      down.push(gone.port);
    }
  });

  afterAll(async () => {
    await world.close();
    await healthy.stop();
  });

  it('reads the backlog a batch at a time, shows it per destination, serves the healthy follower, and keeps memory well below the backlog', async () => {
    const { app, tx, outbox } = await world.start(
      { [HEALTHY]: healthy.port, [DOWN[0]]: down[0]!, [DOWN[1]]: down[1]! },
      { batchSize: BATCH_SIZE, coalesceMaxMessages: 32, maxBackoffMs: 500 },
    );
    const rows = app.get(OutboxRepository);
    let largestRead = 0;
    // A plain wrapper, not jest.spyOn: a jest mock keeps every result, which would hold every
    // row read and be the very leak this test looks for.
    for (const method of ['pendingEntries', 'batchEntries'] as const) {
      const original = rows[method].bind(rows) as (...a: unknown[]) => Promise<OutboxEntry[]>;
      (rows as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
        const read = await original(...args);
        largestRead = Math.max(largestRead, read.length);
        return read;
      };
    }
    const baselineKb = readRssKb(process.pid)!;

    for (let start = 0; start < MESSAGES; start += ENQUEUE_CHUNK) {
      await tx.run((t) =>
        outbox.enqueueAll(
          t,
          Array.from({ length: ENQUEUE_CHUNK }, (_, k) => start + k).flatMap((i) =>
            [HEALTHY, ...DOWN].map((destination) => ({
              destination: destination as ProviderDomain,
              roomUri: roomUri(SENDER, `outage-${i % ROOMS}`),
              endpoint: 'notify' as const,
              body: body(i),
              idempotencyKey: `m${i}@${destination}`,
            })),
          ),
        ),
      );
    }

    // From here on the backlog is in the database: sample memory while the worker serves the
    // healthy follower and keeps retrying the two that are down.
    const enqueuedKb = readRssKb(process.pid)!;
    const liveAtEnqueuedKb = liveKb();
    const rss = new RssSampler(100);
    rss.track('gateway', () => process.pid);
    rss.start();
    // The healthy follower gets everything while the other two are still down.
    await eventually(
      () => expect(healthy.accepted().reduce((n, a) => n + a.size, 0)).toBe(MESSAGES * BODY_BYTES),
      120_000,
    );
    // Let the worker go on retrying the two that are down for a while.
    await new Promise((r) => setTimeout(r, 3000));
    rss.stop();

    const pending = await rows.pendingDepthByDestination();
    expect(Object.fromEntries(pending)).toEqual({ [HEALTHY]: 0, [DOWN[0]]: MESSAGES, [DOWN[1]]: MESSAGES });
    const metrics = await app.get(MetricsRegistry).render();
    for (const d of DOWN) expect(metrics).toContain(`mimi_outbox_pending{destination="${d}"} ${MESSAGES}`);
    expect(largestRead).toBeGreaterThan(0);
    expect(largestRead).toBeLessThanOrEqual(BATCH_SIZE);

    const [series] = rss.summary();
    const liveAtEndKb = liveKb();
    process.stdout.write(
      `T46: RSS ${baselineKb} kB before enqueueing, ${enqueuedKb} kB after; during the outage peak ${series!.peakKb} kB ` +
        `over ${series!.samples} samples, ${series!.lastKb} kB at the end; live JS memory after a full GC ` +
        `${liveAtEnqueuedKb} kB when enqueued, ${liveAtEndKb} kB at the end; ` +
        `backlog held for the down followers ${BACKLOG_KB} kB\n`,
    );
    // The backlog stays in the database: what the process keeps alive does not grow with it.
    expect(liveAtEndKb - liveAtEnqueuedKb).toBeLessThan(BACKLOG_KB / 4);
  }, 300_000);
});
