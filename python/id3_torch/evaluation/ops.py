"""Bridge ops for evaluation (registered in api.py)."""
from __future__ import annotations

import os
import zipfile

import numpy as np

from . import verification


def load_pair_embeddings(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(e1, e2, same) from an .npz holding e1 and e2 (N, D) floats and same (N,) bool or integer 0/1."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: expected an .npz archive with arrays e1, e2, same; got a single .npy array")
    with loaded as npz:
        arrays = {name: npz[name] for name in npz.files}
    missing = [name for name in ("e1", "e2", "same") if name not in arrays]
    if missing:
        raise ValueError(f"{path}: missing array(s) {', '.join(missing)}; it holds {', '.join(arrays) or 'nothing'}")
    e1, e2, same = arrays["e1"], arrays["e2"], arrays["same"]
    for name, e in (("e1", e1), ("e2", e2)):
        if e.ndim != 2 or not np.issubdtype(e.dtype, np.floating):
            raise ValueError(f"{path}: {name} must be an (N, D) float array, got shape {e.shape} {e.dtype}")
    if e1.shape != e2.shape:
        raise ValueError(f"{path}: e1 and e2 must have the same shape, got {e1.shape} and {e2.shape}")
    if same.shape != (len(e1),) or not (same.dtype == bool or np.issubdtype(same.dtype, np.integer)):
        raise ValueError(f"{path}: same must be ({len(e1)},) bool or integer, one flag per pair, got shape {same.shape} {same.dtype}")
    return e1, e2, same


def verify_embeddings(path: str) -> dict:
    """The verification protocol on the pair embeddings in `path` (normalised here, not flipped)."""
    e1, e2, same = load_pair_embeddings(os.fspath(path))
    try:
        result = verification.verify_pairs(e1, e2, same)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return {
        "pairs": result.pairs,
        "accuracy": result.accuracy,
        "std": result.std,
        "threshold": result.threshold,
        "tarAtFar": {f"{far:.0e}".replace("e-0", "e-"): tar for far, tar in result.tar_at_far.items()},
        "folds": [
            {"pairs": int(n), "accuracy": float(acc), "threshold": float(t)}
            for n, acc, t in zip(result.fold_pairs, result.fold_accuracy, result.fold_threshold)
        ],
        "protocol": verification.PROTOCOL,
    }


OPS = {"evaluation.verify_embeddings": verify_embeddings}
