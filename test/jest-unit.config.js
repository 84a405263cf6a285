// Unit and integration tests (no external servers besides the throwaway PostgreSQL that
// the global setup starts). Some dependencies are ESM-only (NestJS 12, @noble/*,
// @hpke/*, uid, file-type); jest's CommonJS runtime cannot require() them, so they are
// transformed too (see transformIgnorePatterns and test/support/esm-transform.js).
const esm = ['@nestjs', '@noble', '@hpke', 'uid', 'file-type', 'strtok3', 'token-types', '@tokenizer', 'uint8array-extras', 'load-esm'].join('|');
module.exports = {
  rootDir: '..',
  testEnvironment: 'node',
  testMatch: ['<rootDir>/{src,bridges,registration,test}/**/*.spec.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
    '^.+\\.m?js$': '<rootDir>/test/support/esm-transform.js',
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esm})/)`],
  globalSetup: '<rootDir>/test/support/pg-global-setup.ts',
  globalTeardown: '<rootDir>/test/support/pg-global-teardown.ts',
  testTimeout: 30000,
};
