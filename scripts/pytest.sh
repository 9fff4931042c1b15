#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")/../python"
exec ../.venv/bin/python -m pytest -q "$@"
