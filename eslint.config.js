// Lint: the recommended rules of eslint and typescript-eslint, plus the layering rule the
// architecture depends on: the core imports nothing outside the core.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'data/', 'scratch/', 'web/dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: { globals: { process: 'readonly', URL: 'readonly', console: 'readonly' } },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['../db/*', '../../db/*', '../services/*', '../../services/*', '../http/*', '../../http/*', '../jobs/*', '../cli/*'], message: 'core imports nothing outside core' },
        { group: ['kysely', 'pg', '@electric-sql/*', 'fastify', 'node:fs*', 'node:net', 'node:http'], message: 'core does no I/O' },
      ] }],
    },
  },
);
