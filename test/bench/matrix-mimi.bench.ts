/**
 * Matrix → MIMI throughput (issue 4 "Done means": events per second the bridge sustains from
 * appservice transactions to follower storage), with everything real: Synapse, gateway A as a
 * `mimi-gateway start` process with a `matrix:` section (the hub), follower gateway B as a
 * memory-platform gateway process, mutual TLS between them (test/e2e/support/matrix-mimi-env.ts).
 *
 *   npx tsc -p tsconfig.build.json
 *   node dist/test/bench/matrix-mimi.bench.js [--messages 1000] [--senders 4] [--paced 200] [--rate 20]
 *
 * Matrix users send messages through Synapse's client-server API into a room linked with
 * `!mimi link` in which a user of B takes part. Synapse pushes them to A in appservice
 * transactions; A records each (dedupe, MIMI content, MLS encryption by the sender's puppet, room
 * log, outbox row) before acknowledging the transaction, and fans it out to B, which decrypts
 * and stores it.
 *
 * - burst: MESSAGES messages from SENDERS Matrix users at once, each sending one after the other
 *   (as fast as Synapse accepts them). msgs/s = MESSAGES / (first send → last message stored by
 *   B). "hub msgs/s" is the same up to A's record of the last event, "synapse msgs/s" up to the
 *   last send accepted by Synapse: the lowest of the three is the bottleneck.
 * - backlog: A stopped while the same number of messages is sent; Synapse queues them; A is
 *   started and drains the queue. msgs/s = MESSAGES / (A's first record → B's last store): the rate
 *   the bridge and the core sustain from appservice transactions to follower storage when they,
 *   not Synapse's client API, are the limit.
 * - baseline (before the backlog): the same backlog taken by a bare appservice endpoint on A's port
 *   that only counts and acknowledges (see endpointAlone); the backlog drain is printed against it.
 * - paced: PACED messages from one user at RATE per second, below saturation: latency without a
 *   backlog.
 * Latency, per message: from the client's send request to B's storage (`room_event.created_at`
 * in B's database), and to A's record (`legacy_event.created_at`). Same machine, same clock.
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { cpus } from 'node:os';
import { Logger } from '@nestjs/common';
import { decodeMimiContent, getExternalMessageId } from '../../src/mimi/content';
import { legacyUserUri } from '../../src/rooms/identity';
import type { MatrixUserClient } from '../servers/synapse/synapse-server';
import { HUB_DOMAIN, FOLLOWER_DOMAIN, MatrixMimiEnv } from '../e2e/support/matrix-mimi-env';
import { MEMORY_PLATFORM } from '../support/e2e-gateways';
import { formatTable as table, numberArg, percentile } from './bench-support';

const FOLLOWER_USER = legacyUserUri(FOLLOWER_DOMAIN, MEMORY_PLATFORM, '@reader:bench');
const BODY_BYTES = 256;
const POLL_MS = 50;

const MESSAGES = Math.floor(numberArg('messages', 1000, { fractional: true }));
const SENDERS = Math.max(1, Math.floor(numberArg('senders', 4, { fractional: true })));
const PACED = Math.floor(numberArg('paced', 200, { fractional: true }));
const RATE = numberArg('rate', 20, { fractional: true });

interface Row {
  readonly scenario: string;
  readonly count: number;
  readonly rate: number;
  readonly hubRate: number;
  readonly synapseRate?: number;
  /** Latencies (ms), absent when they mean nothing (messages queued on purpose). */
  readonly toB?: readonly number[];
  readonly toA?: readonly number[];
}

function formatTable(rows: readonly Row[]): string {
  const header = [
    'scenario',
    'msgs',
    'msgs/s',
    'hub msgs/s',
    'synapse msgs/s',
    'p50 ms',
    'p99 ms',
    'hub p50',
    'hub p99',
  ];
  const lines = rows.map((r) => {
    const b = [...(r.toB ?? [])].sort((x, y) => x - y);
    const a = [...(r.toA ?? [])].sort((x, y) => x - y);
    const ms = (sorted: number[], p: number): string => (sorted.length ? percentile(sorted, p).toFixed(0) : '-');
    return [
      r.scenario,
      String(r.count),
      r.rate.toFixed(1),
      r.hubRate.toFixed(1),
      r.synapseRate === undefined ? '-' : r.synapseRate.toFixed(1),
      ms(b, 0.5),
      ms(b, 0.99),
      ms(a, 0.5),
      ms(a, 0.99),
    ];
  });
  return table(header, lines, (i) => i !== 0);
}

/** Read-only views of both gateways' databases (the timestamps the gateways wrote). */
class Stores {
  private readonly a: Database.Database;
  private readonly b: Database.Database;

  constructor(aFile: string, bFile: string) {
    this.a = new Database(aFile, { readonly: true, fileMustExist: true });
    this.b = new Database(bFile, { readonly: true, fileMustExist: true });
  }

  /** How many messages B stored for the room. */
  countOnB(roomUri: string): number {
    return (this.b.prepare('SELECT COUNT(*) AS n FROM room_event WHERE room_uri = ?').get(roomUri) as { n: number }).n;
  }

  /** Matrix event ID → when B stored the message (its externalMessageId is the Matrix event ID). */
  storedOnB(roomUri: string): Map<string, number> {
    const out = new Map<string, number>();
    const rows = this.b.prepare('SELECT content, created_at FROM room_event WHERE room_uri = ?').all(roomUri) as {
      content: Buffer;
      created_at: number;
    }[];
    for (const row of rows) {
      const id = getExternalMessageId(decodeMimiContent(new Uint8Array(row.content)).extensions);
      if (id !== undefined) out.set(Buffer.from(id.id).toString('utf8'), Number(row.created_at));
    }
    return out;
  }

  /** Matrix event ID → when A recorded it (acknowledgement of its transaction follows). */
  recordedOnA(roomUri: string): Map<string, number> {
    const rows = this.a
      .prepare("SELECT platform_event_id, created_at FROM legacy_event WHERE room_uri = ? AND platform = 'matrix'")
      .all(roomUri) as { platform_event_id: string; created_at: number }[];
    return new Map(rows.map((r) => [r.platform_event_id, Number(r.created_at)]));
  }

  close(): void {
    this.a.close();
    this.b.close();
  }
}

interface Sent {
  readonly eventId: string;
  readonly startedAt: number;
  readonly acceptedAt: number;
}

async function waitForCount(stores: Stores, roomUri: string, target: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = stores.countOnB(roomUri);
    if (n >= target) return;
    if (Date.now() > deadline) throw new Error(`B stored ${n} of ${target} messages within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/**
 * Rates and latencies of `sent`. `from: 'send'`: rates from the first send request; `from: 'hub'`:
 * from the first record on A (a backlog queued in Synapse while A was down, drained at once).
 */
function measure(
  scenario: string,
  sent: readonly Sent[],
  stores: Stores,
  roomUri: string,
  from: 'send' | 'hub' = 'send',
): Row {
  const onB = stores.storedOnB(roomUri);
  const onA = stores.recordedOnA(roomUri);
  const firstSend = Math.min(...sent.map((s) => s.startedAt));
  const firstRecord = Math.min(...sent.map((s) => onA.get(s.eventId) ?? Infinity));
  const first = from === 'send' ? firstSend : firstRecord;
  const toB: number[] = [];
  const toA: number[] = [];
  let lastB = 0;
  let lastA = 0;
  for (const s of sent) {
    const b = onB.get(s.eventId);
    const a = onA.get(s.eventId);
    if (b === undefined || a === undefined) throw new Error(`${s.eventId} missing (B: ${b}, A: ${a})`);
    toB.push(b - s.startedAt);
    toA.push(a - s.startedAt);
    lastB = Math.max(lastB, b);
    lastA = Math.max(lastA, a);
  }
  const lastAccepted = Math.max(...sent.map((s) => s.acceptedAt));
  const perSecond = (until: number): number => sent.length / ((until - first) / 1000);
  return from === 'send'
    ? {
        scenario,
        count: sent.length,
        rate: perSecond(lastB),
        hubRate: perSecond(lastA),
        synapseRate: perSecond(lastAccepted),
        toB,
        toA,
      }
    : { scenario, count: sent.length, rate: perSecond(lastB), hubRate: perSecond(lastA) };
}

async function send(user: MatrixUserClient, roomId: string, text: string): Promise<Sent> {
  const startedAt = Date.now();
  const eventId = await user.sendText(roomId, text);
  return { eventId, startedAt, acceptedAt: Date.now() };
}

function body(label: string): string {
  return `${label} ${'x'.repeat(Math.max(0, BODY_BYTES - label.length - 1))}`;
}

async function burst(
  stores: Stores,
  senders: readonly MatrixUserClient[],
  roomId: string,
  roomUri: string,
): Promise<Row> {
  const before = stores.countOnB(roomUri);
  const sent = await sendFromAll(senders, roomId, 'burst', MESSAGES);
  await waitForCount(stores, roomUri, before + sent.length, 600_000);
  return measure(`burst, ${senders.length} senders`, sent, stores, roomUri);
}

/** Send `count` messages from every sender at once (each one after the other). */
async function sendFromAll(
  senders: readonly MatrixUserClient[],
  roomId: string,
  label: string,
  count: number,
): Promise<Sent[]> {
  const run = randomUUID().slice(0, 8);
  const perSender = Math.ceil(count / senders.length);
  const results = await Promise.all(
    senders.map(async (user, s) => {
      const out: Sent[] = [];
      for (let i = 0; i < perSender && s * perSender + i < count; i += 1) {
        out.push(await send(user, roomId, body(`${label} ${run} ${s}/${i}`)));
      }
      return out;
    }),
  );
  return results.flat();
}

/**
 * A stopped (SIGTERM) while the senders send: Synapse queues the events for the appservice;
 * then A starts and drains the queue in transactions of up to 100 events. The rate is the
 * bridge's own: first event recorded by A → last message stored by B.
 */
async function backlog(
  env: MatrixMimiEnv,
  stores: Stores,
  senders: readonly MatrixUserClient[],
  roomId: string,
  roomUri: string,
): Promise<Row> {
  const before = stores.countOnB(roomUri);
  await env.a.stop();
  const sent = await sendFromAll(senders, roomId, 'backlog', MESSAGES);
  await env.a.start();
  await waitForCount(stores, roomUri, before + sent.length, 600_000);
  return measure('backlog drain (A restarted)', sent, stores, roomUri, 'hub');
}

/**
 * The baseline for the backlog drain, in the same run: A stopped, the same number of messages
 * queued in Synapse, then a bare appservice endpoint on A's port (no gateway: it reads each
 * transaction's JSON, counts the events and answers 200 `{}`) takes the queue. events/s = MESSAGES /
 * (first event received → last event received): the rate Synapse delivers a backlog to an
 * appservice that costs nothing, which the gateway's drain is compared with. Those events never
 * reach A (the bare endpoint acknowledged them), so they are not in B's store.
 */
async function endpointAlone(
  env: MatrixMimiEnv,
  senders: readonly MatrixUserClient[],
  roomId: string,
): Promise<{ row: Row; rate: number }> {
  await env.a.stop();
  const run = randomUUID().slice(0, 8);
  const label = `baseline ${run}`;
  const sent = await sendFromAll(senders, roomId, label, MESSAGES);
  const wanted = new Set(sent.map((s) => s.eventId));
  const receivedAt = new Map<string, number>();
  let transactions = 0;
  let allIn: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allIn = resolve));
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'PUT' && req.url?.includes('/transactions/')) {
        transactions += 1;
        const now = Date.now();
        const txn = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events?: { event_id?: string }[] };
        for (const e of txn.events ?? []) {
          if (e.event_id !== undefined && wanted.has(e.event_id) && !receivedAt.has(e.event_id)) {
            receivedAt.set(e.event_id, now);
          }
        }
        if (receivedAt.size === wanted.size) allIn();
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  const { port, hostname } = new URL(env.appserviceUrl);
  server.listen(Number(port), hostname);
  await once(server, 'listening');
  try {
    const timeout = setTimeout(() => allIn(), 600_000);
    await done;
    clearTimeout(timeout);
  } finally {
    server.closeAllConnections();
    server.close();
  }
  if (receivedAt.size !== wanted.size) throw new Error(`the bare endpoint got ${receivedAt.size} of ${wanted.size}`);
  const times = [...receivedAt.values()];
  const rate = sent.length / ((Math.max(...times) - Math.min(...times)) / 1000);
  await env.a.start();
  console.log(`baseline: ${sent.length} events in ${transactions} transactions to the bare appservice endpoint`);
  return {
    row: { scenario: 'backlog drain, appservice endpoint alone', count: sent.length, rate, hubRate: rate },
    rate,
  };
}

async function paced(stores: Stores, user: MatrixUserClient, roomId: string, roomUri: string): Promise<Row> {
  const before = stores.countOnB(roomUri);
  const run = randomUUID().slice(0, 8);
  const intervalMs = 1000 / RATE;
  const t0 = Date.now();
  const pending: Promise<Sent>[] = [];
  for (let i = 0; i < PACED; i += 1) {
    const due = t0 + i * intervalMs;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(send(user, roomId, body(`paced ${run} ${i}`)));
  }
  const sent = await Promise.all(pending);
  await waitForCount(stores, roomUri, before + sent.length, 600_000);
  return measure(`paced at ${RATE}/s`, sent, stores, roomUri);
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error']);
  console.log(
    `Matrix → MIMI bench: ${MESSAGES} messages from ${SENDERS} Matrix users (burst), ${PACED} at ${RATE}/s (paced); ` +
      `${cpus().length} CPUs, node ${process.version}`,
  );
  const setupStarted = Date.now();
  const env = await MatrixMimiEnv.create({ logLevel: 'warn' });
  let stores: Stores | undefined;
  try {
    const admin = await env.registerUser('admin');
    const senders: MatrixUserClient[] = [];
    for (let i = 0; i < SENDERS; i += 1) senders.push(await env.registerUser(`sender${i}`));
    const { roomId, roomUri } = await env.createLinkedRoom(admin, 'Bench');
    await env.inviteRemote(admin, roomId, roomUri, FOLLOWER_USER);
    for (const s of senders) {
      await admin.invite(roomId, s.userId);
      await s.join(roomId);
    }
    // Warm up: every sender's puppet joins the MLS group with its first message.
    const warm = await Promise.all(senders.map((s, i) => send(s, roomId, body(`warm-up ${i}`))));
    stores = new Stores(env.cluster.gateway(HUB_DOMAIN).databaseFile, env.b.databaseFile);
    await waitForCount(stores, roomUri, warm.length, 120_000);
    console.log(
      `set-up (Synapse, A, B, room, ${SENDERS + 1} users): ${((Date.now() - setupStarted) / 1000).toFixed(1)} s`,
    );

    const rows: Row[] = [];
    if (MESSAGES > 0) rows.push(await burst(stores, senders, roomId, roomUri));
    let baselineRate: number | undefined;
    if (MESSAGES > 0) {
      const baseline = await endpointAlone(env, senders, roomId);
      rows.push(baseline.row);
      baselineRate = baseline.rate;
    }
    if (MESSAGES > 0) rows.push(await backlog(env, stores, senders, roomId, roomUri));
    if (PACED > 0) rows.push(await paced(stores, senders[0]!, roomId, roomUri));

    // Everything arrived once: B's provisioning API lists each event once.
    const listed = await env.b.provisioning.events(roomUri);
    const external = listed.flatMap((e) => {
      const x = e.content?.['externalMessageId'] as { id?: string } | null | undefined;
      return x?.id ? [x.id] : [];
    });
    if (new Set(external).size !== external.length) throw new Error('B stored an event twice');

    console.log('');
    console.log(formatTable(rows));
    const drained = rows.find((r) => r.scenario.startsWith('backlog drain (A'));
    if (baselineRate !== undefined && drained !== undefined) {
      console.log(
        `\nbacklog drain vs the appservice endpoint alone (same run): ${drained.rate.toFixed(1)} / ` +
          `${baselineRate.toFixed(1)} events/s = ${(drained.rate / baselineRate).toFixed(2)}`,
      );
    }
    console.log('');
    console.log(
      'msgs/s: first send → last message stored by B; hub msgs/s: → last event recorded by A; ' +
        'synapse msgs/s: → last send accepted. p50/p99: send → B storage; hub p50/p99: send → A record (ms).',
    );
  } catch (e) {
    console.error(env.logTails(40));
    throw e;
  } finally {
    stores?.close();
    await env.dispose();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
