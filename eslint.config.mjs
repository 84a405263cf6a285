import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import importPlugin from 'eslint-plugin-import';

/**
 * What each folder may import (docs/ARCHITECTURE.md, "Layers"). A folder imports itself and the
 * entries of its list, nothing else of the repository; an entry may name one file of a folder.
 * The composition root (src/main.ts, src/app.module.ts, src/app.config.ts, src/cli/) and test/
 * may import anything. Specs beside the code are test code, so the table does not apply to them;
 * test kits (fakes, harnesses, fixtures) live under test/ (src/mls's `*.fixtures.ts` have yet to move).
 */
export const LAYERS = {
  'src/common': [],
  'src/ports': ['src/common'],
  'src/codec': ['src/common'],
  'src/config': ['src/common'],
  'src/persistence': ['src/common', 'src/config'],
  'src/mls': ['src/common', 'src/codec'],
  // src/mls/core/structs: the RFC 9420 codecs that delimit the MLS values MIMI structs embed.
  'src/mimi': ['src/common', 'src/config', 'src/codec', 'src/mls/core/structs', 'src/ports/delivery-target.port.ts'],
  'src/replication': ['src/common', 'src/config', 'src/ports', 'src/persistence'],
  'src/rooms': [
    'src/common',
    'src/config',
    'src/ports',
    'src/persistence',
    'src/codec',
    'src/mimi',
    'src/mls',
    'src/replication',
  ],
  'src/api': ['src/common', 'src/config', 'src/ports', 'src/mimi', 'src/rooms'],
  'bridges/kit': ['src/common', 'src/ports'],
  'bridges/matrix': ['bridges/kit', 'src/common', 'src/ports', 'registration'],
  'bridges/xmpp': ['bridges/kit', 'src/common', 'src/ports'],
  registration: ['src/common', 'src/config', 'bridges/matrix/matrix.config.ts', 'bridges/xmpp/xmpp.config.ts'],
};

/** Every unit of the table, plus the composition root and test/, which nobody below may import. */
const UNITS = [...Object.keys(LAYERS), 'src/main.ts', 'src/app.module.ts', 'src/app.config.ts', 'src/cli', 'test'];

/** `import/no-restricted-paths` zones: for each folder, one zone per unit it may not import. */
function zonesOf(layers) {
  const zones = [];
  for (const [target, allowed] of Object.entries(layers)) {
    const message = `${target} may import only ${allowed.join(', ') || 'nothing else of the repository'} (docs/ARCHITECTURE.md)`;
    for (const unit of UNITS) {
      if (unit === target || allowed.includes(unit)) continue;
      const except = allowed.filter((a) => a.startsWith(`${unit}/`)).map((a) => `./${a.slice(unit.length + 1)}`);
      zones.push({ target: `./${target}`, from: `./${unit}`, except, message });
    }
  }
  return zones;
}

/** The import rules on their own (test/lint/boundaries.spec.ts lints with just these). */
export const boundaries = {
  files: ['**/*.ts'],
  ignores: ['**/*.spec.ts'],
  plugins: { import: importPlugin },
  settings: {
    'import/parsers': { '@typescript-eslint/parser': ['.ts'] },
    'import/resolver': { typescript: { project: './tsconfig.json' }, node: true },
  },
  rules: {
    'import/no-restricted-paths': ['error', { zones: zonesOf(LAYERS) }],
    'import/no-cycle': ['error', { ignoreExternal: true }],
  },
};

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', 'stubs/**', 'bin/**', '*.js', '*.mjs', 'test/*.config.js'],
  },
  // Deliberate violations that test/lint/boundaries.spec.ts lints on purpose.
  { ignores: ['test/lint/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'smart'],
      curly: ['error', 'multi-line'],
      'no-console': 'error',
    },
  },
  boundaries,
  { files: ['registration/cli.ts', 'src/cli/**/*.ts', 'test/**/*.ts'], rules: { 'no-console': 'off' } },
);
