/**
 * The soak's seed-1 duplicate (RELIABILITY T48, issue #14) with everything real: Synapse, gateway
 * A (`mimi-gateway start`, the Matrix hub) and follower B (memory platform), and a FaultProxy
 * between A and Synapse's client-server API, another between Synapse and A's appservice listener
 * (test/e2e/support/matrix-mimi-env.ts). A B user's message reaches A as a submission, which A
 * posts as the user's ghost; the proxy loses exactly the answer to that send (Synapse stored the
 * event). While A reaches no homeserver, Synapse is stopped and started again, which empties its
 * transaction-ID cache. B's follower submits again; A posts again as a retry
 * (`PostOptions.retry`), and the Matrix bridge finds the event instead of posting a second copy
 * (bridges/matrix/sent-events.ts). The echo of the event would also tell A that it was posted (and
 * complete the submission), so Synapse's pushes to A are held back until A has logged the message:
 * the echo comes late, as when Synapse restarts before pushing it (the soak's case).
 * Needs a build first: `npx nest build`.
 */
import { randomUUID } from 'node:crypto';
import { legacyUserUri } from '../../src/rooms/identity';
import type { NativeUser } from '../support/e2e-clients';
import { MEMORY_PLATFORM } from '../support/e2e-gateways';
import { waitFor } from '../support/e2e-wait';
import type { ClientEvent, MatrixUserClient } from '../servers/synapse/synapse-server';
import { storedTexts } from './support/hub-followers';
import { FOLLOWER_DOMAIN, MatrixMimiEnv, withMatrixMimiEnv } from './support/matrix-mimi-env';

const RUN = randomUUID().slice(0, 8);
const BOB: NativeUser = { userId: '@bob:b.example', displayName: 'Bob' };
const BOB_URI = legacyUserUri(FOLLOWER_DOMAIN, MEMORY_PLATFORM, BOB.userId);
const SETUP_TIMEOUT_MS = 600_000;
const STEP_TIMEOUT_MS = 300_000;
const WAIT_MS = 120_000;

describe('A ghost post whose answer was lost, posted again by `mimi-gateway start` after a Synapse restart (T48 seed 1)', () => {
  let env: MatrixMimiEnv | undefined;
  let alice: MatrixUserClient;
  let roomId: string;
  let roomUri: string;
  let mirror: string;

  beforeAll(async () => {
    env = await MatrixMimiEnv.create({ homeserverProxy: true, appserviceProxy: true });
    alice = await env.registerUser('alice');
    ({ roomId, roomUri } = await env.createLinkedRoom(alice, 'Resend'));
    await env.inviteRemote(alice, roomId, roomUri, BOB_URI);
    const e = env;
    mirror = (await waitFor(async () => (await e.b.control.rooms()).find((r) => r.roomId === `mirror:${roomUri}`), {
      what: `B's mirror room of ${roomUri}`,
    }))!.roomId;
  }, SETUP_TIMEOUT_MS);

  afterAll(() => env?.dispose(), 120_000);

  /** The room's messages with `body`, read by Alice from the end (newest 200). */
  async function eventsWithBody(body: string): Promise<ClientEvent[]> {
    const res = await alice.request<{ chunk: ClientEvent[] }>(
      'GET',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=200`,
    );
    return res.chunk.filter((x) => x.type === 'm.room.message' && x.content['body'] === body);
  }

  it(
    'the hub posts the submission again as a retry, finds the event, and the Matrix room holds it once',
    withMatrixMimiEnv(
      () => env,
      async (e) => {
        const text = `bob, answer lost over a Synapse restart ${RUN}`;
        const proxy = e.homeserverProxy!;
        const pushes = e.appserviceProxy!;
        pushes.set({ dropRate: 1 });
        pushes.cutAll();
        const lost = proxy.loseResponse(text);
        await e.b.control.say(mirror, BOB, text);
        const cut = await lost;
        expect(cut.request).toMatch(/^PUT \/_matrix\/client\/v3\/rooms\/.*\/send\/m\.room\.message\/mimi\.post\./);
        expect(cut.status).toBe(200);
        // A reaches no homeserver until Synapse has restarted: B's retries of the submission fail meanwhile.
        proxy.set({ dropRate: 1 });
        proxy.cutAll();
        await e.synapse.stop();
        await e.startSynapseAgain();
        proxy.heal();

        await waitFor(async () => storedTexts(await e.a.provisioning.events(roomUri)).includes(text), {
          timeoutMs: WAIT_MS,
          what: 'the message logged by A',
        });
        pushes.heal();
        const events = await eventsWithBody(text);
        expect(events).toHaveLength(1);
        expect(events[0]!.sender).toBe(e.ghostOf(BOB_URI));
        const txn = events[0]!.content['org.mimi_gateway.txn_id'];
        expect(txn).toEqual(expect.stringMatching(/^mimi\.post\./));
        // The retry was a search and no second send: every send of that transaction ID was before the cut.
        const sends = proxy.exchanges.filter((x) => x.request.includes(`/send/m.room.message/${String(txn)}`));
        expect(sends).toHaveLength(1);
      },
    ),
    STEP_TIMEOUT_MS,
  );
});
