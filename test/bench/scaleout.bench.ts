/**
 * Scale-out bench (issue 12 item 3): the aggregate ingest of provider A's gateway over 100 linked
 * rooms, served by ONE process and then by TWO processes sharing one PostgreSQL database
 * (`cluster.enabled`, room leases), both measured in the same run on the same database.
 *
 *   npm run bench:scaleout
 *   node dist/test/bench/scaleout.bench.js [--rooms 100] [--messages 20] [--warmup 1]
 *
 * Per phase: `--rooms` legacy rooms are linked (with two processes, half by each, so each owns
 * half), each gets `--warmup` messages (the sender's puppet joins the MLS group: a commit), then
 * `--messages` more, all rooms at once, each room's messages one after the other as a platform
 * delivers them (the memory platform posts each only after the gateway acknowledged the one
 * before), to the process that owns the room. Ingest = messages / time until the last one was
 * acknowledged: content, MLS encryption, storage in one transaction with the fencing check.
 * Latency: per message, from entering the platform to the gateway's acknowledgement. No
 * follower provider: no outbox rows (see `npm run bench` for the fan-out).
 */
import { cpus, loadavg } from 'node:os';
import { ParticipantRole } from '../../src/ports';
import type { ControlEmitResult } from '../support/e2e-clients';
import { MEMORY_PLATFORM } from '../support/e2e-gateways';
import { ScaleOutCluster } from '../support/e2e-scaleout';
import { formatTable, numberArg, percentile } from './bench-support';

const ROOMS = numberArg('rooms', 100);
const MESSAGES = numberArg('messages', 20);
const WARMUP = numberArg('warmup', 1);
const LEASE_TTL_MS = 15_000;

interface PhaseResult {
  readonly processes: number;
  readonly messages: number;
  readonly seconds: number;
  readonly latencies: number[];
  readonly perProcess: Record<string, number>;
}

async function phase(s: ScaleOutCluster, label: string, processes: 1 | 2): Promise<PhaseResult> {
  const rooms = Array.from({ length: ROOMS }, (_, i) => ({
    roomId: `!bench-${label}-${i}:a`,
    user: { userId: `@${label}-user${i}:a.example`, displayName: `User ${i}` },
    owner: (processes === 2 && i % 2 === 1 ? 'a2' : 'a1') as 'a1' | 'a2',
  }));
  for (const room of rooms) await s.createRoom(room.roomId, [{ ...room.user, role: ParticipantRole.Owner }]);
  for (const room of rooms) await s.process(room.owner).provisioning.linkRoom(MEMORY_PLATFORM, room.roomId);
  const say = (room: (typeof rooms)[number], texts: string[]): Promise<ControlEmitResult[]> =>
    s.process(room.owner).control.sayMany(room.roomId, room.user, texts);
  if (WARMUP > 0) {
    await Promise.all(
      rooms.map((room) =>
        say(
          room,
          Array.from({ length: WARMUP }, (_, m) => `warm-up ${m}`),
        ),
      ),
    );
  }
  const started = performance.now();
  const results = await Promise.all(
    rooms.map((room) =>
      say(
        room,
        Array.from({ length: MESSAGES }, (_, m) => `${label} message ${m}`),
      ),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  const perProcess: Record<string, number> = {};
  for (const room of rooms) perProcess[room.owner] = (perProcess[room.owner] ?? 0) + MESSAGES;
  return {
    processes,
    messages: ROOMS * MESSAGES,
    seconds,
    latencies: results.flat().map((r) => r.ackedAt - r.recordedAt),
    perProcess,
  };
}

async function main(): Promise<void> {
  const s = await ScaleOutCluster.create({ leaseTtlMs: LEASE_TTL_MS, withB: false, logLevel: 'warn' });
  try {
    await s.cluster.startAll();
    process.stdout.write(`one process (a1), ${ROOMS} rooms × ${MESSAGES} messages …\n`);
    const one = await phase(s, 'one', 1);
    await s.a2.start();
    process.stdout.write(`two processes (a1 + a2, one PostgreSQL), ${ROOMS} other rooms × ${MESSAGES} messages …\n`);
    const two = await phase(s, 'two', 2);
    const leases = await s.leases();
    const owners = new Map<string, number>();
    for (const l of leases) owners.set(l.owner, (owners.get(l.owner) ?? 0) + 1);

    const rate = (r: PhaseResult): number => r.messages / r.seconds;
    const rows = [one, two].map((r) => {
      const sorted = [...r.latencies].sort((x, y) => x - y);
      return [
        `${r.processes}`,
        `${ROOMS}`,
        `${r.messages}`,
        rate(r).toFixed(0),
        (rate(r) / rate(one)).toFixed(2),
        percentile(sorted, 0.5).toFixed(1),
        percentile(sorted, 0.99).toFixed(1),
        Object.entries(r.perProcess)
          .map(([p, n]) => `${p}:${n}`)
          .join(' '),
      ];
    });
    process.stdout.write(
      `\nScale-out ingest (PostgreSQL, memory platform; ${cpus().length} CPUs, load ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')})\n` +
        formatTable(
          ['processes', 'rooms', 'messages', 'msgs/s', 'vs 1 process', 'p50 ms', 'p99 ms', 'messages per process'],
          rows,
          (i) => i >= 1 && i <= 6,
        ) +
        `\nroom leases at the end: ${[...owners].map(([o, n]) => `${o} ${n}`).join(', ')}\n`,
    );
  } finally {
    await s.dispose();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`scale-out bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
