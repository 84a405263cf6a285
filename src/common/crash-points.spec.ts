import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CRASH_POINT_ENV, type CrashPoint, parseCrashPoint } from './crash-points';

/** The module loaded afresh under `value` of the variable, with process.kill recorded instead of run. */
function armedModule(value: string | undefined): {
  crashPoint: (p: CrashPoint) => void;
  kills: unknown[][];
} {
  const kills: unknown[][] = [];
  const saved = process.env[CRASH_POINT_ENV];
  if (value === undefined) delete process.env[CRASH_POINT_ENV];
  else process.env[CRASH_POINT_ENV] = value;
  let mod!: typeof import('./crash-points');
  try {
    jest.isolateModules(() => {
      mod = jest.requireActual<typeof import('./crash-points')>('./crash-points');
    });
  } finally {
    if (saved === undefined) delete process.env[CRASH_POINT_ENV];
    else process.env[CRASH_POINT_ENV] = saved;
  }
  jest.spyOn(process, 'kill').mockImplementation((...args: unknown[]) => {
    kills.push(args);
    return true;
  });
  jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  return { crashPoint: mod.crashPoint, kills };
}

afterEach(() => jest.restoreAllMocks());

describe('parseCrashPoint', () => {
  it('is off when the variable is unset or blank', () => {
    expect(parseCrashPoint(undefined)).toBeUndefined();
    expect(parseCrashPoint('  ')).toBeUndefined();
  });

  it('reads a point and an optional hit count', () => {
    expect(parseCrashPoint('after-store-before-ack')).toEqual({ point: 'after-store-before-ack', atHit: 1 });
    expect(parseCrashPoint('before-store:2')).toEqual({ point: 'before-store', atHit: 2 });
    expect(parseCrashPoint('after-send-before-mark-delivered:3')).toEqual({
      point: 'after-send-before-mark-delivered',
      atHit: 3,
    });
  });

  it('refuses an unknown point or a bad count, naming the variable', () => {
    expect(() => parseCrashPoint('after-lunch')).toThrow(/MIMI_GATEWAY_CRASH_POINT=after-lunch: unknown crash point/);
    expect(() => parseCrashPoint('after-store-before-ack:0')).toThrow(/positive integer/);
    expect(() => parseCrashPoint('after-store-before-ack:x')).toThrow(/positive integer/);
  });
});

describe('crashPoint', () => {
  it('does nothing when no point is armed', () => {
    const { crashPoint, kills } = armedModule(undefined);
    crashPoint('after-store-before-ack');
    crashPoint('after-send-before-mark-delivered');
    expect(kills).toEqual([]);
  });

  it('SIGKILLs the process at the armed point only, at the asked hit', () => {
    const { crashPoint, kills } = armedModule('after-send-before-mark-delivered:2');
    crashPoint('after-store-before-ack');
    crashPoint('after-send-before-mark-delivered');
    expect(kills).toEqual([]);
    crashPoint('after-send-before-mark-delivered');
    expect(kills).toEqual([[process.pid, 'SIGKILL']]);
  });

  it('really kills a process: nothing after the point runs', () => {
    const script = [
      "require('ts-node').register({ transpileOnly: true });",
      `const { crashPoint } = require(${JSON.stringify(join(__dirname, 'crash-points.ts'))});`,
      "process.stdout.write('before\\n');",
      "crashPoint('after-store-before-ack');",
      "process.stdout.write('after\\n');",
    ].join('\n');
    const run = spawnSync(process.execPath, ['-e', script], {
      env: { ...process.env, [CRASH_POINT_ENV]: 'after-store-before-ack' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.signal).toBe('SIGKILL');
    expect(run.stdout).toBe('before\n');
    expect(run.stderr).toContain('MIMI-CRASH-POINT after-store-before-ack (hit 1): SIGKILL');
  });
});
