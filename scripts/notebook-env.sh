#!/usr/bin/env bash
# Test-only Python environment with the Jupyter client (nbclient) that executes examples/id3.ipynb
# under the Deno kernel, installed from scripts/notebook-requirements.lock (exact versions, hashes).
# Prints that environment's python. Like setup.sh, it lives outside the clone, keyed by the hash of
# its lock and the Python version, so fresh clones reuse it; idempotent; concurrent callers wait on a
# lock. Everything but the final path goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
python_bin=${ID3_PYTHON_BOOTSTRAP:-python3}
cache_root=${ID3_CACHE_DIR:-$HOME/.cache/id3}
key=$( { cat scripts/notebook-requirements.lock; "$python_bin" -c 'import sys; print(sys.version)'; } | sha256sum | cut -c1-16)
env_dir="$cache_root/notebook-$key"

mkdir -p "$cache_root"
exec 9>"$cache_root/notebook-$key.lock"
flock 9
if [ ! -f "$env_dir/.complete" ]; then
  echo "notebook-env: creating $env_dir" >&2
  rm -rf "$env_dir"
  "$python_bin" -m venv "$env_dir"
  "$env_dir/bin/python" -m pip install --quiet --disable-pip-version-check \
    --require-hashes --no-deps --only-binary=:all: -r scripts/notebook-requirements.lock >&2
  "$env_dir/bin/python" -c 'import nbclient, nbformat' >&2
  # The marker is written last: an environment without it (a killed install) is rebuilt.
  touch "$env_dir/.complete"
fi
echo "$env_dir/bin/python"
