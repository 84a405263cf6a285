/**
 * Events per second through the Matrix bridge, appservice transaction → sink:
 *
 *   npx ts-node --transpile-only -P tsconfig.jest.json test/servers/synapse/matrix-throughput.bench.ts [MESSAGES]
 *
 * 1. "synapse": Matrix users send MESSAGES messages through a real Synapse (4 senders in parallel);
 *    the time runs from the first send to the last event recorded by the sink.
 * 2. "direct": the same number of events PUT straight to the appservice endpoint in transactions of
 *    100 (Synapse's maximum), measuring the bridge alone (auth, parsing, mapping, HTML → Markdown).
 * The sink appends each event to a file and fsyncs it, as a durable store would.
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { MatrixBridge } from '../../../bridges/matrix/matrix.bridge';
import {
  generateAppserviceRegistration,
  renderRegistrationYaml,
} from '../../../registration/generate-appservice-registration';
import { loadOrCreateMatrixTokens } from '../../../registration/matrix-tokens';
import type { InboundEvent } from '../../../src/ports';
import { putTransaction, registerUser, startSynapse } from './synapse-server';

const SERVER_NAME = 'synapse.test';
const SENDERS = 4;
const TXN_SIZE = 100;

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error']);
  const total = Number(process.argv[2] ?? '1000');
  const dir = mkdtempSync(join(tmpdir(), 'mimi-matrix-bench-'));
  const asPort = await freePort();
  const { tokens } = loadOrCreateMatrixTokens(join(dir, 'tokens.yaml'));
  const matrix = {
    homeserverUrl: 'http://127.0.0.1:8008',
    domain: SERVER_NAME,
    appserviceHost: '127.0.0.1',
    appservicePort: asPort,
    prefix: '_mimi_',
    botLocalpart: 'mimibot',
  };
  const reg = generateAppserviceRegistration(matrix, tokens);
  writeFileSync(join(dir, 'registration.yaml'), renderRegistrationYaml(reg));
  const hs = await startSynapse({ registrationFile: join(dir, 'registration.yaml'), serverName: SERVER_NAME });
  const fd = openSync(join(dir, 'journal'), 'a');
  let recorded = 0;
  let onRecorded: (() => void) | undefined;
  const sink = async (e: InboundEvent): Promise<void> => {
    writeSync(fd, `${JSON.stringify(e)}\n`);
    fsyncSync(fd);
    if (e.kind === 'message') recorded += 1;
    onRecorded?.();
  };
  const bridge = new MatrixBridge({
    matrix: { ...matrix, homeserverUrl: hs.url, linkPowerLevel: 100 },
    registration: reg,
  });
  try {
    await bridge.start(sink);
    const users = await Promise.all(Array.from({ length: SENDERS }, (_, i) => registerUser(hs, `sender${i}`)));
    const roomId = await users[0]!.createRoom({ preset: 'public_chat', invite: [bridge.ids.botUserId] });
    await users[0]!.waitForEvent(
      (e) => e.room_id === roomId && e.state_key === bridge.ids.botUserId && e.content['membership'] === 'join',
    );
    for (const u of users.slice(1)) await u.join(roomId);

    const until = (n: number): Promise<void> =>
      new Promise((res) => {
        onRecorded = () => recorded >= n && res();
        onRecorded();
      });

    recorded = 0;
    const t0 = performance.now();
    const per = Math.ceil(total / SENDERS);
    await Promise.all(
      users.map(async (u, i) => {
        for (let k = 0; k < per && i * per + k < total; k++) {
          await u.sendText(roomId, `message ${k} from <b>sender</b> ${i}`, {
            format: 'org.matrix.custom.html',
            formatted_body: `message ${k} from <b>sender</b> ${i}`,
          });
        }
      }),
    );
    await until(total);
    const synapseSecs = (performance.now() - t0) / 1000;

    recorded = 0;
    const t1 = performance.now();
    for (let start = 0; start < total; start += TXN_SIZE) {
      const events = Array.from({ length: Math.min(TXN_SIZE, total - start) }, (_, j) => ({
        event_id: `$bench-${start + j}`,
        room_id: roomId,
        sender: users[0]!.userId,
        type: 'm.room.message',
        origin_server_ts: Date.now(),
        content: {
          msgtype: 'm.text',
          body: 'x',
          format: 'org.matrix.custom.html',
          formatted_body: `message <b>${start + j}</b>`,
        },
      }));
      const r = await putTransaction(`http://127.0.0.1:${bridge.port}`, `bench-${start}`, events, {
        header: `Bearer ${reg.hs_token}`,
      });
      if (r.status !== 200) throw new Error(`transaction answered ${r.status}`);
    }
    await until(total);
    const directSecs = (performance.now() - t1) / 1000;

    process.stdout.write(
      `matrix bridge, ${total} messages, durable (fsync) sink\n` +
        `  synapse: ${(total / synapseSecs).toFixed(0)} events/s (${SENDERS} senders through Synapse, first send → last recorded, ${synapseSecs.toFixed(2)} s)\n` +
        `  direct : ${(total / directSecs).toFixed(0)} events/s (transactions of ${TXN_SIZE} to the appservice endpoint, ${directSecs.toFixed(2)} s)\n`,
    );
  } finally {
    await bridge.stop();
    closeSync(fd);
    await hs.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
