"""Our side of the MXNet reference tests: where MXNet's python is, and running mxnet_helper.py under it."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HELPER = Path(__file__).with_name("mxnet_helper.py")


def find_mxnet_python() -> tuple[str | None, str]:
    """(the MXNet environment's python, or None, and why not): $ID3_MXNET_PYTHON, else scripts/mxnet-env.sh."""
    if os.environ.get("ID3_MXNET_PYTHON"):
        return os.environ["ID3_MXNET_PYTHON"], ""
    result = subprocess.run(["bash", str(REPO / "scripts" / "mxnet-env.sh")], capture_output=True, text=True,
                            timeout=900)
    if result.returncode != 0:
        return None, (f"the MXNet reference environment could not be created (scripts/mxnet-env.sh exited "
                      f"{result.returncode}): {result.stderr.strip()[-600:]}")
    return result.stdout.strip().splitlines()[-1], ""


def run_mxnet(python: str, *arguments) -> str:
    result = subprocess.run([python, str(HELPER), *map(str, arguments)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def mxnet_read(python: str, rec: Path, idx: Path, out_dir: Path) -> dict:
    out_dir.mkdir()
    return json.loads(run_mxnet(python, "read", rec, idx, out_dir))
