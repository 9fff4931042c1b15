"""The environment the tests run in is the lock's, and a lock it does not match is named by set-up's check."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "scripts" / "check-lock.py"


def _check(lock: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECK), str(lock)], capture_output=True, text=True)


def test_this_environment_has_exactly_the_locked_versions():
    result = _check(ROOT / "requirements.lock")
    assert result.returncode == 0, result.stderr


def test_a_changed_pin_is_named_and_refused(tmp_path):
    lock = (ROOT / "requirements.lock").read_text()
    import numpy
    changed = tmp_path / "requirements.lock"
    changed.write_text(lock.replace(f"numpy=={numpy.__version__} ", "numpy==1.0.0 "))
    assert changed.read_text() != lock
    result = _check(changed)
    assert result.returncode == 1
    assert f"numpy {numpy.__version__} (lock: 1.0.0)" in result.stderr
