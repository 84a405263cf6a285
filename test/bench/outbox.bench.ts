/**
 * Outbox delivery benchmark: how fast the durable outbox delivers to ONE loopback peer over mutual
 * TLS, against a baseline measured in the same run: raw mutual-TLS POSTs with undici keep-alive
 * and the same concurrency, with no database and no gateway logic.
 *
 *   npm run bench                          (builds, then runs this and the other benches)
 *   node dist/test/bench/outbox.bench.js [--messages N] [--rooms R] [--concurrency C] [--body BYTES]
 *
 * The gateway runs twice: sending every message in a request of its own (`coalesceMaxMessages` 1)
 * and combining a stream's backlog into requests of up to 32 (the default; protocol-06 §5.5
 * concatenated FanoutMessages). The peer splits a combined body back into BODY-sized messages.
 *
 * Latency of the outbox = from the enqueue transaction's commit to the peer receiving the body
 * (what a follower sees); latency of the baseline = one request's round trip.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:https';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { Agent, request } from 'undici';
import { writeDevPki } from '../../registration/dev-ca';
import { AppModule } from '../../src/app.module';
import { ProviderDomain, RoomUri, roomUri } from '../../src/common/ids';
import { validateConfig } from '../../src/config/load-config';
import { TransactionRunner } from '../../src/persistence';
import { OutboxService } from '../../src/replication';
import { readFileSync } from 'node:fs';

const SENDER = 'a.bench';
const RECEIVER = 'b.bench';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const MESSAGES = arg('messages', 3000);
const ROOMS = arg('rooms', 8);
const CONCURRENCY = arg('concurrency', 8);
const BODY_BYTES = arg('body', 512);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

function summary(label: string, count: number, elapsedMs: number, latencies: number[]): { rate: number; line: string } {
  const sorted = [...latencies].sort((a, b) => a - b);
  const rate = (count / elapsedMs) * 1000;
  const line =
    `${label.padEnd(44)} ${String(count).padStart(6)} msgs  ${rate.toFixed(0).padStart(7)} msg/s` +
    `  p50 ${percentile(sorted, 0.5).toFixed(2).padStart(8)} ms  p99 ${percentile(sorted, 0.99).toFixed(2).padStart(8)} ms`;
  return { rate, line };
}

/**
 * The receiving peer: mutual TLS, answers 201, records the arrival time of each message once (a
 * body is one or more BODY_BYTES messages back to back).
 */
async function startReceiver(files: { key: string; cert: string; ca: string }): Promise<{
  server: Server;
  port: number;
  arrivals: Map<string, number>;
  onArrival: (cb: () => void) => void;
}> {
  const arrivals = new Map<string, number>();
  let waiter: (() => void) | undefined;
  const server = createServer({
    key: readFileSync(files.key),
    cert: readFileSync(files.cert),
    ca: readFileSync(files.ca),
    requestCert: true,
    rejectUnauthorized: true,
  });
  server.keepAliveTimeout = 60_000;
  server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const now = performance.now();
      for (let at = 0; at < body.length; at += BODY_BYTES) {
        const digest = createHash('sha256')
          .update(body.subarray(at, at + BODY_BYTES))
          .digest('hex');
        if (!arrivals.has(digest)) arrivals.set(digest, now);
      }
      res.writeHead(201).end();
      waiter?.();
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    arrivals,
    onArrival: (cb) => (waiter = cb),
  };
}

async function baseline(port: number, pki: { key: string; cert: string; ca: string }, bodies: Buffer[]) {
  const dispatcher = new Agent({
    connect: {
      key: readFileSync(pki.key),
      cert: readFileSync(pki.cert),
      ca: readFileSync(pki.ca),
      servername: RECEIVER,
    },
    keepAliveTimeout: 60_000,
    connections: CONCURRENCY,
  });
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        const t0 = performance.now();
        const res = await request(`https://127.0.0.1:${port}/notify/x`, {
          method: 'POST',
          body,
          dispatcher,
          headers: { from: `mimi@${SENDER}`, 'content-type': 'application/octet-stream' },
        });
        await res.body.dump();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = performance.now() - started;
  await dispatcher.close();
  return summary('baseline: raw mTLS POST (undici)', bodies.length, elapsed, latencies);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mimi-bench-'));
  try {
    const pki = await writeDevPki(join(dir, 'tls'), [SENDER, RECEIVER], { ipAddresses: ['127.0.0.1'] });
    const recvFiles = {
      key: pki.providers[RECEIVER]!.keyFile,
      cert: pki.providers[RECEIVER]!.certFile,
      ca: pki.caCertFile,
    };
    const sendFiles = {
      key: pki.providers[SENDER]!.keyFile,
      cert: pki.providers[SENDER]!.certFile,
      ca: pki.caCertFile,
    };
    const receiver = await startReceiver(recvFiles);

    console.log(
      `outbox bench: ${MESSAGES} messages of ${BODY_BYTES} bytes, ${ROOMS} rooms, concurrency ${CONCURRENCY}, ` +
        `node ${process.version}, SQLite (WAL)`,
    );
    const baselineBodies = Array.from({ length: MESSAGES }, () => randomBytes(BODY_BYTES));
    const base = await baseline(receiver.port, sendFiles, baselineBodies);

    const runMode = async (coalesce: number) => {
      const config = validateConfig(
        {
          provider: { domain: SENDER },
          listen: { host: '127.0.0.1', port: 0 },
          tls: { certFile: sendFiles.cert, keyFile: sendFiles.key, caFiles: [sendFiles.ca] },
          database: { type: 'better-sqlite3', path: join(dir, `bench-${coalesce}.sqlite`) },
          peers: [{ domain: RECEIVER, baseUrl: `https://127.0.0.1:${receiver.port}` }],
          outbox: {
            concurrency: CONCURRENCY,
            initialBackoffMs: 50,
            maxBackoffMs: 1000,
            pollIntervalMs: 200,
            coalesceMaxMessages: coalesce,
          },
          logging: { level: 'warn' },
          admin: { enabled: false },
        },
        { baseDir: dir, env: {} },
      );
      const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: ['error', 'warn'] });
      await app.init();
      const tx = app.get(TransactionRunner);
      const outbox = app.get(OutboxService);
      const rooms: RoomUri[] = Array.from({ length: ROOMS }, (_, i) => roomUri(SENDER, `bench-${i}`));

      /**
       * Enqueue `count` messages, one transaction each as the rooms layer writes one event at a
       * time, optionally paced at `rate` per second; resolve when the peer has them all.
       */
      const phase = async (label: string, prefix: string, count: number, rate?: number) => {
        const committedAt = new Map<string, number>();
        receiver.arrivals.clear();
        const done = new Promise<void>((resolve) =>
          receiver.onArrival(() => {
            if (receiver.arrivals.size >= count) resolve();
          }),
        );
        const started = performance.now();
        for (let i = 0; i < count; i += 1) {
          if (rate !== undefined) {
            const wait = started + (i * 1000) / rate - performance.now();
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          }
          const body = randomBytes(BODY_BYTES);
          await tx.run((t) =>
            outbox.enqueue(t, {
              destination: RECEIVER as ProviderDomain,
              roomUri: rooms[i % ROOMS]!,
              endpoint: 'notify',
              body,
              idempotencyKey: `${prefix}-${i}`,
            }),
          );
          committedAt.set(createHash('sha256').update(body).digest('hex'), performance.now());
        }
        const enqueueRate = (count / (performance.now() - started)) * 1000;
        await done;
        const latencies = [...committedAt].map(([digest, t]) => receiver.arrivals.get(digest)! - t);
        return { ...summary(label, count, performance.now() - started, latencies), enqueueRate };
      };

      const mode = coalesce > 1 ? `up to ${coalesce}/request` : '1/request';
      const gw = await phase(`gateway (${mode}): outbox -> peer`, `burst-${coalesce}`, MESSAGES);
      // Latency without a backlog: half the throughput just measured.
      const pacedRate = Math.max(1, gw.rate / 2);
      const paced = await phase(
        `  paced at ${pacedRate.toFixed(0)} msg/s`,
        `paced-${coalesce}`,
        Math.min(1000, MESSAGES),
        pacedRate,
      );
      await app.close();
      return { gw, paced };
    };
    const modes = [await runMode(1), await runMode(32)];

    console.log('');
    console.log(base.line);
    for (const { gw, paced } of modes) {
      console.log(gw.line);
      console.log(paced.line);
      console.log(`${'  enqueue (one transaction each)'.padEnd(44)} ${gw.enqueueRate.toFixed(0).padStart(20)} msg/s`);
      console.log(`  ratio to baseline throughput: ${(gw.rate / base.rate).toFixed(3)}`);
    }
    receiver.server.closeAllConnections();
    receiver.server.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
