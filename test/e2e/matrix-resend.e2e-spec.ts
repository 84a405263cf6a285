/**
 * A ghost post whose answer was lost, sent again after a Synapse restart (RELIABILITY T48's seed-1
 * duplicate; issue #14), with a real Synapse (scripts/synapse.sh) and the MatrixBridge in this
 * process. A FaultProxy (test/support/fault-proxy.ts) sits between the bridge and Synapse's
 * client-server API and loses exactly the answer to the ghost's send: Synapse stores the event,
 * the bridge sees a reset. Synapse is then stopped and started again on the same data and port,
 * which empties its transaction-ID cache (an appservice sends without a device, so nothing of it
 * is persisted). The retry, with the same transaction ID, must not post a second copy: the
 * bridge looks for the event marked with that transaction ID (bridges/matrix/sent-events.ts).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MatrixBridge, type MatrixBridgeOptions } from '../../bridges/matrix/matrix.bridge';
import { txnIdFor } from '../../bridges/matrix/matrix-errors';
import { TXN_MARKER } from '../../bridges/matrix/sent-events';
import { PlatformError } from '../../src/common/errors';
import { Platform, type UserUri } from '../../src/common/ids';
import type { LegacyRoomRef, MessageAction, RemoteUser } from '../../src/ports';
import {
  type AppserviceRegistration,
  generateAppserviceRegistration,
  renderRegistrationYaml,
} from '../../registration/generate-appservice-registration';
import { loadOrCreateMatrixTokens } from '../../registration/matrix-tokens';
import { RecordingSink } from '../servers/synapse/recording-sink';
import {
  type ClientEvent,
  type MatrixUserClient,
  SYNAPSE_SCRIPT,
  registerUser,
  type SynapseServer,
} from '../servers/synapse/synapse-server';
import { freePorts } from '../support/e2e-gateways';
import { FaultProxy } from '../support/fault-proxy';

const run = promisify(execFile);
const SERVER_NAME = 'synapse.test';
const CAROL: RemoteUser = { userUri: 'mimi://follower.example/u/carol' as UserUri, displayName: 'Carol' };
const POST_TIMEOUT_MS = 15_000;

/** Synapse on `port` in `dir` (started again on the same data when it ran there before). */
async function synapseOn(dir: string, registrationFile: string, port: number, secret?: string): Promise<SynapseServer> {
  const { stdout } = await run('bash', [SYNAPSE_SCRIPT, 'start', dir, registrationFile], {
    env: {
      ...process.env,
      SYNAPSE_SERVER_NAME: SERVER_NAME,
      SYNAPSE_PORT: String(port),
      ...(secret !== undefined ? { SYNAPSE_SHARED_SECRET: secret } : {}),
    },
    timeout: 600_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return {
    url: stdout.trim().split('\n').pop()!,
    dir,
    serverName: SERVER_NAME,
    sharedSecret: readFileSync(join(dir, 'shared-secret'), 'utf8').trim(),
    stop: async () => void (await run('bash', [SYNAPSE_SCRIPT, 'stop', dir])),
  };
}

describe('A ghost post sent again after its answer was lost and Synapse restarted (real Synapse, T48 seed 1)', () => {
  let root: string;
  let synapseDir: string;
  let regFile: string;
  let reg: AppserviceRegistration;
  let port: number;
  let hs: SynapseServer;
  let proxy: FaultProxy;
  let alice: MatrixUserClient;
  let roomId: string;
  let room: LegacyRoomRef;
  const bridges: MatrixBridge[] = [];
  let seq = 0;
  const key = (): string => `mimi:resend-${Date.now()}-${++seq}`;
  const text = (t: string): MessageAction => ({ type: 'post', body: { kind: 'text', text: t } });

  async function startBridge(): Promise<MatrixBridge> {
    const opts: MatrixBridgeOptions = {
      matrix: {
        homeserverUrl: `http://127.0.0.1:${proxy.port}`,
        domain: SERVER_NAME,
        appserviceHost: '127.0.0.1',
        appservicePort: 0,
        prefix: '_mimi_',
        botLocalpart: 'mimibot',
        linkPowerLevel: 100,
      },
      registration: reg,
      listenPort: 0,
    };
    const b = new MatrixBridge(opts);
    await b.start(new RecordingSink().fn);
    bridges.push(b);
    return b;
  }

  async function restartSynapse(): Promise<void> {
    await hs.stop();
    hs = await synapseOn(synapseDir, regFile, port, hs.sharedSecret);
  }

  /** The room's timeline events carrying `body`, read by Alice (newest 200). */
  async function eventsWithBody(body: string): Promise<ClientEvent[]> {
    const res = await alice.request<{ chunk: ClientEvent[] }>(
      'GET',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=200`,
    );
    return res.chunk.filter((e) => e.type === 'm.room.message' && e.content['body'] === body);
  }

  /** Post `action` with the answer to its send lost: Synapse stored it, the bridge got a reset. */
  async function postWithLostAnswer(bridge: MatrixBridge, action: MessageAction, idempotencyKey: string) {
    const lost = proxy.loseResponse(txnIdFor('post', idempotencyKey));
    const err = await bridge
      .post(room, CAROL, action, { idempotencyKey, timeoutMs: POST_TIMEOUT_MS })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(err).toMatchObject({ retryable: true });
    expect((await lost).status).toBe(200);
  }

  beforeAll(async () => {
    const [appservicePort, synapsePort] = await freePorts(2);
    root = mkdtempSync(join(tmpdir(), 'mimi-resend-e2e-'));
    synapseDir = join(root, 'synapse');
    const { tokens } = loadOrCreateMatrixTokens(join(root, 'matrix-tokens.yaml'));
    reg = generateAppserviceRegistration(
      {
        homeserverUrl: 'http://127.0.0.1:8008',
        domain: SERVER_NAME,
        appserviceHost: '127.0.0.1',
        appservicePort: appservicePort!,
        prefix: '_mimi_',
        botLocalpart: 'mimibot',
      },
      tokens,
    );
    regFile = join(root, 'registration.yaml');
    writeFileSync(regFile, renderRegistrationYaml(reg), { mode: 0o600 });
    port = synapsePort!;
    hs = await synapseOn(synapseDir, regFile, port);
    proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port }, label: 'bridge→synapse' });
    alice = await registerUser(hs, 'alice');
    roomId = await alice.createRoom({ name: 'Resend', preset: 'public_chat' });
    room = { platform: Platform.Matrix, roomId };
  }, 600_000);

  afterAll(async () => {
    for (const b of bridges) await b.stop();
    await proxy?.close();
    await hs?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  }, 120_000);

  it('Synapse forgets an appservice transaction ID over a restart: the same PUT after it is a second event', async () => {
    // The fault itself, without the bridge: why the bridge must look before sending again.
    const bridge = await startBridge();
    await bridge.post(room, CAROL, text('warm up'), { idempotencyKey: key(), timeoutMs: POST_TIMEOUT_MS });
    const ghost = bridge.ids.ghostUserId(CAROL.userUri)!;
    const put = async (): Promise<string> => {
      const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/raw-txn-${seq}`;
      const res = await fetch(`${hs.url}${path}?user_id=${encodeURIComponent(ghost)}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${reg.as_token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ msgtype: 'm.text', body: `raw ${seq}` }),
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { event_id: string }).event_id;
    };
    const first = await put();
    expect(await put()).toBe(first); // de-duplicated while Synapse runs
    await restartSynapse();
    expect(await put()).not.toBe(first);
    expect(await eventsWithBody(`raw ${seq}`)).toHaveLength(2);
  }, 300_000);

  it('the same bridge retries: it finds the event the lost answer was about, and the room holds it once', async () => {
    const bridge = await startBridge();
    const k = key();
    const body = `lost answer ${k}`;
    await postWithLostAnswer(bridge, text(body), k);
    await restartSynapse();

    const again = await bridge.post(room, CAROL, text(body), { idempotencyKey: k, timeoutMs: POST_TIMEOUT_MS });
    const events = await eventsWithBody(body);
    expect(events.map((e) => e.event_id)).toEqual([again.platformEventId]);
    expect(events[0]!.content[TXN_MARKER]).toBe(txnIdFor('post', k));
    expect(again.echoKeys).toEqual([txnIdFor('post', k)]);
  }, 300_000);

  it('a restarted gateway retries (PostOptions.retry): it finds the event too, and the room holds it once', async () => {
    const before = await startBridge();
    const k = key();
    const body = `lost answer, gateway restarted ${k}`;
    await postWithLostAnswer(before, text(body), k);
    await before.stop();
    await restartSynapse();

    const after = await startBridge();
    const again = await after.post(room, CAROL, text(body), {
      idempotencyKey: k,
      timeoutMs: POST_TIMEOUT_MS,
      retry: true,
    });
    expect((await eventsWithBody(body)).map((e) => e.event_id)).toEqual([again.platformEventId]);
  }, 300_000);
});
