/**
 * Rooms benchmark (issue 3 item 6): hub fan-out of MIMI room messages, MLS-encrypted, from gateway
 * A to 1 and to 3 follower gateways, every gateway a separate process (test/support/memory-gateway.ts)
 * on loopback with mutual TLS, against a baseline measured in the same run: raw mutual-TLS POSTs
 * with undici keep-alive to a tiny HTTPS server in another process, no gateway logic.
 *
 *   npm run bench                                   (builds, then runs every bench)
 *   node dist/test/bench/rooms.bench.js [--messages 2000] [--followers 1,3] [--baseline 10000]
 *                                       [--concurrency 8] [--paced 300] [--only baseline|fanout]
 *                                       [--coalesce 1,32] [--in-flight 100] [--ceiling 2000]
 *
 * What is measured, for N messages posted one after the other by a native user of A's platform,
 * handed to A's gateway --in-flight at a time (default 100), each group acknowledged before the
 * next, as Synapse sends one appservice transaction of up to 100 events at a time (1: each message
 * acknowledged before the next is handed over):
 * - msgs/s: N / (time from the first post to the last message stored AND rendered on the slowest
 *   follower);
 * - latency: per message and follower, from the post entering A's platform to the follower's
 *   platform accepting the rendered message, which the follower does after storing the event
 *   (so this is post → follower storage plus the render call). Times come from the processes'
 *   own clocks (performance.timeOrigin + now(), same machine);
 * - hub ingest: N / time for A's gateway to acknowledge all N posts (dedupe, content, MLS encrypt,
 *   store, outbox rows), which shows whether the hub or the delivery is the bottleneck;
 * - paced: the same at a fixed rate below saturation, for latency without a backlog;
 * - each of the above with every `outbox.coalesceMaxMessages` of --coalesce: 1 sends every
 *   /notify message in a request of its own, more combines a backlog (protocol-06 §5.5);
 * - the crypto ceiling (mls-ceiling.ts, --ceiling messages, 0: none): MLS protect at the hub +
 *   unprotect at a follower of the bench's message in this process, in memory; every fan-out rate
 *   is also printed as a fraction of it ("x ceiling"), as the baseline is for the network.
 */
import { ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'undici';
import { writeDevPki } from '../../registration/dev-ca';
import { legacyUserUri } from '../../src/rooms/identity';
import { ParticipantRole } from '../../src/ports';
import type { ControlClient, ControlTimelineEntry } from '../support/e2e-clients';
import { E2E_DOMAINS, GatewayCluster, MEMORY_PLATFORM } from '../support/e2e-gateways';
import { waitFor } from '../support/e2e-wait';
import { argValue, formatTable as table, numberArg, percentile } from './bench-support';
import { mlsCeiling } from './mls-ceiling';

const HUB = E2E_DOMAINS[0];
const BASELINE_SENDER = 'a.example';
const BASELINE_RECEIVER = 'b.example';
const HUB_USER = { userId: '@alice:bench', displayName: 'Alice' };
const FOLLOWER_USER_ID = '@reader:bench';
const BODY_BYTES = 512;
const SETUP_TIMEOUT_MS = 120_000;
const POLL_MS = 100;

const MESSAGES = numberArg('messages', 2000);
const BASELINE_REQUESTS = numberArg('baseline', 10_000);
const CONCURRENCY = numberArg('concurrency', 8);
const PACED = numberArg('paced', 300);
const FOLLOWER_COUNTS = (argValue('followers') ?? '1,3').split(',').map(Number);
const COALESCE = (argValue('coalesce') ?? '1,32').split(',').map(Number);
const IN_FLIGHT = numberArg('in-flight', 100);
const CEILING_MESSAGES = numberArg('ceiling', 2000);
const ONLY = argValue('only');

// ---- statistics and table -----------------------------------------------------------------------

interface Row {
  readonly scenario: string;
  readonly count: number;
  readonly rate: number;
  readonly latencies?: readonly number[];
  readonly note?: string;
}

function formatTable(rows: readonly Row[], baselineRate: number, ceilingRate: number): string {
  const header = ['scenario', 'msgs', 'msgs/s', 'p50 ms', 'p99 ms', 'x baseline', 'x ceiling', 'note'];
  const ratio = (rate: number, of: number): string => (Number.isFinite(of) && of > 0 ? (rate / of).toFixed(4) : '-');
  const lines = rows.map((r) => {
    const sorted = [...(r.latencies ?? [])].sort((x, y) => x - y);
    return [
      r.scenario,
      String(r.count),
      r.rate.toFixed(0),
      sorted.length ? percentile(sorted, 0.5).toFixed(2) : '-',
      sorted.length ? percentile(sorted, 0.99).toFixed(2) : '-',
      ratio(r.rate, baselineRate),
      ratio(r.rate, ceilingRate),
      r.note ?? '',
    ];
  });
  return table(header, lines, (i) => i !== 0 && i !== header.length - 1);
}

// ---- baseline: raw mutual-TLS POSTs to another process --------------------------------------------

/** Child mode: a tiny HTTPS server requiring a client certificate, answering 201 to every POST. */
async function baselineServer(): Promise<void> {
  const [key, cert, ca] = ['key', 'cert', 'ca'].map((k) => readFileSync(argValue(k)!));
  const server = createServer({ key, cert, ca, requestCert: true, rejectUnauthorized: true });
  server.keepAliveTimeout = 60_000;
  server.on('request', (req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => res.writeHead(201).end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  process.send?.({ port: (server.address() as AddressInfo).port });
  process.on('disconnect', () => process.exit(0));
}

async function rawPosts(
  port: number,
  client: { key: Buffer; cert: Buffer; ca: Buffer },
  count: number,
  concurrency: number,
): Promise<Row> {
  const dispatcher = new Agent({
    connect: { ...client, servername: BASELINE_RECEIVER },
    keepAliveTimeout: 60_000,
    connections: concurrency,
  });
  const bodies = Array.from({ length: Math.min(count, 256) }, () => randomBytes(BODY_BYTES));
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const t0 = performance.now();
        const res = await request(`https://127.0.0.1:${port}/notify/x`, {
          method: 'POST',
          body: bodies[i % bodies.length],
          dispatcher,
          headers: {
            host: BASELINE_RECEIVER,
            from: `mimi@${BASELINE_SENDER}`,
            'content-type': 'application/octet-stream',
          },
        });
        await res.body.dump();
        if (res.statusCode !== 201) throw new Error(`baseline server answered ${res.statusCode}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = performance.now() - started;
  await dispatcher.close();
  return {
    scenario: `baseline: raw mTLS POST, ${concurrency} in flight`,
    count,
    rate: (count / elapsed) * 1000,
    latencies,
    note: 'undici keep-alive, server in another process',
  };
}

async function baseline(): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'mimi-bench-baseline-'));
  let child: ChildProcess | undefined;
  try {
    const pki = await writeDevPki(dir, [BASELINE_SENDER, BASELINE_RECEIVER], { ipAddresses: ['127.0.0.1'] });
    const recv = pki.providers[BASELINE_RECEIVER]!;
    const send = pki.providers[BASELINE_SENDER]!;
    child = fork(
      __filename,
      ['--baseline-server', '--key', recv.keyFile, '--cert', recv.certFile, '--ca', pki.caCertFile],
      {
        stdio: 'inherit',
      },
    );
    const [msg] = (await once(child, 'message')) as [{ port: number }];
    const client = {
      key: readFileSync(send.keyFile),
      cert: readFileSync(send.certFile),
      ca: readFileSync(pki.caCertFile),
    };
    await rawPosts(msg.port, client, Math.min(1000, BASELINE_REQUESTS), CONCURRENCY); // warm-up
    const parallel = await rawPosts(msg.port, client, BASELINE_REQUESTS, CONCURRENCY);
    const sequential = await rawPosts(msg.port, client, Math.max(1, Math.floor(BASELINE_REQUESTS / 4)), 1);
    return [parallel, sequential];
  } finally {
    child?.disconnect();
    if (child) await once(child, 'exit');
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- fan-out through real gateways -----------------------------------------------------------------

interface FanoutSetup {
  readonly cluster: GatewayCluster;
  readonly roomId: string;
  readonly roomUri: string;
  readonly followers: { readonly domain: string; readonly control: ControlClient; readonly mirrorRoomId: string }[];
}

/** Texts of rendered posts in a follower's mirror room, with their arrival times, read incrementally. */
class ArrivalLog {
  readonly arrivals = new Map<string, number>();
  private next = 0;
  constructor(
    private readonly control: ControlClient,
    private readonly roomId: string,
  ) {}

  async poll(): Promise<void> {
    const entries: ControlTimelineEntry[] = await this.control.timeline(this.roomId, this.next);
    for (const t of entries) {
      const e = t.event;
      if (e.kind === 'message' && e.action.type === 'post' && !this.arrivals.has(e.action.body.text)) {
        this.arrivals.set(e.action.body.text, t.recordedAt);
      }
    }
    this.next += entries.length;
  }
}

async function setUpRoom(followerCount: number, coalesce: number): Promise<FanoutSetup> {
  const domains = E2E_DOMAINS.slice(0, followerCount + 1);
  const cluster = await GatewayCluster.create({
    domains,
    logLevel: 'warn',
    outbox: {
      concurrency: CONCURRENCY,
      initialBackoffMs: 100,
      maxBackoffMs: 1000,
      pollIntervalMs: 200,
      coalesceMaxMessages: coalesce,
    },
  });
  await cluster.startAll();
  const hub = cluster.gateway(HUB);
  const roomId = `!bench-${followerCount}-${randomBytes(4).toString('hex')}`;
  await hub.control.createRoom(roomId, { name: 'Bench', members: [{ ...HUB_USER, role: ParticipantRole.Owner }] });
  const roomUri = await hub.provisioning.linkRoom(MEMORY_PLATFORM, roomId);
  const followers: FanoutSetup['followers'] = [];
  for (const domain of domains.slice(1)) {
    const userUri = legacyUserUri(domain, MEMORY_PLATFORM, FOLLOWER_USER_ID);
    await hub.control.membership(roomId, { userUri }, 'invite', { by: HUB_USER });
    const g = cluster.gateway(domain);
    const mirror = await waitFor(async () => (await g.control.rooms()).find((r) => r.roomId.includes(roomUri)), {
      timeoutMs: SETUP_TIMEOUT_MS,
      what: `${domain}'s mirror room of ${roomUri}`,
    });
    followers.push({ domain, control: g.control, mirrorRoomId: mirror.roomId });
  }
  return { cluster, roomId, roomUri, followers };
}

async function awaitArrivals(logs: readonly ArrivalLog[], texts: readonly string[], timeoutMs: number): Promise<void> {
  await waitFor(
    async () => {
      await Promise.all(logs.map((l) => l.poll()));
      return logs.every((l) => texts.every((t) => l.arrivals.has(t)));
    },
    { timeoutMs, intervalMs: POLL_MS, what: `${texts.length} messages on every follower` },
  );
}

async function fanout(followerCount: number, coalesce: number): Promise<Row[]> {
  const setup = await setUpRoom(followerCount, coalesce);
  const { cluster, roomId } = setup;
  try {
    const hub = cluster.gateway(HUB).control;
    const logs = setup.followers.map((f) => new ArrivalLog(f.control, f.mirrorRoomId));
    const tag = `f${followerCount}-${randomBytes(3).toString('hex')}`;

    const warmup = Array.from({ length: 20 }, (_, i) => `warmup-${tag}-${i}`);
    await hub.sayMany(roomId, HUB_USER, warmup, { inFlight: IN_FLIGHT });
    await awaitArrivals(logs, warmup, SETUP_TIMEOUT_MS);

    // Saturation: N posts as fast as the hub acknowledges them.
    const texts = Array.from({ length: MESSAGES }, (_, i) => `bench-${tag}-${i}`);
    const sent = await hub.sayMany(roomId, HUB_USER, texts, { inFlight: IN_FLIGHT });
    await awaitArrivals(logs, texts, Math.max(SETUP_TIMEOUT_MS, MESSAGES * 200));
    const firstPost = sent[0]!.recordedAt;
    const lastAck = sent[sent.length - 1]!.ackedAt;
    const lastArrival = Math.max(...logs.flatMap((l) => texts.map((t) => l.arrivals.get(t)!)));
    const latencies = logs.flatMap((l) => texts.map((t, i) => l.arrivals.get(t)! - sent[i]!.recordedAt));
    const rate = (MESSAGES / (lastArrival - firstPost)) * 1000;
    const label =
      `hub -> ${followerCount} follower${followerCount > 1 ? 's' : ''}` +
      (coalesce > 1 ? `, up to ${coalesce}/request` : ', 1/request');
    const rows: Row[] = [
      {
        scenario: label,
        count: MESSAGES,
        rate,
        latencies,
        note:
          followerCount > 1 ? `${(rate * followerCount).toFixed(0)} deliveries/s` : 'post -> follower stored+rendered',
      },
      ...logs.map((l, i) => {
        const times = texts.map((t) => l.arrivals.get(t)!);
        return {
          scenario: `  follower ${setup.followers[i]!.domain} apply rate`,
          count: MESSAGES,
          rate: (MESSAGES / (Math.max(...times) - Math.min(...times))) * 1000,
          note: 'first to last arrival: decrypt, store, render',
        };
      }),
      {
        scenario: `  hub ingest (${label})`,
        count: MESSAGES,
        rate: (MESSAGES / (lastAck - firstPost)) * 1000,
        note: `A acknowledges posts (${IN_FLIGHT} handed over at a time): content, MLS encrypt, store, outbox`,
      },
    ];

    // Paced: below saturation, for latency without a backlog.
    if (PACED > 0) {
      const pacedRate = Math.max(1, Math.floor(rate / 2));
      const pacedTexts = Array.from({ length: PACED }, (_, i) => `paced-${tag}-${i}`);
      const pacedSent: { recordedAt: number }[] = [];
      const start = performance.now();
      for (const [i, text] of pacedTexts.entries()) {
        const wait = start + (i * 1000) / pacedRate - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        pacedSent.push(await hub.say(roomId, HUB_USER, text));
      }
      await awaitArrivals(logs, pacedTexts, Math.max(SETUP_TIMEOUT_MS, PACED * 200));
      rows.push({
        scenario: `  paced at ${pacedRate} msgs/s (${label})`,
        count: PACED,
        rate: (PACED / (performance.now() - start)) * 1000,
        latencies: logs.flatMap((l) => pacedTexts.map((t, i) => l.arrivals.get(t)! - pacedSent[i]!.recordedAt)),
        note: 'latency without a backlog',
      });
    }
    return rows;
  } catch (e) {
    console.error(cluster.logTails(40));
    throw e;
  } finally {
    await cluster.dispose();
  }
}

async function main(): Promise<void> {
  console.log(
    `rooms bench: ${MESSAGES} messages (${IN_FLIGHT} in flight), followers ${FOLLOWER_COUNTS.join(' and ')}, outbox concurrency ${CONCURRENCY}, ` +
      `node ${process.version}, ${cpus().length} CPUs, SQLite (WAL), one process per gateway`,
  );
  const rows: Row[] = [];
  let baselineRate = NaN;
  if (ONLY !== 'fanout') {
    const base = await baseline();
    baselineRate = base[0]!.rate;
    rows.push(...base);
  }
  let ceilingRate = NaN;
  if (ONLY !== 'baseline' && CEILING_MESSAGES > 0) {
    const c = await mlsCeiling(
      HUB,
      E2E_DOMAINS[1],
      `bench-ceiling-${randomBytes(3).toString('hex')}-0`,
      CEILING_MESSAGES,
    );
    ceilingRate = c.pairsPerSecond;
    rows.push({
      scenario: 'ceiling: MLS protect+unprotect, 1 process',
      count: c.count,
      rate: c.pairsPerSecond,
      note:
        `the bench's message, in memory: protect (hub) ${c.protectPerSecond.toFixed(0)}/s, ` +
        `unprotect (follower) ${c.unprotectPerSecond.toFixed(0)}/s`,
    });
  }
  if (ONLY !== 'baseline') {
    for (const n of FOLLOWER_COUNTS) for (const c of COALESCE) rows.push(...(await fanout(n, c)));
  }
  console.log('');
  console.log(formatTable(rows, baselineRate, ceilingRate));
  console.log('');
  console.log(
    'x baseline = msgs/s / raw mTLS POSTs/s (parallel). x ceiling = msgs/s / MLS protect+unprotect pairs/s in one ' +
      'process (the crypto of one delivered message on one core; hub and follower are separate processes, so a ' +
      'fan-out could exceed 1.0 by at most the two cores). Latency = post on A -> follower platform accepted the ' +
      'rendered message (after the follower stored it).',
  );
}

if (process.argv.includes('--baseline-server')) {
  void baselineServer();
} else {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
