import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OWNED_PG_DIR_ENV, PG_CLUSTER_SCRIPT, TEST_PG_URL_ENV } from './pg-env';

/**
 * jest globalSetup: start one throwaway PostgreSQL cluster for the whole run, unless
 * MIMI_TEST_PG_URL already points at one, and hand its URL to the tests through the
 * environment (workers are started after this and inherit it).
 */
export default function pgGlobalSetup(): void {
  if (process.env[TEST_PG_URL_ENV]) return;
  const dir = mkdtempSync(join(tmpdir(), 'mimi-test-pg-'));
  const url = execFileSync('bash', [PG_CLUSTER_SCRIPT, 'start', dir], { encoding: 'utf8' }).trim();
  process.env[TEST_PG_URL_ENV] = url;
  process.env[OWNED_PG_DIR_ENV] = dir;
}
