// End-to-end tier: gateway processes, real Synapse / Prosody on loopback (no PostgreSQL).
const { base } = require('./jest-base.js');

module.exports = {
  ...base,
  testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'],
  testTimeout: 120000,
};
