/**
 * T15 (docs/RELIABILITY.md): a follower down for an hour. Gateway a.example fans 1,000 messages
 * of one room out to three mutual-TLS followers (test/support/fault-follower.ts) while one of them,
 * d.example, refuses connections (its listener is closed) for 60 minutes of a simulated clock
 * (test/support/fake-clock.ts): the outbox worker runs on that clock with the real MIMI client
 * and the real database, one message every 3.6 simulated seconds.
 *
 * Checked: the two others get every message at once and in order (nothing waits for d.example);
 * d.example's retries back off exponentially up to outbox.maxBackoffMs and each next attempt is
 * stored in the database; the backlog alarm (`mimi_outbox_backlog_alarm`) is 0 below
 * outbox.backlogAlarmAgeMs and 1 past it, for d.example only; once d.example listens again it gets
 * all 1,000 messages once each, in order, and the alarm clears.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ProviderDomain, roomUri } from '../../src/common/ids';
import { MetricsRegistry } from '../../src/common/metrics';
import { GatewayConfig } from '../../src/config/gateway-config';
import { MimiPeerClient } from '../../src/mimi/transport';
import { OutboxRepository, TransactionRunner } from '../../src/persistence';
import { OutboxBacklogMetrics } from '../../src/replication/outbox-backlog-metrics';
import { OutboxMetrics } from '../../src/replication/outbox-metrics';
import { OutboxNotifier } from '../../src/replication/outbox-notifier';
import { OutboxService } from '../../src/replication/outbox.service';
import { OutboxWorker } from '../../src/replication/outbox.worker';
import { issueProviderCertificate } from '../../registration/dev-ca';
import { LOOPBACK_IPS, type TestPki, createTestPki } from '../kits/mimi/transport-fixtures';
import { FakeClock } from '../support/fake-clock';
import { type OutboxSender, ReceivingPeer, startOutboxSender } from '../support/fault-follower';
import { CLOCK_START, bodyFor } from '../support/outbox-fixtures';
import { TestDatabase } from '../support/test-data-source';

const SENDER = 'a.example';
const UP = ['b.example', 'c.example'] as ProviderDomain[];
const DOWN = 'd.example' as ProviderDomain;
const ROOM = roomUri(SENDER, 'down-for-an-hour');
const MESSAGES = 1000;
const OUTAGE_MS = 60 * 60 * 1000;
const STEP_MS = OUTAGE_MS / MESSAGES;
const INITIAL_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 300_000;
const ALARM_AGE_MS = 15 * 60 * 1000;
/** With this jitter draw every delay is its ceiling, so the stored next attempt shows the backoff. */
const TOP_OF_RANGE = () => 1 - Number.EPSILON;

const text = (b: Uint8Array | Buffer): string => Buffer.from(b).toString('utf8');
const expected = (destination: string): string[] =>
  Array.from({ length: MESSAGES }, (_v, i) => text(bodyFor(destination, ROOM, i + 1)));

function gaugeValue(rendered: string, name: string, destination: string): number | undefined {
  const line = rendered.split('\n').find((l) => l.startsWith(`${name}{destination="${destination}"} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('T15: a follower down for an hour', () => {
  let pki: TestPki;
  let dir: string;
  let db: TestDatabase;
  let sender: OutboxSender;
  const peers = new Map<string, ReceivingPeer>();
  const identities: Record<string, { certPem: string; keyPem: string }> = {};

  beforeAll(async () => {
    pki = await createTestPki();
    Object.assign(identities, {
      'b.example': pki.b,
      'c.example': pki.cByCa,
      'd.example': await issueProviderCertificate(pki.ca, DOWN, { ipAddresses: LOOPBACK_IPS }),
    });
    for (const domain of [...UP, DOWN]) {
      const peer = new ReceivingPeer(identities[domain]!, pki.ca.certPem, SENDER);
      await peer.start();
      peers.set(domain, peer);
    }
    dir = mkdtempSync(join(tmpdir(), 'follower-down-hour-'));
    db = await TestDatabase.create('sqlite');
    sender = await startOutboxSender({
      dir,
      domain: SENDER,
      identity: pki.a,
      caPem: pki.ca.certPem,
      db,
      peers: Object.fromEntries([...peers].map(([d, p]) => [d, p.port])),
      outbox: {
        initialBackoffMs: INITIAL_BACKOFF_MS,
        maxBackoffMs: MAX_BACKOFF_MS,
        backlogAlarmAgeMs: ALARM_AGE_MS,
        requestTimeoutMs: 5000,
      },
    });
    // The application's own worker runs on the system clock: this test drives one on a fake clock.
    await sender.app.get(OutboxWorker).stop();
  });

  afterAll(async () => {
    await sender?.app.close();
    for (const peer of peers.values()) await peer.stop().catch(() => undefined);
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the others current, backs off to the cap with every next attempt stored, raises the backlog alarm, then delivers all 1,000 once in order', async () => {
    const clock = new FakeClock(CLOCK_START);
    const config = sender.app.get(GatewayConfig);
    const outbox = new OutboxRepository(sender.app.get(TransactionRunner), clock);
    const notifier = new OutboxNotifier();
    const registry = new MetricsRegistry();
    const service = new OutboxService(outbox, notifier);
    const backlog = new OutboxBacklogMetrics(config, outbox, clock, registry);
    const worker = new OutboxWorker(
      config,
      outbox,
      sender.app.get(MimiPeerClient),
      notifier,
      new OutboxMetrics(outbox, registry),
      clock,
      { owner: 'hour-test', random: TOP_OF_RANGE, autoStart: false },
    );
    const tx = sender.app.get(TransactionRunner);
    const down = peers.get(DOWN)!;
    const downPort = down.port;
    await down.stop();

    /** d.example's head row as stored: each new attempt count with the delay to its stored next attempt. */
    const storedBackoff: { attempts: number; delayMs: number }[] = [];
    const alarmAt: Record<number, number | undefined> = {};
    for (let n = 1; n <= MESSAGES; n += 1) {
      await tx.run((t) =>
        service.enqueueAll(
          t,
          [...UP, DOWN].map((destination) => ({
            destination,
            roomUri: ROOM,
            endpoint: 'notify' as const,
            body: bodyFor(destination, ROOM, n),
            idempotencyKey: `${ROOM}#${n}@${destination}`,
          })),
        ),
      );
      await worker.drainUntilIdle();
      // Nothing waits for the follower that is down: the others have everything so far.
      for (const d of UP) expect(peers.get(d)!.accepted()).toHaveLength(n);
      const head = (await outbox.findByIdempotencyKey(`${ROOM}#1@${DOWN}`))!;
      if (head.attempts > (storedBackoff.at(-1)?.attempts ?? 0)) {
        storedBackoff.push({ attempts: head.attempts, delayMs: head.nextAttemptAt - clock.now() });
      }
      if (n % 100 === 0) alarmAt[n] = gaugeValue(await registry.render(), 'mimi_outbox_backlog_alarm', DOWN);
      clock.advance(STEP_MS);
    }

    // The first attempt failed at once, then one every backoff ceiling: 0.5 s doubling to the cap.
    const ceilings = storedBackoff.map((b) => b.delayMs);
    const doubling = Array.from({ length: 10 }, (_v, i) => INITIAL_BACKOFF_MS * 2 ** i);
    expect(ceilings.slice(0, 10)).toEqual(doubling);
    expect(ceilings.slice(10).length).toBeGreaterThanOrEqual(5);
    expect(new Set(ceilings.slice(10))).toEqual(new Set([MAX_BACKOFF_MS]));
    expect(storedBackoff.map((b) => b.attempts)).toEqual(storedBackoff.map((_b, i) => i + 1));
    // Attempts while down: about 60 min / 5 min plus the ramp, not one per message.
    expect(down.arrivals).toHaveLength(0);
    // The alarm: off while the oldest row is younger than 15 minutes, on past it; never for the others.
    expect(alarmAt[100]).toBe(0); // 6 minutes
    expect(alarmAt[200]).toBe(0); // 12 minutes
    expect(alarmAt[300]).toBe(1); // 18 minutes
    expect(alarmAt[1000]).toBe(1);
    const during = await registry.render();
    for (const d of UP) expect(gaugeValue(during, 'mimi_outbox_backlog_alarm', d) ?? 0).toBe(0);
    expect(gaugeValue(during, 'mimi_outbox_oldest_pending_age_seconds', DOWN)).toBe(OUTAGE_MS / 1000);
    expect(gaugeValue(during, 'mimi_outbox_pending', DOWN)).toBe(MESSAGES);

    // Back after the hour, on the same port: at its next stored attempt it gets the whole backlog.
    const back = new ReceivingPeer(identities[DOWN]!, pki.ca.certPem, SENDER, downPort);
    await back.start();
    peers.set(DOWN, back);
    const head = (await outbox.findByIdempotencyKey(`${ROOM}#1@${DOWN}`))!;
    clock.set(head.nextAttemptAt);
    await worker.drainUntilIdle();

    expect(back.accepted().map((a) => text(a.body))).toEqual(expected(DOWN));
    expect(back.arrivals.filter((a) => a.status === 201)).toHaveLength(MESSAGES);
    for (const d of UP) {
      expect(
        peers
          .get(d)!
          .accepted()
          .map((a) => text(a.body)),
      ).toEqual(expected(d));
      expect(peers.get(d)!.arrivals).toHaveLength(MESSAGES);
    }
    const after = await registry.render();
    expect(gaugeValue(after, 'mimi_outbox_backlog_alarm', DOWN)).toBe(0);
    expect(gaugeValue(after, 'mimi_outbox_pending', DOWN)).toBe(0);
    expect((await backlog.backlog()).get(DOWN)).toEqual({ pending: 0, oldestAgeMs: 0, alarm: false });
  }, 240_000);
});
