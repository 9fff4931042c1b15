"""Files that are whole or absent, for every writer in the package.

A file is written under a hidden temporary name in its own folder (`.<name>.<random>.tmp`: the
name that stage resumes sweep and folder indexes skip) and renamed into place once complete; a
failed or interrupted writer removes its temporary file, and a killed one leaves only that.
"""
from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path


def temporary_name(path: str | os.PathLike) -> Path:
    """A fresh hidden name beside `path` for writing it, for writers that rename it themselves."""
    final = Path(path)
    return final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yields the temporary path to write; renames it to `path` when the block ends without error."""
    final = Path(path)
    temporary = temporary_name(final)
    try:
        yield temporary
        os.replace(temporary, final)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        if error.filename is None:  # a failed write on an open file (a full disk) names none: name ours
            raise OSError(error.errno, error.strerror, str(final)) from error
        raise
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def read_card(folder: str, name: str, expected: str) -> tuple[str, dict]:
    """The JSON card `name` of a model folder, and its path; a missing one named with what `folder` should be."""
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{folder}: no {name} (expected {expected})")
    with open(path, encoding="utf-8") as f:
        return path, json.load(f)
