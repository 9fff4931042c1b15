#!/usr/bin/env bash
# All tests: types, lint, TypeScript (vitest, which also runs the Deno and CLI checks), Python (pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || { echo "no .venv: run \`npm run setup\` first" >&2; exit 1; }
echo "== tsc --noEmit"
npx tsc --noEmit
echo "== lint (npm run lint: ESLint, Prettier, ruff)"
bash scripts/lint.sh
echo "== vitest"
# One torch thread per Python: vitest runs two test files at a time on two cores.
OMP_NUM_THREADS=1 npx vitest run --exclude test/notebook.test.ts
# The notebook alone, on a quiet machine: under load the Deno kernel's outputs can trail the cell's end and nbclient
# drops them (reproduced with busy loops beside it: a figure or a table missing, no error).
OMP_NUM_THREADS=1 npx vitest run test/notebook.test.ts
echo "== pytest"
bash scripts/pytest.sh
