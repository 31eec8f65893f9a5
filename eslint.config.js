// ESLint: typescript-eslint's recommended rules plus the house bans (see ../shared/STYLE.md):
// no console outside the CLI and the headless printer (blessed owns the terminal), no
// `rejectUnauthorized: false` outside the one upstream option that exists for it, and never
// NODE_TLS_REJECT_UNAUTHORIZED. Import direction is enforced by test/architecture.test.ts.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const noInsecureTls = [
  {
    selector: "Property[key.name='rejectUnauthorized'][value.value=false]",
    message:
      'Never `rejectUnauthorized: false`: give the client the CA instead (the only exception is the --insecure-upstream option in src/proxy/upstream.ts).',
  },
  {
    selector: "Literal[value='NODE_TLS_REJECT_UNAUTHORIZED']",
    message: 'Never NODE_TLS_REJECT_UNAUTHORIZED: give the client the CA instead.',
  },
  {
    selector: "MemberExpression[property.name='NODE_TLS_REJECT_UNAUTHORIZED']",
    message: 'Never NODE_TLS_REJECT_UNAUTHORIZED: give the client the CA instead.',
  },
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'coverage/**', 'certs/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      'no-restricted-syntax': ['error', ...noInsecureTls],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**', 'src/sinks/headless.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    // The one place an insecure upstream agent may be built, behind --insecure-upstream.
    files: ['src/proxy/upstream.ts'],
    rules: {
      'no-restricted-syntax': ['error', ...noInsecureTls.slice(1)],
    },
  },
);
