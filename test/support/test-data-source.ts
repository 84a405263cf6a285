import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { LoggerService } from '@nestjs/common';
import { Client } from 'pg';
import { DataSource, DataSourceOptions } from 'typeorm';
import { GatewayConfig } from '../../src/config/gateway-config';
import { validateConfig } from '../../src/config/load-config';
import { dataSourceOptions } from '../../src/persistence/create-data-source';
import { runMigrations } from '../../src/persistence/run-migrations';
import { TEST_PG_URL_ENV } from './pg-env';

export type TestDatabaseKind = 'sqlite' | 'postgres';

/** Both databases, for `describe.each(DATABASE_KINDS)`. */
export const DATABASE_KINDS: readonly TestDatabaseKind[] = ['sqlite', 'postgres'];

const TEST_PROVIDER_DOMAIN = 'gw.test';

/** Drops migration chatter from test output. */
export const SILENT_LOGGER: LoggerService = { log: () => {}, error: () => {}, warn: () => {} };

/**
 * One fresh, empty database: a temp-file SQLite database, or a new database in the test
 * PostgreSQL cluster. `open()` may be called several times (several gateway processes sharing
 * one database); `drop()` deletes it.
 */
export class TestDatabase {
  private constructor(
    readonly kind: TestDatabaseKind,
    readonly config: GatewayConfig,
    private readonly dropImpl: () => Promise<void>,
  ) {}

  /** A fresh database; PostgreSQL on the cluster at `pgAdminUrl` (default: the test cluster of MIMI_TEST_PG_URL). */
  static async create(kind: TestDatabaseKind, pgAdminUrl?: string): Promise<TestDatabase> {
    if (kind === 'sqlite') {
      const dir = mkdtempSync(join(tmpdir(), 'mimi-test-db-'));
      const config = testConfig({ type: 'better-sqlite3', path: 'gateway.sqlite' }, dir);
      return new TestDatabase(kind, config, async () => rmSync(dir, { recursive: true, force: true }));
    }
    const adminUrl = pgAdminUrl ?? process.env[TEST_PG_URL_ENV];
    if (!adminUrl) {
      throw new Error(
        `${TEST_PG_URL_ENV} is not set: this spec needs the integration tier ` +
          `(npm run test:integration; list it in test/jest-base.js), or point ${TEST_PG_URL_ENV} at a running cluster`,
      );
    }
    const name = `t_${randomBytes(8).toString('hex')}`;
    await withPgClient(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const config = testConfig({ type: 'postgres', url: url.toString(), poolSize: 4 }, tmpdir());
    return new TestDatabase(kind, config, async () => {
      await withPgClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    });
  }

  /** An initialized DataSource on this database (migrations not run). */
  async open(): Promise<DataSource> {
    const dataSource = new DataSource(dataSourceOptions(this.config));
    await dataSource.initialize();
    return dataSource;
  }

  async drop(): Promise<void> {
    await this.dropImpl();
  }
}

/** A DataSource whose destroy() also deletes its database. */
export class TestDataSource extends DataSource {
  constructor(
    options: DataSourceOptions,
    readonly database: TestDatabase,
  ) {
    super(options);
  }

  override async destroy(): Promise<void> {
    if (this.isInitialized) await super.destroy();
    await this.database.drop();
  }
}

/**
 * A fresh database of `kind` with every migration applied (unless `migrate: false`), as an
 * initialized DataSource; `destroy()` deletes the database. PostgreSQL needs the test cluster
 * (see TEST_PG_URL_ENV).
 */
export async function createTestDataSource(
  kind: TestDatabaseKind,
  opts: { migrate?: boolean } = {},
): Promise<TestDataSource> {
  const database = await TestDatabase.create(kind);
  const dataSource = new TestDataSource(dataSourceOptions(database.config), database);
  try {
    await dataSource.initialize();
    if (opts.migrate ?? true) await runMigrations(dataSource, SILENT_LOGGER);
  } catch (e) {
    await dataSource.destroy();
    throw e;
  }
  return dataSource;
}

function testConfig(database: Record<string, unknown>, baseDir: string): GatewayConfig {
  return validateConfig({ provider: { domain: TEST_PROVIDER_DOMAIN }, database }, { baseDir, env: {} });
}

/** Run `work` on a fresh connection to `url`, closed afterwards. */
export async function withPgClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
