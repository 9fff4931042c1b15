"""Verification pair lists from any labelled dataset, built the way LFW's protocol is.

Identities are split into 10 folds; each fold's pairs use only that fold's identities, half
same-identity and half different-identity, and the list is ordered fold by fold (same pairs,
then different pairs), so the contiguous 10-fold split of `verification.py` is exactly the
identity split: a threshold is never chosen on the people it is tested on.

A pair names images by row index into the dataset's manifest (0-based, the order of `labels`),
not by path, so a pair list stays valid wherever the images are stored.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..files import write_text_atomic
from .verification import N_FOLDS

CSV_HEADER = "fold,a,b,same"
_MAX_DRAW_ROUNDS = 1000  # rejection sampling below the capacity checked up front ends long before this


@dataclass(frozen=True)
class PairList:
    """Columns of a pair list; the comments say what `make_pairs` guarantees."""

    fold: np.ndarray  # (P,) int64, 0..9, non-decreasing
    a: np.ndarray  # (P,) int64 manifest row of the first image
    b: np.ndarray  # (P,) int64 manifest row of the second image, a < b
    same: np.ndarray  # (P,) bool

    def __len__(self) -> int:
        return len(self.same)


def make_pairs(labels: Sequence | np.ndarray, *, total: int = 6000, seed: int = 0) -> PairList:
    """`total` pairs from images labelled by identity: total/10 per identity fold, half of them same.

    Deterministic in (labels, total, seed). Same pairs: an identity drawn uniformly among the
    fold's identities with two or more images, then two of its images; different pairs: two
    distinct identities of the fold, one image each. No pair repeats and no image is paired with
    itself; an identity with many images does not crowd out the others.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels: expected one identity label per image (1-D), got shape {labels.shape}")
    if total <= 0 or total % (2 * N_FOLDS):
        raise ValueError(f"total: expected a positive multiple of {2 * N_FOLDS} (same/different halves in {N_FOLDS} folds), got {total}")
    _, identity = np.unique(labels, return_inverse=True)  # (N,) identity index of each image
    n_identities = int(identity.max()) + 1 if len(identity) else 0
    if n_identities < 2 * N_FOLDS:
        raise ValueError(f"labels: {N_FOLDS} folds need at least {2 * N_FOLDS} identities, got {n_identities}")
    by_identity = np.split(np.argsort(identity, kind="stable"), np.cumsum(np.bincount(identity))[:-1])

    rng = np.random.default_rng(seed)
    fold_identities = np.array_split(rng.permutation(n_identities), N_FOLDS)
    per_kind = total // (2 * N_FOLDS)
    rows: list[tuple[int, int, int, bool]] = []
    for k, identities in enumerate(fold_identities):
        groups = [by_identity[i] for i in identities]
        rows += [(k, a, b, True) for a, b in _same_pairs(rng, groups, per_kind, fold=k)]
        rows += [(k, a, b, False) for a, b in _different_pairs(rng, groups, per_kind, fold=k)]
    fold, a, b, same = (np.array(column) for column in zip(*rows))
    return PairList(fold=fold.astype(np.int64), a=a.astype(np.int64), b=b.astype(np.int64), same=same.astype(bool))


def _same_pairs(rng: np.random.Generator, groups: list[np.ndarray], m: int, *, fold: int) -> list[tuple[int, int]]:
    groups = [g for g in groups if len(g) >= 2]
    capacity = sum(math.comb(len(g), 2) for g in groups)
    if capacity < m:
        raise ValueError(f"labels: fold {fold} allows only {capacity} distinct same-identity pairs, {m} wanted")
    sizes = np.array([len(g) for g in groups])

    def draw(n: int) -> list[tuple[int, int]]:
        g = rng.integers(len(groups), size=n)
        i = rng.integers(sizes[g])
        j = rng.integers(sizes[g] - 1)
        j = j + (j >= i)  # a second, different image of the same identity
        return [(int(groups[gi][ii]), int(groups[gi][jj])) for gi, ii, jj in zip(g, i, j)]

    return _distinct_pairs(draw, m, fold=fold)


def _different_pairs(rng: np.random.Generator, groups: list[np.ndarray], m: int, *, fold: int) -> list[tuple[int, int]]:
    sizes = np.array([len(g) for g in groups])
    capacity = (int(sizes.sum()) ** 2 - int(np.square(sizes).sum())) // 2
    if capacity < m:
        raise ValueError(f"labels: fold {fold} allows only {capacity} distinct different-identity pairs, {m} wanted")

    def draw(n: int) -> list[tuple[int, int]]:
        g1 = rng.integers(len(groups), size=n)
        g2 = rng.integers(len(groups) - 1, size=n)
        g2 = g2 + (g2 >= g1)  # a second, different identity
        i, j = rng.integers(sizes[g1]), rng.integers(sizes[g2])
        return [(int(groups[x][ii]), int(groups[y][jj])) for x, y, ii, jj in zip(g1, g2, i, j)]

    return _distinct_pairs(draw, m, fold=fold)


def _distinct_pairs(draw: Callable[[int], list[tuple[int, int]]], m: int, *, fold: int) -> list[tuple[int, int]]:
    """The first m distinct unordered pairs (as a < b) from repeated batches of `draw(n)`."""
    chosen: dict[tuple[int, int], None] = {}  # a dict keeps the order of the draws
    for _ in range(_MAX_DRAW_ROUNDS):
        for a, b in draw(2 * (m - len(chosen)) + 16):
            chosen.setdefault((min(a, b), max(a, b)))
            if len(chosen) == m:
                return list(chosen)
    raise RuntimeError(f"fold {fold}: found only {len(chosen)} of {m} distinct pairs after {_MAX_DRAW_ROUNDS} rounds")


def write_pairs_csv(path: str | os.PathLike, pairs: PairList) -> None:
    """`fold,a,b,same` with same as 0/1, written whole (temporary file, then rename)."""
    lines = [CSV_HEADER] + [f"{k},{a},{b},{int(s)}" for k, a, b, s in zip(pairs.fold, pairs.a, pairs.b, pairs.same)]
    write_text_atomic(path, "\n".join(lines) + "\n")


def read_pairs_csv(path: str | os.PathLike) -> PairList:
    with open(path) as stream:
        lines = stream.read().splitlines()
    if not lines or lines[0].strip() != CSV_HEADER:
        raise ValueError(f"{path}: expected the header {CSV_HEADER!r}, got {lines[0] if lines else 'an empty file'!r}")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split(",")
        try:
            fold, a, b, same = (int(f) for f in fields)
        except ValueError:
            raise ValueError(f"{path}:{number}: expected four integers fold,a,b,same, got {line!r}") from None
        if not (0 <= fold < N_FOLDS and a >= 0 and b >= 0 and same in (0, 1)):
            raise ValueError(f"{path}:{number}: expected fold in 0..{N_FOLDS - 1}, rows >= 0 and same 0 or 1, got {line!r}")
        rows.append((fold, a, b, same))
    if not rows:
        raise ValueError(f"{path}: no pairs")
    fold, a, b, same = (np.array(column, dtype=np.int64) for column in zip(*rows))
    return PairList(fold=fold, a=a, b=b, same=same.astype(bool))
