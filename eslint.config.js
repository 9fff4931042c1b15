// ESLint (TypeScript), run by `npm test` (scripts/test.sh): the recommended rules of ESLint and
// typescript-eslint; formatting is Prettier's (.prettierrc.json).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'runs/', 'python/', 'dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // tsc checks names (Node's and Deno's globals included); ESLint's no-undef knows no types.
      'no-undef': 'off',
      // `_name` marks a value taken only to be left out (destructuring a config slice).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
);
