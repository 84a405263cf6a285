// Unit and integration tests (no external servers besides the throwaway PostgreSQL that
// scripts/test.sh starts). ts-mls, @noble/* and @hpke/* are ESM-only: jest's CommonJS
// runtime cannot require() them, so they are transformed too (see transformIgnorePatterns).
const esm = ['ts-mls', '@noble', '@hpke'].join('|');
module.exports = {
  rootDir: '..',
  testEnvironment: 'node',
  testMatch: ['<rootDir>/{src,bridges,registration,test}/**/*.spec.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json', isolatedModules: true }],
    '^.+\\.m?js$': ['ts-jest', { tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022' }, isolatedModules: true }],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esm})/)`],
  testTimeout: 30000,
};
