/**
 * Handshake storm soak (issue 14: during 2,000 concurrent TLS handshakes /health took up to 2.7 s
 * and RSS stayed up after the connections closed).
 *
 *   npm run bench:storm -- [--concurrency 2000] [--seconds 10] [--after 5,15,30,60]
 *                          [--gateway-env NAME=VALUE,...] [--allocator jemalloc|system]
 *                          [--node-flags "..."] [--configs unprotected,handshake cap,defaults]
 *
 * The gateway starts as `npm start` starts it (scripts/allocator.sh): with jemalloc when the machine
 * has it (`--allocator system`: glibc's malloc) and with the node flags of MIMI_NODE_FLAGS, V8's heap
 * settings (`--node-flags ""`: V8's defaults, `--node-flags "--max-semi-space-size=1"`: others).
 *
 * For each gateway configuration below, a fresh gateway process (test/support/memory-gateway.ts,
 * SQLite) is started and, in order:
 * 0. warm-up: 20 connections in flight for 1 s, then 2 s of rest, so that the baseline is not a
 *    process that has never served a connection (first-use code and caches are not storm damage);
 * 1. idle: /health on the admin listener is probed every 20 ms for 3 s (the baseline);
 * 2. storm: a child process at the lowest CPU priority (nice 19: on this one machine the attacker
 *    should not take the gateway's CPU, as one elsewhere would not) keeps `--concurrency`
 *    mutual-TLS connections to the MIMI listener in flight for `--seconds` (each handshakes, sends
 *    one GET of the directory, and closes; a new one starts as soon as one ends) while the probe
 *    goes on;
 * 3. after: the storm stops; the probe goes on, and the gateway's memory is read at each of the
 *    `--after` times (seconds after the storm), then once more after one full GC.
 * It prints /health latency percentiles per phase next to the idle baseline, the gateway's RSS
 * before the storm, its peak and at each `--after` time, and the memory over time: RSS split into
 * anonymous (JS heap, malloc) and file-backed (code), and V8's heapTotal, new space, heapUsed,
 * external and arrayBuffers (test/support/memory-gateway-control.ts GET /memory), to tell live
 * memory from memory V8 or malloc keep.
 *
 * Configurations: `unprotected` (no caps, Node's timeouts: the behaviour before issue 14),
 * `handshake cap` (limits.connections defaults but no per-address cap, as if the storm came from
 * many addresses), `defaults` (limits.connections as shipped). The probe, the storm and the
 * gateway are three processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createSecureContext } from 'node:tls';
import YAML from 'yaml';
import { writeDevPki } from '../../registration/dev-ca';
import { freePorts, repoRoot } from '../support/e2e-gateways';
import {
  argValue,
  describeGatewayAllocator,
  formatTable,
  numberArg,
  percentile,
  shippedAllocatorEnv,
  shippedNodeFlags,
} from './bench-support';

const DOMAIN = 'a.example';
const CLIENT_DOMAIN = 'b.example';
const LOOPBACK = '127.0.0.1';
const PROBE_EVERY_MS = 20;
const IDLE_MS = 3000;
const RSS_EVERY_MS = 100;
/** Connections in flight during the 1 s warm-up before the baseline. */
const WARM_UP_CONNECTIONS = 20;
const READY_MARKER = 'MIMI-TEST-GATEWAY READY';
/**
 * `--gateway-env NAME=VALUE[,NAME=VALUE]`: extra environment for the gateway processes, e.g.
 * `GLIBC_TUNABLES=glibc.malloc.trim_threshold=0` to see how much of the RSS after a storm is
 * memory glibc's allocator keeps.
 */
const gatewayEnv = ((): string[] => {
  const i = process.argv.indexOf('--gateway-env');
  return i >= 0 ? (process.argv[i + 1] ?? '').split(',').filter((kv) => kv.includes('=')) : [];
})();

/** `--configs defaults,unprotected`: run only these configurations (default: all three). */
const onlyConfigs = ((): string[] | undefined => {
  const i = process.argv.indexOf('--configs');
  return i >= 0 ? (process.argv[i + 1] ?? '').split(',') : undefined;
})();

interface StormJob {
  readonly port: number;
  readonly concurrency: number;
  readonly seconds: number;
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

interface StormResult {
  /** Connections that finished the handshake and got an HTTP answer. */
  readonly answered: number;
  /** Connections closed or reset before the handshake finished (refused by a cap, or timed out). */
  readonly refused: number;
  readonly started: number;
}

/** The worker: keep `concurrency` connections in flight until the time is up, then report. */
async function runStorm(job: StormJob): Promise<StormResult> {
  const until = Date.now() + job.seconds * 1000;
  let answered = 0;
  let refused = 0;
  let started = 0;
  // One context for all connections: building one per connection (PEM parsing) would make the
  // client, not the gateway, the bottleneck.
  const secureContext = createSecureContext({ ca: job.caPem, cert: job.certPem, key: job.keyPem });
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      started++;
      let secured = false;
      let gotAnswer = false;
      const socket = connect({
        host: LOOPBACK,
        port: job.port,
        servername: DOMAIN,
        secureContext,
      });
      socket.setTimeout(30_000, () => socket.destroy());
      socket.on('secureConnect', () => {
        secured = true;
        socket.write(
          `GET /.well-known/mimi-protocol-directory HTTP/1.1\r\nHost: ${DOMAIN}\r\nConnection: close\r\n\r\n`,
        );
      });
      socket.on('data', () => (gotAnswer = true));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        if (secured && gotAnswer) answered++;
        else refused++;
        resolve();
      });
    });
  const lane = async (): Promise<void> => {
    while (Date.now() < until) await one();
  };
  await Promise.all(Array.from({ length: job.concurrency }, lane));
  return { answered, refused, started };
}

/** Set in the storm child process: the job, as JSON. */
const STORM_JOB_ENV = 'MIMI_BENCH_STORM_JOB';
const stormJob = process.env[STORM_JOB_ENV];

/** Run the storm in a child process at the lowest CPU priority and return its result. */
async function stormProcess(job: StormJob): Promise<StormResult> {
  const child = spawn(process.execPath, [__filename], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, [STORM_JOB_ENV]: JSON.stringify(job) },
  });
  setPriority(child.pid!, 19);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  if (code !== 0) throw new Error(`the storm process exited with ${code}`);
  return JSON.parse(out) as StormResult;
}

// ---- the bench -----------------------------------------------------------------------------------

interface Gateway {
  readonly child: ChildProcess;
  readonly mimiPort: number;
  readonly adminPort: number;
  /** The test control API (test/support/memory-gateway-control.ts): GET /memory. */
  readonly controlUrl: string;
}

/** The gateway's process.memoryUsage() in MB, after a full GC when `gc` (the gateway runs with --expose-gc). */
interface Memory {
  readonly rss: number;
  readonly heapTotal: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  /** V8's young generation (new_space), committed. */
  readonly newSpace: number;
}

async function memoryOf(gw: Gateway, gc: boolean): Promise<Memory> {
  const res = await fetch(`${gw.controlUrl}/memory${gc ? '?gc=1' : ''}`);
  const m = (await res.json()) as Record<Exclude<keyof Memory, 'newSpace'>, number> & {
    gcRan: boolean;
    spaces: Record<string, number>;
  };
  if (gc && !m.gcRan) throw new Error('the gateway did not run a GC (no --expose-gc?)');
  const mb = (v: number): number => v / 1024 / 1024;
  return {
    rss: mb(m.rss),
    heapTotal: mb(m.heapTotal),
    heapUsed: mb(m.heapUsed),
    external: mb(m.external),
    arrayBuffers: mb(m.arrayBuffers),
    newSpace: mb(m.spaces['new_space'] ?? NaN),
  };
}

/** RSS of `pid` in MB (/proc/<pid>/status): all, anonymous (heaps, malloc) and file-backed (code, libraries). */
interface Rss {
  readonly total: number;
  readonly anon: number;
  readonly file: number;
}

function rssOf(pid: number): Rss {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? NaN) / 1024;
  return { total: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') + kb('RssShmem') };
}

/** One reading of the gateway's memory: what the kernel counts and what V8 says it holds. */
interface Reading {
  readonly label: string;
  readonly rss: Rss;
  readonly js: Memory;
}

async function readingOf(gw: Gateway, label: string, gc = false): Promise<Reading> {
  const js = await memoryOf(gw, gc);
  return { label, rss: rssOf(gw.child.pid!), js };
}

async function startGateway(
  dir: string,
  pki: Awaited<ReturnType<typeof writeDevPki>>,
  limits: object,
): Promise<Gateway> {
  const [mimiPort, adminPort] = (await freePorts(2)) as [number, number];
  mkdirSync(dir, { recursive: true });
  const configFile = join(dir, 'gateway.yaml');
  writeFileSync(
    configFile,
    YAML.stringify({
      provider: { domain: DOMAIN },
      listen: { host: LOOPBACK, port: mimiPort },
      tls: {
        certFile: pki.providers[DOMAIN]!.certFile,
        keyFile: pki.providers[DOMAIN]!.keyFile,
        caFiles: [pki.caCertFile],
      },
      database: { type: 'better-sqlite3', path: join(dir, 'gateway.sqlite') },
      admin: { enabled: true, host: LOOPBACK, port: adminPort },
      logging: { level: 'error' },
      limits,
    }),
  );
  const entry = join(repoRoot(), 'dist', 'test', 'support', 'memory-gateway.js');
  // --expose-gc only lets the bench ask for a full GC before its last reading (GET /memory?gc=1);
  // the gateway never collects on its own because of it.
  const command = [...shippedNodeFlags(), '--expose-gc', entry, '--config', configFile];
  const child = spawn(process.execPath, command, {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: {
      ...process.env,
      ...Object.fromEntries(gatewayEnv.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
      // As `npm start` runs it (scripts/allocator.sh): jemalloc when installed, unless --allocator system.
      ...shippedAllocatorEnv(),
      MIMI_TEST_EXIT_WITH_PARENT: '1',
    },
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(READY_MARKER)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`gateway exited (${code}) before READY:\n${out}`)));
  });
  child.stdout!.resume();
  const ready = JSON.parse(out.slice(out.indexOf(READY_MARKER) + READY_MARKER.length).split('\n')[0]!) as {
    controlUrl: string;
  };
  return { child, mimiPort, adminPort, controlUrl: ready.controlUrl };
}

function rssMb(pid: number): number {
  return rssOf(pid).total;
}

/** One GET /health: its latency in ms (a failure counts as its time to fail). */
function probeOnce(port: number): Promise<number> {
  const start = process.hrtime.bigint();
  return new Promise((resolve) => {
    const done = (): void => resolve(Number(process.hrtime.bigint() - start) / 1e6);
    const req = request({ host: LOOPBACK, port, path: '/health', agent: false }, (res) => {
      res.resume();
      res.on('end', done);
    });
    req.setTimeout(10_000, () => req.destroy());
    req.on('error', done);
    req.end();
  });
}

/** Probe /health every PROBE_EVERY_MS (one at a time) until `stop()`; returns the latencies. */
function probe(port: number): { stop(): Promise<number[]> } {
  const latencies: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      latencies.push(await probeOnce(port));
      await new Promise((r) => setTimeout(r, Math.max(0, PROBE_EVERY_MS - (Date.now() - started))));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return latencies;
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Row {
  readonly config: string;
  readonly phase: string;
  readonly latencies: number[];
  readonly rss: string;
}

interface Measured {
  readonly rows: Row[];
  readonly storm: StormResult;
  readonly peakRss: number;
  /** Before the storm, then one per `--after` point, then after a full GC at the last point. */
  readonly readings: Reading[];
}

async function measure(
  name: string,
  dir: string,
  pki: Awaited<ReturnType<typeof writeDevPki>>,
  limits: object,
  opts: { concurrency: number; seconds: number; after: readonly number[] },
): Promise<Measured> {
  const gw = await startGateway(dir, pki, limits);
  const pid = gw.child.pid!;
  try {
    await sleep(1000);
    // Warm-up: a few connections first, so that the baseline already has what the first one
    // initialises once (compiled code of the TLS and HTTP paths, lazily built caches); then settle.
    const job = {
      port: gw.mimiPort,
      caPem: readFileSync(pki.caCertFile, 'utf8'),
      certPem: readFileSync(pki.providers[CLIENT_DOMAIN]!.certFile, 'utf8'),
      keyPem: readFileSync(pki.providers[CLIENT_DOMAIN]!.keyFile, 'utf8'),
    };
    await stormProcess({ ...job, concurrency: WARM_UP_CONNECTIONS, seconds: 1 });
    await sleep(2000);
    const rssSamples: number[] = [];
    const sampler = setInterval(() => rssSamples.push(rssMb(pid)), RSS_EVERY_MS);

    let p = probe(gw.adminPort);
    await sleep(IDLE_MS);
    const idle = await p.stop();
    const readings = [await readingOf(gw, 'before')];
    const stormStart = rssSamples.length;

    p = probe(gw.adminPort);
    const storm = await stormProcess({ ...job, concurrency: opts.concurrency, seconds: opts.seconds });
    const during = await p.stop();
    const stormEnd = Date.now();
    const peakRss = Math.max(...rssSamples.slice(stormStart));

    p = probe(gw.adminPort);
    for (const s of opts.after) {
      await sleep(stormEnd + s * 1000 - Date.now());
      readings.push(await readingOf(gw, `+${s} s`));
    }
    const after = await p.stop();
    readings.push(await readingOf(gw, `+${opts.after.at(-1)} s, full GC`, true));
    clearInterval(sampler);
    const mb = (v: number): string => v.toFixed(0);
    return {
      rows: [
        { config: name, phase: 'idle', latencies: idle, rss: mb(readings[0]!.rss.total) },
        { config: name, phase: `storm ${opts.seconds} s`, latencies: during, rss: `peak ${mb(peakRss)}` },
        {
          config: name,
          phase: `after ${opts.after.at(-1)} s`,
          latencies: after,
          rss: mb(readings[opts.after.length]!.rss.total),
        },
      ],
      storm,
      peakRss,
      readings,
    };
  } finally {
    gw.child.kill('SIGTERM');
    await once(gw.child, 'exit');
  }
}

/** `--after 5,15,30,60`: seconds after the storm at which the gateway's memory is read (ascending). */
function afterPoints(): number[] {
  const raw = argValue('after') ?? '5,15,30,60';
  const points = raw.split(',').map(Number);
  if (points.length === 0 || points.some((n, i) => !(n >= 0) || (i > 0 && n <= points[i - 1]!))) {
    throw new Error('--after: ascending seconds, e.g. 5,15,30,60');
  }
  return points;
}

async function main(): Promise<void> {
  const opts = {
    concurrency: numberArg('concurrency', 2000),
    seconds: numberArg('seconds', 10),
    after: afterPoints(),
  };
  const dir = mkdtempSync(join(tmpdir(), 'mimi-storm-'));
  const pki = await writeDevPki(join(dir, 'tls'), [DOMAIN, CLIENT_DOMAIN], { ipAddresses: [LOOPBACK] });
  const unlimited = {
    handshakeTimeoutMs: 120_000,
    headersTimeoutMs: 60_000,
    requestTimeoutMs: 300_000,
    idleTimeoutMs: 5000,
    perAddress: 100_000,
    concurrentHandshakes: 100_000,
  };
  const configs: [string, object][] = [
    ['unprotected', { connections: unlimited }],
    ['handshake cap', { connections: { perAddress: 100_000 } }],
    ['defaults', {}],
  ].filter(([name]) => onlyConfigs === undefined || onlyConfigs.includes(name as string)) as [string, object][];
  const rows: Row[] = [];
  const summaries: string[][] = [];
  const details: string[][] = [];
  try {
    for (const [name, limits] of configs) {
      const r = await measure(name, join(dir, name.replace(/\W/g, '-')), pki, limits, opts);
      rows.push(...r.rows);
      const [before, ...later] = r.readings;
      summaries.push([
        name,
        String(r.storm.started),
        String(r.storm.answered),
        String(r.storm.refused),
        before!.rss.total.toFixed(0),
        r.peakRss.toFixed(0),
        ...later
          .slice(0, opts.after.length)
          .map((x) => `${x.rss.total.toFixed(0)} (${signedPercent(x.rss.total, before!.rss.total)})`),
      ]);
      for (const x of r.readings) {
        details.push([
          name,
          x.label,
          ...[x.rss.total, x.rss.anon, x.rss.file].map((v) => v.toFixed(0)),
          signedPercent(x.rss.total, before!.rss.total),
          ...[x.js.heapTotal, x.js.newSpace, x.js.heapUsed, x.js.external, x.js.arrayBuffers].map((v) => v.toFixed(1)),
        ]);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const ms = (v: number): string => v.toFixed(1);
  console.log(
    `handshake storm: ${opts.concurrency} concurrent mutual-TLS connections for ${opts.seconds} s, ` +
      `/health probed every ${PROBE_EVERY_MS} ms (latency ms); gateway allocator: ` +
      `${describeGatewayAllocator(shippedAllocatorEnv(), shippedNodeFlags())}` +
      (gatewayEnv.length > 0 ? `; gateway environment: ${gatewayEnv.join(' ')}` : '') +
      '\n',
  );
  console.log(
    formatTable(
      ['config', 'phase', 'probes', 'p50', 'p90', 'p99', 'max', 'RSS MB'],
      rows.map((r) => {
        const s = [...r.latencies].sort((a, b) => a - b);
        return [
          r.config,
          r.phase,
          String(s.length),
          ms(percentile(s, 0.5)),
          ms(percentile(s, 0.9)),
          ms(percentile(s, 0.99)),
          ms(s[s.length - 1] ?? NaN),
          r.rss,
        ];
      }),
      (i) => i >= 2,
    ),
  );
  console.log('');
  console.log('RSS (MB) before the storm, its peak, and how far above "before" it is at each time after the storm:\n');
  console.log(
    formatTable(
      [
        'config',
        'connections',
        'answered',
        'refused/failed',
        'RSS before',
        'peak',
        ...opts.after.map((s) => `+${s} s`),
      ],
      summaries,
      (i) => i >= 1,
    ),
  );
  console.log('');
  console.log(
    "The gateway's memory over time (MB): RSS, its anonymous part (JS heap, malloc) and file-backed part\n" +
      "(code, libraries), and V8's process.memoryUsage() read through the test control API. The last row\n" +
      'is after one full GC: live memory back at its level with RSS still up is memory the allocators keep.\n',
  );
  console.log(
    formatTable(
      [
        'config',
        'when',
        'RSS',
        'anon',
        'file',
        'RSS vs before',
        'heapTotal',
        'new space',
        'heapUsed',
        'external',
        'arrayBuffers',
      ],
      details,
      (i) => i >= 2,
    ),
  );
}

function signedPercent(value: number, base: number): string {
  const p = ((value - base) / base) * 100;
  return `${p >= 0 ? '+' : ''}${p.toFixed(1)} %`;
}

if (stormJob !== undefined) {
  void runStorm(JSON.parse(stormJob) as StormJob).then((r) => process.stdout.write(JSON.stringify(r)));
} else {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
