"""Exit 1, naming the differences, when this Python's installed packages differ from requirements.lock.

Run by scripts/setup.sh with the environment's own Python, so that an environment built from
another lock (or changed by hand) is never reused.
"""

import re
import sys
from importlib import metadata


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(path: str) -> dict[str, str]:
    pins = {}
    for line in open(path, encoding="utf-8"):
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line)
        if match:
            pins[normalise(match[1])] = match[2]
    return pins


def main(lock_path: str) -> int:
    installed = {normalise(d.metadata["Name"]): d.version for d in metadata.distributions()}
    wrong = [
        f"{name} {installed.get(name, 'missing')} (lock: {version})"
        for name, version in sorted(locked(lock_path).items())
        if installed.get(name) != version
    ]
    if wrong:
        print("differs from " + lock_path + ": " + ", ".join(wrong), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
