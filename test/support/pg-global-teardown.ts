import { execFileSync } from 'node:child_process';
import { OWNED_PG_DIR_ENV, PG_CLUSTER_SCRIPT, TEST_PG_URL_ENV } from './pg-env';

/** jest globalTeardown: stop the cluster pg-global-setup.ts started (not one given from outside). */
export default function pgGlobalTeardown(): void {
  const dir = process.env[OWNED_PG_DIR_ENV];
  if (!dir) return;
  execFileSync('bash', [PG_CLUSTER_SCRIPT, 'stop', dir], { stdio: 'inherit' });
  delete process.env[OWNED_PG_DIR_ENV];
  delete process.env[TEST_PG_URL_ENV];
}
