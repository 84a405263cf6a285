import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { MatrixBridge } from '../../bridges/matrix/matrix.bridge';
import { Platform } from '../../src/common/ids';
import {
  type AppserviceRegistration,
  generateAppserviceRegistration,
  renderRegistrationYaml,
} from '../../registration/generate-appservice-registration';
import { loadOrCreateMatrixTokens } from '../../registration/matrix-tokens';
import { type ContractSubject, describePlatformBridgeContract } from '../contract/platform-bridge.contract';
import {
  type MatrixUserClient,
  registerUser,
  startSynapse,
  type SynapseServer,
} from '../servers/synapse/synapse-server';
import { freePorts } from '../support/e2e-gateways';

/**
 * The port contract (test/contract) against a real Synapse: one homeserver for the file, a fresh
 * bridge and a fresh room (alice owner, bob member, the bot at power 100) for every contract test.
 */

const SERVER_NAME = 'synapse.test';
let dir: string;
let hs: SynapseServer;
let reg: AppserviceRegistration;
let asPort: number;
let alice: MatrixUserClient;
let bob: MatrixUserClient;

beforeAll(async () => {
  Logger.overrideLogger(false);
  dir = mkdtempSync(join(tmpdir(), 'mimi-matrix-contract-'));
  [asPort] = (await freePorts(1)) as [number];
  const { tokens } = loadOrCreateMatrixTokens(join(dir, 'matrix-tokens.yaml'));
  reg = generateAppserviceRegistration(
    {
      homeserverUrl: 'http://127.0.0.1:8008',
      domain: SERVER_NAME,
      appserviceHost: '127.0.0.1',
      appservicePort: asPort,
      prefix: '_mimi_',
      botLocalpart: 'mimibot',
    },
    tokens,
  );
  const regFile = join(dir, 'registration.yaml');
  writeFileSync(regFile, renderRegistrationYaml(reg), { mode: 0o600 });
  hs = await startSynapse({ registrationFile: regFile, serverName: SERVER_NAME });
  alice = await registerUser(hs, 'alice');
  bob = await registerUser(hs, 'bob');
  // Every contract test creates a room: lift alice's rate limits (room creation is limited).
  const admin = await registerUser(hs, 'root', true);
  await admin.request('POST', `/_synapse/admin/v1/users/${encodeURIComponent(alice.userId)}/override_ratelimit`, {
    messages_per_second: 0,
    burst_count: 0,
  });
}, 600_000);

afterAll(async () => {
  await hs?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describePlatformBridgeContract({
  name: 'MatrixBridge (Synapse)',
  capabilities: { puppetMembership: true, moderation: true, roles: true, mirrorRooms: true, joinRules: true },
  waitMs: 20_000,
  async start(sink) {
    const bridge = new MatrixBridge({
      matrix: {
        homeserverUrl: hs.url,
        domain: SERVER_NAME,
        appserviceHost: '127.0.0.1',
        appservicePort: asPort,
        prefix: '_mimi_',
        botLocalpart: 'mimibot',
        linkPowerLevel: 100,
      },
      registration: reg,
      sdkLogLevel: 'error',
    });
    await bridge.start(sink);
    try {
      return await openRoom(bridge);
    } catch (e) {
      await bridge.stop();
      throw e;
    }
  },
});

/** A room alice owns, with bob and the bot (power 100) in it. */
async function openRoom(bridge: MatrixBridge): Promise<ContractSubject> {
  const bot = bridge.ids.botUserId;
  const roomId = await alice.createRoom({
    preset: 'private_chat',
    invite: [bot, bob.userId],
    // Room version 12: the creator's power is implicit and may not be listed.
    power_level_content_override: { users: { [bot]: 100 } },
  });
  await bob.join(roomId);
  await alice.waitForEvent(
    (e) =>
      e.room_id === roomId && e.type === 'm.room.member' && e.state_key === bot && e.content['membership'] === 'join',
  );
  return {
    bridge,
    room: { platform: Platform.Matrix, roomId },
    joinRule: 'invite',
    native: { platform: Platform.Matrix, userId: alice.userId },
    other: { platform: Platform.Matrix, userId: bob.userId },
    nativePost: async (text) => void (await alice.sendText(roomId, text)),
    // A successful ping makes Synapse retry the transactions it holds at once.
    redeliver: async () => {
      const res = await fetch(`${hs.url}/_matrix/client/v1/appservice/${encodeURIComponent(reg.id)}/ping`, {
        method: 'POST',
        headers: { authorization: `Bearer ${reg.as_token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ transaction_id: `contract-${Date.now()}` }),
      });
      await res.arrayBuffer();
    },
    texts: async () => {
      const res = await alice.request<{ chunk: { type: string; content: Record<string, unknown> }[] }>(
        'GET',
        `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=200`,
      );
      return res.chunk.filter((e) => e.type === 'm.room.message').map((e) => String(e.content['body']));
    },
    stop: () => bridge.stop(),
  };
}
