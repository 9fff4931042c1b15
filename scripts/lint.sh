#!/usr/bin/env bash
# Lint: ESLint (eslint.config.js) and Prettier's formatting (.prettierrc.json) for TypeScript and
# JavaScript, ruff (ruff.toml) for Python. `npm run format` rewrites what Prettier and ruff can fix.
set -euo pipefail
cd "$(dirname "$0")/.."
npx eslint .
npx prettier --check --log-level warn "**/*.{ts,js,mjs}"
.venv/bin/ruff check --quiet .
