/**
 * One child process at a time for the e2e harnesses (memory-platform gateways in e2e-gateways.ts,
 * real `mimi-gateway start` processes in test/e2e/support/cli-gateway-process.ts): spawn it with
 * its output appended to a log, know when and how it exited, stop it with SIGTERM (SIGKILL after a
 * timeout) or kill it. Every child is SIGKILLed if the test process exits without stopping it.
 */
import { ChildProcess, SpawnOptions, spawn } from 'node:child_process';
import type { WriteStream } from 'node:fs';

/** How a process ended. */
export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const DEFAULT_STOP_TIMEOUT_MS = 20_000;

/** Live children of this test process, killed if it exits abruptly. */
const LIVE_CHILDREN = new Set<ChildProcess>();
let exitHookInstalled = false;
function trackChild(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of LIVE_CHILDREN) c.kill('SIGKILL');
    });
  }
  LIVE_CHILDREN.add(child);
  child.once('exit', () => LIVE_CHILDREN.delete(child));
}

export class SupervisedChild {
  /** How the last run ended (undefined while running or before the first start). */
  lastExit?: ExitStatus;
  private child?: ChildProcess;
  private exited?: Promise<ExitStatus>;

  /** `name` appears in errors ("<name> is not running"). */
  constructor(private readonly name: string) {}

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** True while `child` (from `spawn`) is the running process, not an earlier one. */
  isCurrent(child: ChildProcess): boolean {
    return this.child === child;
  }

  /** Resolves when the current child exits. */
  whenExited(): Promise<ExitStatus> | undefined {
    return this.exited;
  }

  /**
   * Spawn `command args`. Its stderr goes to `log`, and its stdout too unless `ownStdout` (the
   * caller then reads and logs it). The exit is written to `log`, which is then closed.
   * @throws Error when a child is running already
   */
  spawn(
    command: string,
    args: readonly string[],
    options: SpawnOptions,
    log: WriteStream,
    ownStdout = false,
  ): ChildProcess {
    if (this.child) throw new Error(`${this.name} is already running (pid ${this.child.pid})`);
    this.lastExit = undefined;
    const child = spawn(command, args, options);
    this.child = child;
    trackChild(child);
    this.exited = new Promise<ExitStatus>((resolve) => {
      child.once('exit', (code, signal) => {
        const status = { code, signal };
        this.lastExit = status;
        if (this.child === child) this.child = undefined;
        log.end(`===== exited: code ${code} signal ${signal} =====\n`);
        resolve(status);
      });
    });
    if (!ownStdout) child.stdout?.on('data', (chunk: Buffer) => log.write(chunk));
    child.stderr?.on('data', (chunk: Buffer) => log.write(chunk));
    return child;
  }

  /**
   * SIGTERM and wait for the exit. Resolves with how it ended.
   * @throws Error when it did not exit within timeoutMs (it is then SIGKILLed).
   */
  async stop(timeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<ExitStatus> {
    const child = this.child;
    if (!child || !this.exited) throw new Error(`${this.name} is not running`);
    child.kill('SIGTERM');
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    const result = await Promise.race([this.exited, timeout]);
    if (result === 'timeout') {
      await this.kill();
      throw new Error(`${this.name} did not exit within ${timeoutMs} ms of SIGTERM; killed`);
    }
    return result;
  }

  /** SIGKILL (no chance to clean up) and wait for the exit. */
  async kill(): Promise<ExitStatus> {
    const child = this.child;
    if (!child || !this.exited) throw new Error(`${this.name} is not running`);
    child.kill('SIGKILL');
    return this.exited;
  }
}
