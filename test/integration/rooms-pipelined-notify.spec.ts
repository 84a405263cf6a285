/**
 * Pipelined `/notify` between two real gateways (issue 12): A hubs a room that B follows, with
 * `outbox.pipelineDepth: 4` and one message per request. A backlog of A's messages goes to B with
 * several requests of the room in flight at once, and the test delays some of them on the way, so
 * that B gets requests before the ones they follow: B (real endpoint, real NotifyOrder, real MLS)
 * still stores every message once, in A's order.
 */
import type { RoomUri } from '../../src/common/ids';
import { MimiPeerClient } from '../../src/mimi/transport';
import type { StreamOrder } from '../../src/ports';
import { NotifyOrder } from '../../src/rooms/follower/notify-order';
import { DOMAIN_B } from '../kits/mimi/transport-fixtures';
import { DATABASE_KINDS } from '../support/test-data-source';
import { ALICE_ON_A, GatewayPair, eventually, linkWithBobInvited, roomHistory } from './gateway-pair';

const CLUB = '!pipelined:a.example';
const MESSAGES = Array.from({ length: 16 }, (_v, i) => `pipelined message ${i + 1}`);
/** Long enough for the requests sent after a delayed one to reach B first. */
const DELAY_MS = 150;
const OUTBOX = {
  initialBackoffMs: 50,
  maxBackoffMs: 500,
  pollIntervalMs: 50,
  requestTimeoutMs: 10_000,
  coalesceMaxMessages: 1,
  pipelineDepth: 4,
};

describe.each(DATABASE_KINDS)('pipelined /notify to a real follower (%s)', (kind) => {
  let pair: GatewayPair;
  let roomUri: RoomUri;

  beforeAll(async () => {
    pair = await GatewayPair.start(kind, { outbox: OUTBOX });
    roomUri = await linkWithBobInvited(pair, CLUB, 'Pipelined');
  }, 60_000);

  afterAll(() => pair?.stop());

  /** The test's messages in `gw`'s stored history of the room, in its order (repeats included). */
  const texts = async (gw: GatewayPair['a']): Promise<string[]> =>
    (await roomHistory(gw, roomUri)).map((e) => String(e.content.text)).filter((t) => MESSAGES.includes(t));

  it('B stores a backlog in A order although requests reach it out of order', async () => {
    const peerOfA = pair.a.running.app.get(MimiPeerClient);
    const deliver = peerOfA.deliver.bind(peerOfA);
    let holding = true;
    let inFlight = 0;
    let maxInFlight = 0;
    const sent: StreamOrder[] = [];
    const spy = jest.spyOn(peerOfA, 'deliver').mockImplementation(async (delivery, signal) => {
      if (delivery.destination !== DOMAIN_B || delivery.endpoint !== 'notify' || delivery.roomUri !== roomUri) {
        return deliver(delivery, signal);
      }
      if (holding) return { kind: 'retry', reason: 'held by the test' };
      sent.push(delivery.streamOrder!);
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        // Every request that follows nothing unanswered is slowed down: the ones after it overtake it.
        if (delivery.streamOrder?.after === undefined) await new Promise((r) => setTimeout(r, DELAY_MS));
        return await deliver(delivery, signal);
      } finally {
        inFlight -= 1;
      }
    });
    const order = pair.b.running.app.get(NotifyOrder, { strict: false });
    const run = order.run.bind(order);
    const arrivals: (StreamOrder | undefined)[] = [];
    const arrivalSpy = jest.spyOn(order, 'run').mockImplementation((hub, room, o, apply) => {
      if (room === roomUri) arrivals.push(o);
      return run(hub, room, o, apply);
    });
    try {
      for (const text of MESSAGES) {
        await pair.a.platform.emitLocal(CLUB, ALICE_ON_A, { type: 'post', body: { kind: 'text', text } });
      }
      await eventually(async () => expect(await texts(pair.a)).toHaveLength(MESSAGES.length));
      holding = false;
      await eventually(async () => expect(await texts(pair.b)).toHaveLength(MESSAGES.length));
      expect(await texts(pair.b)).toEqual(MESSAGES);
      // Several requests were in flight at once, and B got at least one before the one it follows.
      expect(maxInFlight).toBeGreaterThan(1);
      const arrivedAt = (last: number): number => arrivals.findIndex((a) => a?.last === last);
      const overtook = arrivals.filter((a) => a?.after !== undefined && arrivedAt(a.after) > arrivedAt(a.last));
      expect(overtook.length).toBeGreaterThan(0);
      expect(sent.filter((s) => s.after !== undefined).length).toBeGreaterThan(0);
    } finally {
      spy.mockRestore();
      arrivalSpy.mockRestore();
    }
  });
});
