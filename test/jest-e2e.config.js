const unit = require('./jest-unit.config.js');
module.exports = {
  ...unit,
  testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'],
  testTimeout: 120000,
};
