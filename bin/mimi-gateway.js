#!/usr/bin/env node
'use strict';
// Thin launcher: the CLI is compiled TypeScript under dist/ (npm run build).
const path = require('node:path');
const entry = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
let cli;
try {
  cli = require(entry);
} catch (e) {
  if (e && e.code === 'MODULE_NOT_FOUND' && String(e.message).includes(entry)) {
    process.stderr.write('mimi-gateway: not built yet. Run `npm run build` first.\n');
    process.exit(2);
  }
  throw e;
}
cli.main(process.argv).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`mimi-gateway: ${e && e.message ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
