/** Runs bridge-process.ts as a child process and talks to it (start, post, SIGKILL, events). */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { EchoKeyedPostResult } from '../../../bridges/kit/echo-keys';
import type { InboundEvent, RemoteUser } from '../../../src/ports';
import { BRIDGE_SPEC_ENV, type BridgeProcessSpec } from './bridge-spec';

const ROOT = join(__dirname, '..', '..', '..');
const READY_TIMEOUT_MS = 60_000;

export type RecordedEvent = InboundEvent & { readonly pid: number };

/** The events a bridge process wrote to `file`, in order. */
export function readEvents(file: string): RecordedEvent[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as RecordedEvent);
}

export class BridgeChild {
  private readonly results = new Map<string, (r: { result?: EchoKeyedPostResult; error?: string }) => void>();
  private exited: Promise<void>;
  private seq = 0;
  readonly output: string[] = [];

  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((res) => child.once('exit', () => res()));
  }

  get pid(): number {
    return this.child.pid!;
  }

  static async start(spec: BridgeProcessSpec): Promise<BridgeChild> {
    const child = spawn(
      process.execPath,
      ['-r', require.resolve('ts-node/register/transpile-only'), join(__dirname, 'bridge-process.ts')],
      {
        cwd: ROOT,
        env: { ...process.env, [BRIDGE_SPEC_ENV]: JSON.stringify(spec), TS_NODE_PROJECT: join(ROOT, 'tsconfig.json') },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    const bc = new BridgeChild(child);
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`bridge process not ready:\n${bc.output.join('\n')}`)),
        READY_TIMEOUT_MS,
      );
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`bridge process exited (${String(code)}):\n${bc.output.join('\n')}`));
      });
      createInterface({ input: child.stdout! }).on('line', (line) => {
        bc.output.push(line);
        if (line === 'READY') {
          clearTimeout(timer);
          resolve();
        } else if (line.startsWith('RESULT ')) {
          const msg = JSON.parse(line.slice(7)) as { id: string; result?: EchoKeyedPostResult; error?: string };
          bc.results.get(msg.id)?.(msg);
          bc.results.delete(msg.id);
        }
      });
      createInterface({ input: child.stderr! }).on('line', (line) => bc.output.push(line));
    });
    await ready;
    return bc;
  }

  /** Ask the bridge process to post; resolves with its result (the XMPP bridge's, with echo keys). */
  post(room: string, as: RemoteUser, text: string, key: string): Promise<EchoKeyedPostResult> {
    const id = String(++this.seq);
    return new Promise((resolve, reject) => {
      this.results.set(id, (r) => (r.result ? resolve(r.result) : reject(new Error(r.error ?? 'post failed'))));
      this.child.stdin!.write(`${JSON.stringify({ id, room, as, text, key })}\n`);
    });
  }

  /** Send `signal` and wait for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }
}
