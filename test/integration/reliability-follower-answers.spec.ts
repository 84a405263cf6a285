/**
 * T21 (docs/RELIABILITY.md): a follower answering a 2xx other than 201, or a 4xx. Against the
 * outbox of a real gateway over mutual TLS (test/support/fault-follower.ts), one message per
 * answer, each in its own room (its own stream):
 * - 200 and 204 count as delivered, at the first attempt;
 * - 400, 404 and 413 park the row with the status in its reason, after one attempt (no hot loop),
 *   and raise the parked series (`mimi_outbox_parked_total`, `mimi_outbox_parked`): the alert;
 * - 401 and 403 (the follower does not accept our certificate or directory yet) back off instead
 *   of parking, raise `mimi_outbox_peer_auth_failures_total`, and deliver once it accepts us.
 */
import { type ProviderDomain, roomUri } from '../../src/common/ids';
import { MetricsRegistry } from '../../src/common/metrics';
import { OutboxRepository } from '../../src/persistence';
import { createTestPki } from '../kits/mimi/transport-fixtures';
import { ReceivingPeer, SenderWorld } from '../support/fault-follower';
import { eventually } from './gateway-pair';

const SENDER = 'a.example';
const FOLLOWER = 'b.example';
const DELIVERED = [200, 204];
const PARKED = [400, 404, 413];
const AUTH = [401, 403];
/** How often a 401/403 is answered before the follower accepts us. */
const AUTH_REFUSALS = 2;

const bodyFor = (status: number): Buffer => Buffer.from(`answer ${status}`);

describe('T21: a follower answering 2xx other than 201, or 4xx', () => {
  let world: SenderWorld;
  let peer: ReceivingPeer;

  beforeAll(async () => {
    const pki = await createTestPki();
    world = await SenderWorld.create(pki, 'follower-answers-');
    peer = new ReceivingPeer(pki.b, pki.ca.certPem, SENDER);
    await peer.start();
  });

  afterAll(async () => {
    await world.close();
    await peer.stop();
  });

  it('counts 200 and 204 as delivered, parks 400/404/413 at once with the parked alert, and backs off on 401/403 until accepted', async () => {
    const refusals = new Map(AUTH.map((s) => [s, 0]));
    peer.statusFor = (body) => {
      const status = Number(/^answer (\d+)$/.exec(body.toString())?.[1]);
      if (DELIVERED.includes(status) || PARKED.includes(status)) return status;
      if (AUTH.includes(status) && refusals.get(status)! < AUTH_REFUSALS) {
        refusals.set(status, refusals.get(status)! + 1);
        return status;
      }
      return undefined;
    };
    const sender = await world.start({ [FOLLOWER]: peer.port });
    const statuses = [...DELIVERED, ...PARKED, ...AUTH];
    await sender.tx.run((t) =>
      sender.outbox.enqueueAll(
        t,
        statuses.map((status) => ({
          destination: FOLLOWER as ProviderDomain,
          roomUri: roomUri(SENDER, `answers-${status}`),
          endpoint: 'notify' as const,
          body: bodyFor(status),
          idempotencyKey: `answer-${status}`,
        })),
      ),
    );

    const rows = sender.app.get(OutboxRepository);
    const row = (status: number) => rows.findByIdempotencyKey(`answer-${status}`);
    await eventually(async () => {
      for (const s of statuses) expect((await row(s))?.status).not.toBe('pending');
    }, 20_000);
    for (const s of DELIVERED) expect(await row(s)).toMatchObject({ status: 'delivered', attempts: 1 });
    for (const s of PARKED) {
      expect(await row(s)).toMatchObject({
        status: 'parked',
        attempts: 1,
        lastError: expect.stringContaining(String(s)),
      });
      expect(peer.arrivals.filter((a) => a.body.equals(bodyFor(s)))).toHaveLength(1);
    }
    for (const s of AUTH) {
      expect(await row(s)).toMatchObject({ status: 'delivered', attempts: AUTH_REFUSALS + 1 });
    }

    const metrics = await sender.app.get(MetricsRegistry).render();
    expect(metrics).toContain(`mimi_outbox_parked{destination="${FOLLOWER}"} ${PARKED.length}`);
    expect(metrics).toMatch(new RegExp(`mimi_outbox_parked_total\\{destination="${FOLLOWER}"\\} ${PARKED.length}\\b`));
    expect(metrics).toMatch(
      new RegExp(
        `mimi_outbox_peer_auth_failures_total\\{destination="${FOLLOWER}"\\} ${AUTH.length * AUTH_REFUSALS}\\b`,
      ),
    );
  });
});
