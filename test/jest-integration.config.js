// Integration tier: test/integration, test/interop and the specs that need the throwaway
// PostgreSQL cluster (listed in test/jest-base.js). The global setup starts one cluster for the
// run (or reuses MIMI_TEST_PG_URL) and the teardown stops it.
const { base, INTEGRATION_FOLDERS, INTEGRATION_SPECS } = require('./jest-base.js');

module.exports = {
  ...base,
  testMatch: [
    ...INTEGRATION_FOLDERS.map((f) => `<rootDir>/${f}/**/*.spec.ts`),
    ...INTEGRATION_SPECS.map((s) => `<rootDir>/${s}`),
  ],
  globalSetup: '<rootDir>/test/support/pg-global-setup.ts',
  globalTeardown: '<rootDir>/test/support/pg-global-teardown.ts',
};
