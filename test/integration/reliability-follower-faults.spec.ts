/**
 * A follower that misbehaves on the wire (docs/RELIABILITY.md T18, T19, T20), against the outbox
 * of a real gateway over mutual TLS (test/support/fault-follower.ts):
 * - T19, slow loris: it takes the request and drips its answer one byte at a time, so the
 *   connection is never idle and an idle or per-read timeout would wait for the whole drip;
 * - T18, hang: it takes the request and never answers;
 * - T20: it resets the connection once it has the request, or cuts its answer halfway.
 * Each time the outcome is unknown to the sender: it must give up at its deadline for the whole
 * response (`outbox.requestTimeoutMs`), close the connection, and send the same bytes again; the
 * follower keeps one copy, and no connection of a failed attempt stays open (bounded sockets).
 */
import { type ProviderDomain, roomUri } from '../../src/common/ids';
import { OutboxRepository } from '../../src/persistence';
import { type TestPki, createTestPki } from '../kits/mimi/transport-fixtures';
import { type PeerMode, ReceivingPeer, SenderWorld } from '../support/fault-follower';
import { eventually } from './gateway-pair';

const SENDER = 'a.example';
const FOLLOWER = 'b.example';
const ROOM = roomUri(SENDER, 'follower-faults');
const REQUEST_TIMEOUT_MS = 1000;
const BODY = Buffer.from('a message for a misbehaving follower');

describe('a follower misbehaving on the wire (T18, T19, T20)', () => {
  let pki: TestPki;
  let world: SenderWorld;
  let peer: ReceivingPeer;

  beforeAll(async () => {
    pki = await createTestPki();
  });

  beforeEach(async () => {
    world = await SenderWorld.create(pki, 'follower-faults-');
    peer = new ReceivingPeer(pki.b, pki.ca.certPem, SENDER);
    // One byte every 100 ms: a whole dripped answer takes about ten times the request deadline.
    peer.dripIntervalMs = 100;
    await peer.start();
  });

  afterEach(async () => {
    await world.close();
    await peer.stop();
  });

  /** Send one message to a follower answering its first requests as `script` says; its row once delivered. */
  async function deliverThrough(script: PeerMode[]): Promise<{ status: string; attempts: number }> {
    peer.script = [...script];
    const sender = await world.start({ [FOLLOWER]: peer.port }, { requestTimeoutMs: REQUEST_TIMEOUT_MS });
    const message = { destination: FOLLOWER as ProviderDomain, roomUri: ROOM, endpoint: 'notify' as const, body: BODY };
    await sender.tx.run((t) => sender.outbox.enqueueAll(t, [{ ...message, idempotencyKey: 'faults-1' }]));
    await eventually(() => expect(peer.accepted()).toHaveLength(1), 30_000);
    // The same bytes every time; no complete answer until the last, a 201, kept once.
    expect(peer.arrivals.map((a) => a.body)).toEqual(Array.from({ length: script.length + 1 }, () => BODY));
    expect(peer.arrivals.map((a) => a.status)).toEqual([...script.map(() => 0), 201]);
    // No connection of a failed attempt is left open: at most the kept-alive one of the last.
    await eventually(() => expect(peer.openConnections).toBeLessThanOrEqual(1));
    const rows = sender.app.get(OutboxRepository);
    return eventually(async () => {
      const row = await rows.findByIdempotencyKey('faults-1');
      expect(row?.status).toBe('delivered');
      return { status: row!.status, attempts: row!.attempts };
    });
  }

  it('gives up on a dripped answer at the request deadline, closes the connection, and delivers the same bytes once on a retry', async () => {
    expect(peer.dripDurationMs).toBeGreaterThan(5 * REQUEST_TIMEOUT_MS);
    const drips = 3;
    const row = await deliverThrough(Array.from({ length: drips }, () => 'drip' as const));
    // Every dripped answer was cut by the sender before the drip could finish: a deadline on the
    // whole answer, not an idle timeout (bytes kept coming).
    expect(peer.drips).toHaveLength(drips);
    for (const drip of peer.drips) {
      expect(drip.outcome).toBe('cut by the sender');
      expect(drip.bytesSent).toBeGreaterThan(0);
    }
    expect(row).toEqual({ status: 'delivered', attempts: drips + 1 });
  });

  it('closes the connection of every attempt a hanging follower never answers, and delivers once it answers', async () => {
    const row = await deliverThrough(['hang', 'hang', 'hang']);
    expect(row).toEqual({ status: 'delivered', attempts: 4 });
  });

  it('sends the identical bytes again after a reset and after an answer cut halfway; the follower keeps one copy', async () => {
    const row = await deliverThrough(['reset', 'truncate']);
    expect(row).toEqual({ status: 'delivered', attempts: 3 });
  });
});
