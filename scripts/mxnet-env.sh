#!/usr/bin/env bash
# Test-only Python environment with MXNet 1.9.1, the reference our RecordIO reader and writer are
# checked against (python/tests/mxnet_helper.py runs in it). Prints that environment's python.
#
# Installed from scripts/mxnet-requirements.lock (exact versions, hashes). Like setup.sh, it lives
# outside the clone, keyed by the hash of that lock and the Python version,
# so fresh clones reuse it. Idempotent; concurrent callers wait on a lock instead of racing.
# MXNet 1.9.1 uses `np.bool`, removed in numpy 1.24, so numpy stays at 1.23.5, which has wheels
# for Python 3.8-3.11 only: ID3_MXNET_PYTHON_BOOTSTRAP picks another interpreter if python3 is newer.
# Everything but the final path goes to stderr.
set -euo pipefail

python_bin=${ID3_MXNET_PYTHON_BOOTSTRAP:-${ID3_PYTHON_BOOTSTRAP:-python3}}
cache_root=${ID3_CACHE_DIR:-$HOME/.cache/id3}
lock="$(dirname "$0")/mxnet-requirements.lock"  # mxnet 1.9.1, numpy 1.23.5 and their dependencies, with hashes

if ! "$python_bin" -c 'import sys; sys.exit(not (3, 8) <= sys.version_info[:2] <= (3, 11))'; then
  echo "mxnet-env: MXNet 1.9.1 with numpy 1.23.5 needs Python 3.8-3.11; $python_bin is $("$python_bin" -V 2>&1)." \
    "Set ID3_MXNET_PYTHON_BOOTSTRAP to such an interpreter." >&2
  exit 1
fi
key=$( { cat "$lock"; "$python_bin" -c 'import sys; print(sys.version)'; } | sha256sum | cut -c1-16)
env_dir="$cache_root/mxnet-$key"

mkdir -p "$cache_root"
exec 9>"$cache_root/mxnet-$key.lock"
flock 9
if [ ! -f "$env_dir/.complete" ]; then
  echo "mxnet-env: creating $env_dir (a ~50 MB wheel: under a minute the first time)" >&2
  rm -rf "$env_dir"
  "$python_bin" -m venv "$env_dir"
  "$env_dir/bin/python" -m pip install --quiet --disable-pip-version-check \
    --require-hashes --no-deps --only-binary=:all: -r "$lock" >&2
  "$env_dir/bin/python" -c 'import mxnet.recordio, mxnet.image' >&2
  # The marker is written last: an environment without it (a killed install) is rebuilt.
  touch "$env_dir/.complete"
fi
echo "$env_dir/bin/python"
