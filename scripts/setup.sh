#!/usr/bin/env bash
# Set up id3 on this machine: the Node packages and the Python environment.
#
# The Python environment is installed from requirements.lock (exact versions and hashes) and lives
# outside the clone, keyed by the hash of the lock and the Python version, so that a fresh clone on
# a machine that has run this before (CI clones afresh every time) reuses it instead of downloading
# torch again. `.venv` links to it. An environment is reused only while its installed versions are
# the lock's (scripts/check-lock.py): a stale or hand-changed one is rebuilt, so it cannot hide a failure.
# Idempotent: a second run only checks that everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin=${ID3_PYTHON_BOOTSTRAP:-python3}
cache_root=${ID3_CACHE_DIR:-$HOME/.cache/id3}
key=$( { cat requirements.lock; "$python_bin" -c 'import sys; print(sys.version)'; } | sha256sum | cut -c1-16)
env_dir="$cache_root/venv-$key"

if [ -f "$env_dir/.complete" ] && ! "$env_dir/bin/python" scripts/check-lock.py requirements.lock; then
  echo "id3 setup: $env_dir no longer matches requirements.lock: rebuilding it"
  rm -f "$env_dir/.complete"
fi
if [ ! -f "$env_dir/.complete" ]; then
  echo "id3 setup: creating the Python environment in $env_dir from requirements.lock (torch is large: minutes the first time)"
  rm -rf "$env_dir"
  mkdir -p "$cache_root"
  "$python_bin" -m venv "$env_dir"
  "$env_dir/bin/python" -m pip install --quiet --disable-pip-version-check \
    --require-hashes --no-deps --only-binary=:all: -r requirements.lock
  "$env_dir/bin/python" scripts/check-lock.py requirements.lock
  # The marker is written last: an environment without it (a killed setup) is rebuilt.
  touch "$env_dir/.complete"
fi
ln -sfn "$env_dir" .venv

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "id3 setup: installing Node packages"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "id3 setup: ready (python: $(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
