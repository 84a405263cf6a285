import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { MatrixBridgeOptions } from '../../bridges/matrix/matrix.bridge';
import {
  type AppserviceRegistration,
  generateAppserviceRegistration,
  renderRegistrationYaml,
} from '../../registration/generate-appservice-registration';
import { loadOrCreateMatrixTokens } from '../../registration/matrix-tokens';
import {
  type MatrixUserClient,
  registerUser,
  startSynapse,
  type SynapseServer,
} from '../servers/synapse/synapse-server';

/**
 * The bridge process is killed with SIGKILL while Synapse is pushing it a stream of messages,
 * then started again: every message ends up in the journal exactly once (Synapse redelivers the
 * transactions that were never acknowledged; the journal recognises events recorded twice).
 */

const SERVER_NAME = 'synapse.test';
const MESSAGES = 30;
const KILL_AFTER_RECORDED = 8;
const SINK_DELAY_MS = 40;
const ROOT = resolve(__dirname, '../..');

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

function journalIds(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { id: string }).id);
}

/** Every event ID the bridge handed to its sink, in order, redeliveries included. */
function sinkCalls(journal: string): string[] {
  const file = `${journal}.calls`;
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

/** Resolve once `cond()` holds, re-checking whenever the journal's folder changes. */
function waitForFile(dir: string, cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  return new Promise((res, rej) => {
    if (cond()) return res();
    const watcher = watch(dir, () => {
      if (cond()) {
        clearTimeout(timer);
        watcher.close();
        res();
      }
    });
    const timer = setTimeout(() => {
      watcher.close();
      rej(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
  });
}

describe('MatrixBridge process killed with SIGKILL mid-stream', () => {
  let dir: string;
  let hs: SynapseServer;
  let reg: AppserviceRegistration;
  let asPort: number;
  let alice: MatrixUserClient;
  let child: ChildProcess | undefined;

  function startChild(optionsFile: string): Promise<ChildProcess> {
    const p = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', 'test/servers/synapse/bridge-process.ts', optionsFile],
      {
        cwd: ROOT,
        env: { ...process.env, TS_NODE_PROJECT: 'tsconfig.jest.json' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    return new Promise((res, rej) => {
      p.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) res(p);
      });
      p.once('exit', (code) => rej(new Error(`bridge process exited with ${code}: ${err}`)));
    });
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mimi-matrix-kill-'));
    asPort = await freePort();
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
    writeFileSync(join(dir, 'registration.yaml'), renderRegistrationYaml(reg), { mode: 0o600 });
    hs = await startSynapse({ registrationFile: join(dir, 'registration.yaml'), serverName: SERVER_NAME });
    alice = await registerUser(hs, 'alice');
  }, 600_000);

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await hs?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loses no message and records none twice', async () => {
    const journal = join(dir, 'journal.jsonl');
    const options: MatrixBridgeOptions = {
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
    };
    const optionsFile = join(dir, 'bridge.json');
    writeFileSync(optionsFile, JSON.stringify({ options, journal, sinkDelayMs: SINK_DELAY_MS }));
    child = await startChild(optionsFile);
    const botId = `@mimibot:${SERVER_NAME}`;
    const roomId = await alice.createRoom({ preset: 'private_chat', invite: [botId] });
    await alice.waitForEvent(
      (e) => e.room_id === roomId && e.state_key === botId && e.content['membership'] === 'join',
    );

    const sent: string[] = [];
    const sending = (async () => {
      for (let i = 0; i < MESSAGES; i++) sent.push(await alice.sendText(roomId, `message ${i}`));
    })();
    // Kill while an event is in the sink's hands: handed over, not yet recorded, so its
    // transaction is certainly unacknowledged.
    let inFlight: string | undefined;
    await waitForFile(
      dir,
      () => {
        const recorded = journalIds(journal);
        if (recorded.filter((id) => sent.includes(id)).length < KILL_AFTER_RECORDED) return false;
        inFlight = sinkCalls(journal).find((id) => sent.includes(id) && !recorded.includes(id));
        return inFlight !== undefined;
      },
      60_000,
      `${KILL_AFTER_RECORDED} recorded messages and one in flight`,
    );
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    const beforeRestart = journalIds(journal).filter((id) => sent.includes(id)).length;
    await sending;
    expect(beforeRestart).toBeLessThan(MESSAGES);

    child = await startChild(optionsFile);
    await waitForFile(
      dir,
      () => sent.every((id) => journalIds(journal).includes(id)),
      120_000,
      'every message in the journal',
    );
    const ids = journalIds(journal).filter((id) => sent.includes(id));
    expect(ids).toHaveLength(MESSAGES);
    expect(new Set(ids).size).toBe(MESSAGES);
    // The journal kept Matrix order for the messages recorded before the kill.
    expect(ids.slice(0, beforeRestart)).toEqual(sent.slice(0, beforeRestart));
    // The message in flight at the kill was redelivered by Synapse and recorded once.
    expect(sinkCalls(journal).filter((id) => id === inFlight).length).toBeGreaterThanOrEqual(2);
    child.kill('SIGTERM');
  });
});
