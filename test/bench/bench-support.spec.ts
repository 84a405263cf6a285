import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../support/e2e-gateways';
import { describeGatewayAllocator, shippedNodeFlags } from './bench-support';

const HEAP_FLAGS = ['--heap-growing-percent=20'];

describe('the node flags npm start gives the gateway (scripts/allocator.sh)', () => {
  const saved = process.env['MIMI_NODE_FLAGS'];
  afterEach(() => {
    if (saved === undefined) delete process.env['MIMI_NODE_FLAGS'];
    else process.env['MIMI_NODE_FLAGS'] = saved;
  });

  it('are the V8 heap flags unless MIMI_NODE_FLAGS is set', () => {
    delete process.env['MIMI_NODE_FLAGS'];
    expect(shippedNodeFlags()).toEqual(HEAP_FLAGS);
  });

  it("are none when MIMI_NODE_FLAGS is empty (V8's defaults), or what it names", () => {
    process.env['MIMI_NODE_FLAGS'] = '';
    expect(shippedNodeFlags()).toEqual([]);
    process.env['MIMI_NODE_FLAGS'] = '--max-semi-space-size=4';
    expect(shippedNodeFlags()).toEqual(['--max-semi-space-size=4']);
  });

  it('reach node through scripts/start.sh, before the entry point', () => {
    // A `node` first on PATH that prints its arguments instead of starting the gateway.
    const bin = mkdtempSync(join(tmpdir(), 'mimi-node-stub-'));
    try {
      writeFileSync(join(bin, 'node'), '#!/bin/sh\nprintf "%s\\n" "$@"\n');
      chmodSync(join(bin, 'node'), 0o755);
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        PATH: `${bin}:${process.env['PATH'] ?? ''}`,
        MIMI_ALLOCATOR: 'system',
      };
      delete env['MIMI_NODE_FLAGS'];
      const run = spawnSync('bash', [join(repoRoot(), 'scripts', 'start.sh'), '-c', 'x.yaml'], {
        env,
        encoding: 'utf8',
      });
      expect(run.status).toBe(0);
      expect(run.stdout.trim().split('\n')).toEqual([...HEAP_FLAGS, 'bin/mimi-gateway.js', 'start', '-c', 'x.yaml']);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('are named in the bench header', () => {
    expect(describeGatewayAllocator({}, HEAP_FLAGS)).toBe(
      "glibc malloc (the system's), node flags: --heap-growing-percent=20",
    );
    expect(describeGatewayAllocator({ LD_PRELOAD: '/lib/libjemalloc.so.2' }, [])).toBe(
      "jemalloc (/lib/libjemalloc.so.2), node flags: none (V8's defaults)",
    );
  });
});
