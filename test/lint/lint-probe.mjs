// Lints code with the import rules of eslint.config.mjs and prints the messages as JSON; run by
// boundaries.spec.ts in a child process (ESLint loads ESM config, which jest's CommonJS runtime
// cannot). Input on stdin: { "texts": [{ "filePath", "code" }], "files": ["path", ...] }, paths
// relative to the repository root. Texts are files that do not exist: import/no-cycle needs the
// file on disk, so it is off for them and checked on `files`.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import config, { boundaries } from '../../eslint.config.mjs';

const root = resolve(import.meta.dirname, '../..');
const input = JSON.parse(readFileSync(0, 'utf8'));
const base = { files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } };
const eslint = (extra) =>
  new ESLint({ cwd: root, ignore: false, overrideConfigFile: true, overrideConfig: [base, boundaries, ...extra] });

const messages = (results) =>
  results.flatMap((r) =>
    r.messages.map((m) => ({ file: r.filePath.slice(root.length + 1), ruleId: m.ruleId, message: m.message })),
  );

const out = { wired: config.includes(boundaries), texts: [], files: [] };
const noCycleOff = eslint([{ rules: { 'import/no-cycle': 'off' } }]);
for (const t of input.texts ?? []) {
  out.texts.push(messages(await noCycleOff.lintText(t.code, { filePath: resolve(root, t.filePath) })));
}
if ((input.files ?? []).length > 0) out.files = messages(await eslint([]).lintFiles(input.files));
process.stdout.write(JSON.stringify(out));
