import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INestApplicationContext } from '@nestjs/common';
import { ProviderDomain, RoomUri, roomUri } from '../../src/common/ids';
import { createTestPki, TestPki } from '../kits/mimi/transport-fixtures';
import { OutboxRepository, TransactionRunner } from '../../src/persistence';
import { OutboxStatus } from '../../src/persistence/repositories/outbox.repository';
import { OutboxService } from '../../src/replication';
import { ReceivingPeer, startOutboxSender } from '../support/fault-follower';
import { DATABASE_KINDS, TestDatabase } from '../support/test-data-source';

/**
 * The outbox against a REAL mutual-TLS peer on loopback (issue #2, "Done means"): the receiving
 * peer is down, then answers 500, then 503 with Retry-After, then comes back. Every message
 * arrives once, in order per room, byte-identical; another destination is not held back.
 */
const SENDER = 'a.example';
const SLOW_PEER = 'b.example';
const HEALTHY_PEER = 'c.example';
const ROOM_1 = roomUri(SENDER, 'outbox-room-1');
const ROOM_2 = roomUri(SENDER, 'outbox-room-2');
const RETRY_AFTER_SECONDS = ReceivingPeer.RETRY_AFTER_SECONDS;

/** Poll `probe` until it returns a value. */
async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  await eventually(async () => (check() ? true : undefined), what, timeoutMs);
}

function message(room: RoomUri, i: number): Buffer {
  return Buffer.from(`fanout ${room} #${String(i).padStart(4, '0')}`);
}

describe.each(DATABASE_KINDS)('outbox over mutual TLS (%s)', (kind) => {
  let pki: TestPki;
  let dir: string;
  let db: TestDatabase;
  let slow: ReceivingPeer;
  let healthy: ReceivingPeer;
  let app: INestApplicationContext | undefined;

  beforeAll(async () => {
    pki = await createTestPki();
  });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'outbox-mtls-'));
    db = await TestDatabase.create(kind);
    slow = new ReceivingPeer(pki.b, pki.ca.certPem, SENDER);
    healthy = new ReceivingPeer(pki.cByCa, pki.ca.certPem, SENDER);
    await slow.start();
    await healthy.start();
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    await slow.stop();
    await healthy.stop();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function startSender(): Promise<{ tx: TransactionRunner; outbox: OutboxService }> {
    const sender = await startOutboxSender({
      dir,
      domain: SENDER,
      identity: pki.a,
      caPem: pki.ca.certPem,
      db,
      peers: { [SLOW_PEER]: slow.port, [HEALTHY_PEER]: healthy.port },
    });
    app = sender.app;
    return sender;
  }

  it('delivers every message once, in order, byte-identical, through down / 500 / 503 Retry-After / back', async () => {
    await slow.stop(); // the peer is down when the messages are written
    const { tx, outbox } = await startSender();
    const perRoom = 15;
    for (let i = 0; i < perRoom; i += 1) {
      await tx.run((t) =>
        outbox.enqueueAll(t, [
          {
            destination: SLOW_PEER as ProviderDomain,
            roomUri: ROOM_1,
            endpoint: 'notify',
            body: message(ROOM_1, i),
            idempotencyKey: `r1-${i}@b`,
          },
          {
            destination: SLOW_PEER as ProviderDomain,
            roomUri: ROOM_2,
            endpoint: 'notify',
            body: message(ROOM_2, i),
            idempotencyKey: `r2-${i}@b`,
          },
          {
            destination: HEALTHY_PEER as ProviderDomain,
            roomUri: ROOM_1,
            endpoint: 'notify',
            body: message(ROOM_1, i),
            idempotencyKey: `r1-${i}@c`,
          },
        ]),
      );
    }

    // The healthy destination is served while the other is down; the down one was tried (its
    // connection refused) and its messages wait, neither delivered nor parked.
    await waitFor(() => healthy.accepted().length === perRoom, 10_000, 'the healthy peer');
    const rows = app!.get(OutboxRepository);
    for (const key of ['r1-0@b', 'r2-0@b']) {
      const tried = await eventually(async () => {
        const row = await rows.findByIdempotencyKey(key);
        return row !== undefined && row.attempts >= 1 ? row : undefined;
      }, `an attempt at ${key}`);
      expect(tried).toMatchObject({ status: OutboxStatus.Pending, deliveredAt: null, lastError: expect.any(String) });
    }

    // The slow peer comes back answering 500 twice, then 503 with Retry-After, then normally.
    slow.script = ['error500', 'error500', 'busy503'];
    await slow.start();
    await waitFor(() => slow.accepted().length === 2 * perRoom, 20_000, 'the recovered peer');

    const accepted = slow.accepted();
    for (const room of [ROOM_1, ROOM_2]) {
      const bodies = accepted.filter((a) => a.body.toString().startsWith(`fanout ${room} `)).map((a) => a.body);
      expect(bodies).toEqual(Array.from({ length: perRoom }, (_, i) => message(room, i)));
    }
    // Retries carried the identical bytes: every body the peer saw is one that was enqueued.
    const enqueued = new Set(
      [ROOM_1, ROOM_2].flatMap((r) => Array.from({ length: perRoom }, (_, i) => message(r, i).toString())),
    );
    expect(slow.arrivals.every((a) => enqueued.has(a.body.toString()))).toBe(true);
    expect(slow.arrivals.length).toBeGreaterThanOrEqual(2 * perRoom + 3);
    // Every request came over mutual TLS as the sender, with From naming it, to the room's notify path.
    expect(slow.arrivals.every((a) => a.clientIsSender && a.from === `mimi@${SENDER}`)).toBe(true);
    expect(slow.arrivals[0]!.url).toMatch(/^\/notify\/mimi%3A%2F%2Fa\.example%2Fr%2Foutbox-room-/);
    // Retry-After was honoured: the stream that got the 503 waited at least that long.
    const busyIndex = slow.arrivals.findIndex((a) => a.status === 503);
    const busy = slow.arrivals[busyIndex]!;
    const nextOnStream = slow.arrivals.slice(busyIndex + 1).find((a) => a.url === busy.url)!;
    expect(nextOnStream.at - busy.answeredAt!).toBeGreaterThanOrEqual(RETRY_AFTER_SECONDS * 1000 - 50);
  });

  it('parks a message the peer rejects permanently and delivers the rest of the stream', async () => {
    const { tx, outbox } = await startSender();
    const bad = Buffer.from('a body the peer cannot parse');
    slow.rejectBody = (body) => body.equals(bad);
    const good = [message(ROOM_1, 1), message(ROOM_1, 2)];
    await tx.run((t) =>
      outbox.enqueueAll(t, [
        {
          destination: SLOW_PEER as ProviderDomain,
          roomUri: ROOM_1,
          endpoint: 'notify',
          body: good[0]!,
          idempotencyKey: 'p-1',
        },
        {
          destination: SLOW_PEER as ProviderDomain,
          roomUri: ROOM_1,
          endpoint: 'notify',
          body: bad,
          idempotencyKey: 'p-bad',
        },
        {
          destination: SLOW_PEER as ProviderDomain,
          roomUri: ROOM_1,
          endpoint: 'notify',
          body: good[1]!,
          idempotencyKey: 'p-2',
        },
      ]),
    );
    await waitFor(() => slow.accepted().length === 2, 10_000, 'the good messages');
    expect(slow.accepted().map((a) => a.body)).toEqual(good);
    expect(slow.arrivals.filter((a) => a.body.equals(bad))).toHaveLength(1);
    const parked = await outbox.listParked({ limit: 10 });
    expect(parked.map((p) => p.idempotencyKey)).toEqual(['p-bad']);
    expect(parked[0]!.lastError).toMatch(/400/);
  });
});
