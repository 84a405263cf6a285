// What every jest tier shares, and which specs belong to the integration tier.
//
// Some dependencies are ESM-only (NestJS 12, @noble/*, @hpke/*, uid, file-type); jest's
// CommonJS runtime cannot require() them, so they are transformed too (see
// transformIgnorePatterns and test/support/esm-transform.js).
const esm = [
  '@nestjs',
  '@noble',
  '@hpke',
  'uid',
  'file-type',
  'strtok3',
  'token-types',
  '@tokenizer',
  'uint8array-extras',
  'load-esm',
].join('|');

const base = {
  rootDir: '..',
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
    '^.+\\.m?js$': '<rootDir>/test/support/esm-transform.js',
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esm})/)`],
  testTimeout: 30000,
};

/**
 * The integration tier (test/jest-integration.config.js): whole gateways wired together
 * (test/integration), the openmls interop peer (test/interop, a child process), and the specs
 * beside the code that need the throwaway PostgreSQL (they run on SQLite and PostgreSQL:
 * `describe.each(DATABASE_KINDS)`). Every other spec is in the unit tier. A spec that starts
 * using `createTestDataSource` / `TestDatabase` belongs in this list.
 */
const INTEGRATION_FOLDERS = ['test/integration', 'test/interop'];
const INTEGRATION_SPECS = [
  'src/persistence/migrations.spec.ts',
  'src/persistence/repositories/bridge-state.repository.spec.ts',
  'src/persistence/repositories/inbound-dedupe.repository.spec.ts',
  'src/persistence/repositories/media-asset.repository.spec.ts',
  'src/persistence/repositories/outbox.repository.spec.ts',
  'src/persistence/repositories/room-event.repository.spec.ts',
  'src/persistence/transaction-runner.spec.ts',
  'src/replication/outbox.service.spec.ts',
  'src/replication/outbox.worker.spec.ts',
  'src/replication/retention.service.spec.ts',
];

module.exports = { base, INTEGRATION_FOLDERS, INTEGRATION_SPECS };
