/**
 * What the search before a retried ghost send costs (issue #14; bridges/matrix/sent-events.ts),
 * against a real Synapse:
 *
 *   npx ts-node --transpile-only -P tsconfig.jest.json test/servers/synapse/matrix-resend.bench.ts [--posts N]
 *
 * Three rows, measured in the same run, one post at a time into one room by one ghost:
 * 1. "first attempt" (the baseline): a post with no earlier attempt, one PUT /send;
 * 2. "retry, not sent before": `PostOptions.retry` on a key never sent: the search (one filtered
 *    GET /messages) and then the PUT;
 * 3. "retry, found": the posts of row 2 again from a fresh bridge (nothing in memory) with
 *    `retry`: the search only, which finds each event (checked: the same event IDs).
 * Synapse is restarted before row 3 (it forgets the transaction IDs), so a search that missed
 * would post again under a new event ID, which the check catches. N is at most 100
 * (SENT_LOOKUP_LIMIT: the search reads the ghost's latest 100 events, so row 2's are in reach).
 * Latency percentiles and posts per second; the machine's load average is printed with them.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Logger } from '@nestjs/common';
import { MatrixBridge } from '../../../bridges/matrix/matrix.bridge';
import { SENT_LOOKUP_LIMIT } from '../../../bridges/matrix/sent-events';
import {
  generateAppserviceRegistration,
  renderRegistrationYaml,
} from '../../../registration/generate-appservice-registration';
import { loadOrCreateMatrixTokens } from '../../../registration/matrix-tokens';
import { Platform, type UserUri } from '../../../src/common/ids';
import type { LegacyRoomRef, PostOptions, RemoteUser } from '../../../src/ports';
import { formatTable, numberArg, percentile } from '../../bench/bench-support';
import { freePorts } from '../../support/e2e-gateways';
import { SYNAPSE_SCRIPT, type SynapseServer, registerUser, startSynapse } from './synapse-server';

const SERVER_NAME = 'synapse.test';
const CAROL: RemoteUser = { userUri: 'mimi://follower.example/u/carol' as UserUri, displayName: 'Carol' };

/** Post `keys` one at a time; the latency of each (ms) and the wall time (s). */
async function timed(
  bridge: MatrixBridge,
  room: LegacyRoomRef,
  keys: readonly string[],
  extra: Partial<PostOptions>,
): Promise<{ ms: number[]; secs: number; eventIds: string[] }> {
  const ms: number[] = [];
  const eventIds: string[] = [];
  const t0 = performance.now();
  for (const k of keys) {
    const t = performance.now();
    const action = { type: 'post' as const, body: { kind: 'text' as const, text: k } };
    const result = await bridge.post(room, CAROL, action, { idempotencyKey: k, timeoutMs: 30_000, ...extra });
    ms.push(performance.now() - t);
    eventIds.push(result.platformEventId);
  }
  return { ms: ms.sort((a, b) => a - b), secs: (performance.now() - t0) / 1000, eventIds };
}

/** Stop Synapse and start it again on the same folder, data, port and shared secret. */
async function restart(hs: SynapseServer, registrationFile: string): Promise<void> {
  const run = promisify(execFile);
  await run('bash', [SYNAPSE_SCRIPT, 'stop', hs.dir]);
  await run('bash', [SYNAPSE_SCRIPT, 'start', hs.dir, registrationFile], {
    env: {
      ...process.env,
      SYNAPSE_SERVER_NAME: SERVER_NAME,
      SYNAPSE_PORT: new URL(hs.url).port,
      SYNAPSE_SHARED_SECRET: hs.sharedSecret,
    },
    timeout: 600_000,
  });
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error']);
  const posts = numberArg('posts', SENT_LOOKUP_LIMIT);
  if (posts > SENT_LOOKUP_LIMIT) throw new Error(`--posts: at most ${SENT_LOOKUP_LIMIT}`);
  const dir = mkdtempSync(join(tmpdir(), 'mimi-resend-bench-'));
  const [asPort] = await freePorts(1);
  const { tokens } = loadOrCreateMatrixTokens(join(dir, 'tokens.yaml'));
  const matrix = {
    homeserverUrl: 'http://127.0.0.1:8008',
    domain: SERVER_NAME,
    appserviceHost: '127.0.0.1',
    appservicePort: asPort!,
    prefix: '_mimi_',
    botLocalpart: 'mimibot',
  };
  const reg = generateAppserviceRegistration(matrix, tokens);
  writeFileSync(join(dir, 'registration.yaml'), renderRegistrationYaml(reg));
  const hs = await startSynapse({ registrationFile: join(dir, 'registration.yaml'), serverName: SERVER_NAME });
  const options = { matrix: { ...matrix, homeserverUrl: hs.url, linkPowerLevel: 100 }, registration: reg };
  const bridge = new MatrixBridge(options);
  const fresh = new MatrixBridge({ ...options, listenPort: 0 });
  try {
    await bridge.start(async () => undefined);
    await fresh.start(async () => undefined);
    const alice = await registerUser(hs, 'alice');
    const room: LegacyRoomRef = {
      platform: Platform.Matrix,
      roomId: await alice.createRoom({ preset: 'public_chat' }),
    };
    await timed(bridge, room, ['warm-up'], {});
    const firsts = Array.from({ length: posts }, (_, i) => `first-${i}`);
    const unsent = Array.from({ length: posts }, (_, i) => `unsent-${i}`);
    const first = await timed(bridge, room, firsts, {});
    const notSent = await timed(bridge, room, unsent, { retry: true });
    await restart(hs, join(dir, 'registration.yaml'));
    const found = await timed(fresh, room, unsent, { retry: true });
    if (found.eventIds.join() !== notSent.eventIds.join()) throw new Error('a retry did not find its event');
    const rows = [
      ['first attempt (baseline)', first],
      ['retry, not sent before', notSent],
      ['retry, found', found],
    ] as const;
    const f = (n: number): string => n.toFixed(1);
    process.stdout.write(
      `matrix ghost posts against Synapse, ${posts} per row, one at a time; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}\n` +
        formatTable(
          ['row', 'posts/s', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'],
          rows.map(([name, r]) => [
            name,
            f(posts / r.secs),
            f(percentile(r.ms, 0.5)),
            f(percentile(r.ms, 0.95)),
            f(percentile(r.ms, 0.99)),
            f(r.ms[r.ms.length - 1]!),
          ]),
          (i) => i > 0,
        ) +
        '\n',
    );
  } finally {
    await fresh.stop();
    await bridge.stop();
    await hs.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
