import { resolve } from 'node:path';

/** URL of the test PostgreSQL cluster; set by pg-global-setup.ts, or by the caller to reuse one. */
export const TEST_PG_URL_ENV = 'MIMI_TEST_PG_URL';

/** Folder of the cluster pg-global-setup.ts started itself; pg-global-teardown.ts stops it. */
export const OWNED_PG_DIR_ENV = 'MIMI_TEST_PG_OWNED_DIR';

export const PG_CLUSTER_SCRIPT = resolve(__dirname, '../../scripts/pg-cluster.sh');
