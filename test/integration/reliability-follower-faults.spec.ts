/**
 * T19 (docs/RELIABILITY.md): a slow-loris follower. It takes the request and then drips its
 * answer one byte at a time, so the connection is never idle: an idle or per-read timeout would
 * wait for the whole drip. The outbox must give up at its deadline for the whole response
 * (`outbox.requestTimeoutMs`), close the connection, and retry with the same bytes; the message
 * is delivered once, and no dripping connection is left open (bounded sockets, memory flat).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ProviderDomain, roomUri } from '../../src/common/ids';
import { OutboxRepository } from '../../src/persistence';
import { type TestPki, createTestPki } from '../kits/mimi/transport-fixtures';
import { type OutboxSender, ReceivingPeer, startOutboxSender } from '../support/fault-follower';
import { TestDatabase } from '../support/test-data-source';
import { eventually } from './gateway-pair';

const SENDER = 'a.example';
const FOLLOWER = 'b.example';
const ROOM = roomUri(SENDER, 'slow-loris');
const REQUEST_TIMEOUT_MS = 1000;
/** Dripped answers before the follower answers normally. */
const DRIPS = 3;

describe('T19: a follower dripping its answer (slow loris)', () => {
  let pki: TestPki;
  let dir: string;
  let db: TestDatabase;
  let peer: ReceivingPeer;
  let sender: OutboxSender | undefined;

  beforeAll(async () => {
    pki = await createTestPki();
    dir = mkdtempSync(join(tmpdir(), 'slow-follower-'));
    db = await TestDatabase.create('sqlite');
    peer = new ReceivingPeer(pki.b, pki.ca.certPem, SENDER);
    // One byte every 100 ms: a whole answer takes about ten times the request deadline.
    peer.dripIntervalMs = 100;
    await peer.start();
  });

  afterAll(async () => {
    await sender?.app.close();
    await peer.stop();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives up on a dripped answer at the request deadline, closes the connection, and delivers the same bytes once on a retry', async () => {
    expect(peer.dripDurationMs).toBeGreaterThan(5 * REQUEST_TIMEOUT_MS);
    peer.script = Array.from({ length: DRIPS }, () => 'drip' as const);
    sender = await startOutboxSender({
      dir,
      domain: SENDER,
      identity: pki.a,
      caPem: pki.ca.certPem,
      db,
      peers: { [FOLLOWER]: peer.port },
      outbox: { requestTimeoutMs: REQUEST_TIMEOUT_MS },
    });
    const body = Buffer.from('a message for a slow follower');
    await sender.tx.run((t) =>
      sender!.outbox.enqueueAll(t, [
        { destination: FOLLOWER as ProviderDomain, roomUri: ROOM, endpoint: 'notify', body, idempotencyKey: 'slow-1' },
      ]),
    );

    await eventually(() => expect(peer.accepted()).toHaveLength(1), 30_000);
    // Every dripped answer was cut by the sender before the drip could finish: a deadline on the
    // whole answer, not an idle timeout (bytes kept coming).
    expect(peer.drips).toHaveLength(DRIPS);
    for (const drip of peer.drips) {
      expect(drip.outcome).toBe('cut by the sender');
      expect(drip.bytesSent).toBeGreaterThan(0);
    }
    // The retries carried the same bytes; the follower got it once, answered 201 once.
    expect(peer.arrivals.map((a) => a.body)).toEqual(Array.from({ length: DRIPS + 1 }, () => body));
    expect(peer.arrivals.map((a) => a.status)).toEqual([...Array.from({ length: DRIPS }, () => 0), 201]);
    const row = await sender.app.get(OutboxRepository).findByIdempotencyKey('slow-1');
    expect(row).toMatchObject({ status: 'delivered', attempts: DRIPS + 1 });
    // No connection is left dripping: at most the kept-alive one of the successful request.
    await eventually(() => expect(peer.openConnections).toBeLessThanOrEqual(1));
  });
});
