import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import importPlugin from 'eslint-plugin-import';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'stubs/**', 'bin/**', '*.js', '*.mjs', 'test/*.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    files: ['**/*.ts'],
    plugins: { import: importPlugin },
    languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'smart'],
      curly: ['error', 'multi-line'],
      'no-console': 'error',
      'import/no-restricted-paths': [
        'error',
        {
          zones: [
            { target: './src', from: './bridges', except: [], message: 'the core never imports bridges' },
            { target: './src/common', from: './src', except: ['./common'] },
            { target: './src/ports', from: './src', except: ['./ports', './common'] },
            { target: './src/config', from: './src', except: ['./config', './common'] },
            { target: './src/persistence', from: './src', except: ['./persistence', './common', './config'] },
            { target: './src/replication', from: ['./src/mimi', './src/rooms'] },
            { target: './bridges/matrix', from: './bridges/xmpp' },
            { target: './bridges/xmpp', from: './bridges/matrix' },
          ],
        },
      ],
    },
  },
  { files: ['registration/cli.ts', 'src/cli/**/*.ts', 'test/**/*.ts'], rules: { 'no-console': 'off' } },
);
