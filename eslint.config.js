// Lint TypeScript with the recommended typescript-eslint rules. AssemblyScript (assembly/, tests/assembly/,
// tests/fixtures/sdk-passthrough/) is
// TypeScript-shaped but not TypeScript (i32, unchecked(), decorators), so tsc-based linting does not apply to it;
// the AssemblyScript compiler is its checker.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'build/', 'dist/', 'console/dist/', '.tollgate/', 'assembly/', 'tests/assembly/', 'tests/fixtures/sdk-passthrough/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', fetch: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', WebAssembly: 'readonly', performance: 'readonly', queueMicrotask: 'readonly', structuredClone: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
);
