/**
 * Every spec that needs the throwaway PostgreSQL (it uses the test data sources) must be in the
 * integration tier's list (test/jest-base.js): the unit tier does not start the cluster.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { INTEGRATION_FOLDERS, INTEGRATION_SPECS } = require('../jest-base.js') as {
  INTEGRATION_FOLDERS: string[];
  INTEGRATION_SPECS: string[];
};

const ROOT = join(__dirname, '..', '..');

function specFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : specFiles(path);
    return entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

describe('jest tiers', () => {
  it('lists every database-backed spec outside the integration folders in the integration tier', () => {
    const needsDatabase = ['src', 'bridges', 'registration', 'test']
      .flatMap(specFiles)
      .map((file) => relative(ROOT, join(ROOT, file)))
      .filter((file) => !INTEGRATION_FOLDERS.some((folder) => file.startsWith(folder + '/')))
      .filter((file) => /createTestDataSource|TestDatabase|DATABASE_KINDS/.test(readFileSync(join(ROOT, file), 'utf8')))
      .filter((file) => file !== 'test/support/jest-tiers.spec.ts');
    expect(needsDatabase.filter((file) => !INTEGRATION_SPECS.includes(file))).toEqual([]);
  });
});
