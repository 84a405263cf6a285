/**
 * A gateway process with the in-memory platform behind it, for multi-process e2e tests and the
 * rooms bench (ISSUE3-CONTRACT §6):
 *
 *   MIMI_TEST_CONTROL_PORT=9001 node dist/test/support/memory-gateway.js --config gateway.yaml
 *
 * Starts the real gateway (startGateway with a DurableMemoryPlatform as its only bridge) and the
 * test-only control API (test/support/memory-gateway-control.ts) on 127.0.0.1:$MIMI_TEST_CONTROL_PORT
 * (0 or unset: any free port). Logs go to stdout; once everything listens it prints one line
 *
 *   MIMI-TEST-GATEWAY READY {"domain":"a.example","mimiUrl":...,"adminUrl":...,"controlUrl":...,"pid":...}
 *
 * SIGTERM/SIGINT: close the control API, then the gateway, then the platform journal; exit 0.
 *
 * Environment:
 * - MIMI_TEST_CONTROL_PORT: control API port.
 * - MIMI_TEST_PLATFORM_JOURNAL: the platform's journal file (default: `<database dir>/platform.jsonl`),
 *   kept across restarts so the legacy rooms survive like a real platform's.
 * - MIMI_TEST_EXIT_WITH_PARENT=1: exit when stdin closes (the harness that spawned us died).
 */
import 'reflect-metadata';
import { dirname, join, resolve } from 'node:path';
import { Logger } from '@nestjs/common';
import { errorMessage } from '../../src/common/errors';
import { GatewayConfig } from '../../src/config/gateway-config';
import { loadConfig } from '../../src/app.config';
import { resolveConfigPath } from '../../src/config/load-config';
import { startGateway } from '../../src/main';
import { startControlServer } from './memory-gateway-control';
import { DurableMemoryPlatform } from './memory-gateway-platform';

const READY_MARKER = 'MIMI-TEST-GATEWAY READY';
const CONTROL_PORT_ENV = 'MIMI_TEST_CONTROL_PORT';
const PLATFORM_JOURNAL_ENV = 'MIMI_TEST_PLATFORM_JOURNAL';
const EXIT_WITH_PARENT_ENV = 'MIMI_TEST_EXIT_WITH_PARENT';
const CONTROL_HOST = '127.0.0.1';

/** What the READY line carries. */
export interface ReadyInfo {
  readonly domain: string;
  readonly mimiUrl: string;
  readonly adminUrl?: string;
  readonly controlUrl: string;
  readonly pid: number;
}

function parseArgs(argv: readonly string[]): { configFile: string } {
  const i = argv.indexOf('--config');
  const configFile = i >= 0 ? argv[i + 1] : undefined;
  if (!configFile) throw new Error('usage: memory-gateway --config FILE');
  return { configFile: resolve(configFile) };
}

function journalPath(config: GatewayConfig): string {
  const fromEnv = process.env[PLATFORM_JOURNAL_ENV];
  if (fromEnv) return resolve(fromEnv);
  const dbDir =
    config.database.type === 'better-sqlite3' ? dirname(resolveConfigPath(config, config.database.path)) : '.';
  return join(dbDir, 'platform.jsonl');
}

async function main(): Promise<number> {
  const log = new Logger('MemoryGateway');
  const { configFile } = parseArgs(process.argv.slice(2));
  const config = loadConfig(configFile);
  const controlPort = Number(process.env[CONTROL_PORT_ENV] ?? '0');
  if (!Number.isInteger(controlPort) || controlPort < 0 || controlPort > 65535) {
    throw new Error(`${CONTROL_PORT_ENV}: a TCP port number`);
  }

  const platform = new DurableMemoryPlatform(journalPath(config));
  platform.log = (m) => log.log(m);
  const gateway = await startGateway(config, { bridges: [platform] });
  const control = await startControlServer(
    platform,
    { domain: config.provider.domain, mimiUrl: gateway.mimiUrl, adminUrl: gateway.adminUrl },
    CONTROL_HOST,
    controlPort,
  );
  const info: ReadyInfo = {
    domain: config.provider.domain,
    mimiUrl: gateway.mimiUrl,
    adminUrl: gateway.adminUrl,
    controlUrl: control.url,
    pid: process.pid,
  };
  process.stdout.write(`${READY_MARKER} ${JSON.stringify(info)}\n`);

  // startGateway enables Nest's shutdown hooks: on SIGTERM Nest closes the application and then
  // re-raises the signal. Then we only close what Nest does not know about; otherwise we close all.
  const nestHandlesSignals = process.listenerCount('SIGTERM') > 0;
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (why: string): void => {
      if (stopping) return;
      stopping = true;
      log.log(`${why}: shutting down`);
      control
        .close()
        .then(() => (nestHandlesSignals ? gateway.admin?.close() : gateway.close()))
        .then(
          () => {
            // With Nest shutting the gateway down, it may still post while we get here: keep
            // the journal open (the process exit closes it).
            if (nestHandlesSignals) return;
            platform.close();
            resolveExit(0);
          },
          (e: unknown) => {
            log.error(`shutdown failed: ${errorMessage(e)}`);
            platform.close();
            resolveExit(1);
          },
        );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    if (process.env[EXIT_WITH_PARENT_ENV] === '1') {
      process.stdin.on('end', () => {
        if (nestHandlesSignals) process.kill(process.pid, 'SIGTERM');
        else stop('parent gone (stdin closed)');
      });
      process.stdin.resume();
    }
  });
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`memory-gateway: could not start: ${e instanceof Error ? (e.stack ?? e.message) : e}\n`);
      process.exit(1);
    },
  );
}
