import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { validateConfig } from '../config/load-config';
import { SQLITE_BUSY_TIMEOUT_MS, createDataSource, dataSourceOptions } from './create-data-source';

const PROVIDER = { domain: 'gw.test' };
const PG_URL = 'postgres://mimi@127.0.0.1:5432/mimi';
const POOL_SIZE = 7;
const SQLITE_SYNCHRONOUS_FULL = 2;

describe(createDataSource.name, () => {
  let dir: string;
  let dataSource: DataSource | undefined;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'mimi-ds-'))));
  afterEach(async () => {
    if (dataSource?.isInitialized) await dataSource.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('opens SQLite under the config folder with WAL, synchronous=FULL, busy_timeout and foreign keys', async () => {
    const config = validateConfig(
      { provider: PROVIDER, database: { path: 'nested/dir/gw.sqlite' } },
      { baseDir: dir, env: {} },
    );

    dataSource = createDataSource(config);
    await dataSource.initialize();

    expect(existsSync(join(dir, 'nested/dir/gw.sqlite'))).toBe(true);
    const pragma = async (name: string) => Object.values((await dataSource!.query(`PRAGMA ${name}`))[0] as object)[0];
    expect(await pragma('journal_mode')).toBe('wal');
    expect(await pragma('synchronous')).toBe(SQLITE_SYNCHRONOUS_FULL);
    expect(await pragma('busy_timeout')).toBe(SQLITE_BUSY_TIMEOUT_MS);
    expect(await pragma('foreign_keys')).toBe(1);
  });
});

describe(dataSourceOptions.name, () => {
  it('never synchronizes the schema and never migrates implicitly', () => {
    for (const database of [{ type: 'better-sqlite3' }, { type: 'postgres', url: PG_URL }]) {
      const options = dataSourceOptions(validateConfig({ provider: PROVIDER, database }, { env: {} }));
      expect(options).toMatchObject({ synchronize: false, migrationsRun: false });
    }
  });

  it('connects to PostgreSQL by URL with the configured pool size', () => {
    const config = validateConfig(
      { provider: PROVIDER, database: { type: 'postgres', url: PG_URL, poolSize: POOL_SIZE } },
      { env: {} },
    );

    expect(dataSourceOptions(config)).toMatchObject({ type: 'postgres', url: PG_URL, poolSize: POOL_SIZE });
  });
});
