"""Real-side measurements reused across the jobs of one bridge process.

A sweep runs every variant's and seed's stages in one bridge process, and several of their jobs measure
the same real faces with the same networks (the demo: six generate jobs with one judge, six anchor stages
embedding one training split with one encoder). `memo` keeps the last value of each kind while its key,
which names files by their real path, size and modification time, is unchanged.
"""
from __future__ import annotations

import json
import os
from typing import Callable, TypeVar

T = TypeVar("T")
_MEMO: dict[str, tuple[str, object]] = {}  # name → (key, value): the last measurement of each kind


def file_identity(path: str) -> list:
    """A file's (or a folder's files') real path, size and modification time: what a memo key needs to notice a
    change. Real paths: every run of a sweep reaches the shared stage folders through its own links."""
    path = os.path.realpath(path)
    if os.path.isdir(path):
        return [file_identity(os.path.join(path, name)) for name in sorted(os.listdir(path))]
    stat = os.stat(path)
    return [path, stat.st_size, stat.st_mtime_ns]


def memo(name: str, key: object, compute: Callable[[], T]) -> T:
    """compute(), reused while `key` (JSON) is unchanged; one value per name bounds the memory."""
    text = json.dumps(key, sort_keys=True)
    hit = _MEMO.get(name)
    if hit is not None and hit[0] == text:
        return hit[1]  # type: ignore[return-value]
    value = compute()
    _MEMO[name] = (text, value)
    return value


def spec_key(spec: dict) -> dict:
    """An encoder or regressor spec, the files it names by their identity."""
    if isinstance(spec.get("path"), str) and os.path.exists(spec["path"]):
        return {**spec, "path": file_identity(spec["path"])}
    return spec


def real_key(real: dict) -> dict:
    """A {manifest, split} of real faces, the manifest by its identity."""
    return {**real, "manifest": file_identity(real["manifest"])}
