/**
 * A MatrixBridge in its own process, for tests that kill it with SIGKILL. Its sink is a durable
 * journal (one JSON line per recorded event, fsync'd before the sink resolves) that recognises
 * redelivered events by platformEventId, as the core's store does.
 *
 *   node -r ts-node/register/transpile-only test/servers/synapse/bridge-process.ts OPTIONS.json
 *
 * OPTIONS.json: { options: MatrixBridgeOptions, journal: string, sinkDelayMs?: number }.
 * Prints "ready <port>" once started. Every sink call is also appended to `<journal>.calls`.
 */
import { appendFileSync, closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { MatrixBridge, type MatrixBridgeOptions } from '../../../bridges/matrix/matrix.bridge';
import type { InboundEvent } from '../../../src/ports';

interface ProcessOptions {
  readonly options: MatrixBridgeOptions;
  readonly journal: string;
  readonly sinkDelayMs?: number;
}

async function main(): Promise<void> {
  const opts = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as ProcessOptions;
  const recorded = new Set<string>(
    existsSync(opts.journal)
      ? readFileSync(opts.journal, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => (JSON.parse(l) as { id: string }).id)
      : [],
  );
  const sink = async (e: InboundEvent): Promise<void> => {
    appendFileSync(`${opts.journal}.calls`, `${e.platformEventId}\n`);
    if (opts.sinkDelayMs) await new Promise((r) => setTimeout(r, opts.sinkDelayMs));
    if (recorded.has(e.platformEventId)) return;
    const fd = openSync(opts.journal, 'a');
    try {
      const body = e.kind === 'message' && e.action.type === 'post' ? e.action.body.text : undefined;
      writeSync(fd, `${JSON.stringify({ id: e.platformEventId, kind: e.kind, body })}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    recorded.add(e.platformEventId);
  };
  const bridge = new MatrixBridge(opts.options);
  await bridge.start(sink);
  process.stdout.write(`ready ${bridge.port}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bridge-process: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
