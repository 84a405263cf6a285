// Unit tier: the specs beside the code (src, bridges, registration) and the test kits' own specs
// (test/config, test/contract, test/fakes, test/lint, test/support). No database server and no
// network beyond loopback servers a spec starts itself; SQLite files in a temp folder are fine.
// The integration tier's specs are listed in test/jest-base.js.
const { base, INTEGRATION_FOLDERS, INTEGRATION_SPECS } = require('./jest-base.js');

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

module.exports = {
  ...base,
  testMatch: ['<rootDir>/{src,bridges,registration,test}/**/*.spec.ts'],
  testPathIgnorePatterns: [
    '/node_modules/',
    ...INTEGRATION_FOLDERS.map((f) => `<rootDir>/${escape(f)}/`),
    ...INTEGRATION_SPECS.map((s) => `<rootDir>/${escape(s)}$`),
  ],
};
