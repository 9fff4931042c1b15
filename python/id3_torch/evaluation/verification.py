"""Face verification on labelled pairs: the 10-fold protocol every face-recognition paper reports.

The convention is insightface's `verification.py` (LFW, CFP-FP, CPLFW, AgeDB-30, CALFW):
each image is embedded together with its horizontal flip (the two embeddings summed, then
L2-normalised); a pair's distance is the squared L2 distance of its two embeddings; the pairs
are split into 10 contiguous folds, in order; for each fold the threshold in 0.00, 0.01, ...,
3.99 with the best accuracy on the other nine folds (the first one, on ties) is applied to the
held-out fold. Reported: mean and (population) standard deviation of the 10 fold accuracies,
and the mean chosen threshold.

Extra, not part of that convention: TAR at FAR over all pairs at once (see `tar_at_far`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..encoders.base import IdentityEncoder

N_FOLDS = 10
THRESHOLDS = np.arange(0, 4, 0.01)  # (400,) the candidate thresholds, exactly as insightface builds them
FAR_TARGETS = (1e-3, 1e-4)
PROTOCOL = "10-fold, thresholds 0:4:0.01, squared L2, flip-sum"  # names the protocol in results tables


@dataclass(frozen=True)
class VerificationResult:
    pairs: int
    accuracy: float  # mean of the fold accuracies
    std: float  # numpy std (ddof 0) of the fold accuracies
    threshold: float  # mean of the fold thresholds
    tar_at_far: dict[float, float]  # FAR target -> TAR, over all pairs (NaN without same or different pairs)
    fold_pairs: np.ndarray  # (10,) pairs in each held-out fold
    fold_accuracy: np.ndarray  # (10,) accuracy on each held-out fold
    fold_threshold: np.ndarray  # (10,) threshold chosen on the other nine folds
    roc: tuple[np.ndarray, np.ndarray]  # (FAR, TAR) at thresholds between the different pairs' distances


def l2_normalise(embeddings: np.ndarray) -> np.ndarray:
    """Rows divided by their L2 norm, in float64; an all-zero or non-finite row is an error."""
    e = np.asarray(embeddings, dtype=np.float64)
    norm = np.sqrt(np.einsum("nd,nd->n", e, e))[:, None]  # (N, 1)
    bad = ~np.isfinite(norm[:, 0]) | (norm[:, 0] == 0)
    if bad.any():
        raise ValueError(f"{int(bad.sum())} embedding(s) are all zero or not finite (first: row {int(np.argmax(bad))})")
    return e / norm


def squared_distances(e1: np.ndarray, e2: np.ndarray) -> np.ndarray:
    """d_i = ||e1_i - e2_i||^2 for each pair."""
    diff = e1 - e2  # (N, D)
    return np.einsum("nd,nd->n", diff, diff)  # (N,)


def fold_sizes(n_pairs: int) -> np.ndarray:
    """Contiguous folds as sklearn's KFold(n_splits=10, shuffle=False): the first n % 10 hold one pair more."""
    if n_pairs < N_FOLDS:
        raise ValueError(f"verification needs at least {N_FOLDS} pairs, got {n_pairs}")
    sizes = np.full(N_FOLDS, n_pairs // N_FOLDS)
    sizes[: n_pairs % N_FOLDS] += 1
    return sizes


def ten_fold_accuracy(distance: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 10-fold protocol on precomputed distances: (fold sizes, fold accuracies, fold thresholds).

    A pair is predicted "same" at threshold t when d < t. Instead of a (threshold x pair) table,
    each pair is placed once: p = the number of thresholds <= d, so it is predicted same exactly
    at threshold indices t >= p; cumulative counts over p then give, for every fold and every
    threshold, how many pairs each fold gets right. Accuracies are compared as integer counts,
    so the first maximum is the same as with insightface's float accuracies.
    """
    d = np.asarray(distance, dtype=np.float64)
    same = np.asarray(same, dtype=bool)
    sizes = fold_sizes(len(d))
    fold = np.repeat(np.arange(N_FOLDS), sizes)  # (N,)
    n_t = len(THRESHOLDS)
    p = np.searchsorted(THRESHOLDS, d, side="right")  # (N,) in 0..n_t; n_t: never predicted same
    cell = fold * (n_t + 1) + p  # (N,)

    def below(mask: np.ndarray) -> np.ndarray:
        """(10, n_t): pairs of `mask` in each fold predicted same at each threshold (p <= t)."""
        counts = np.bincount(cell[mask], minlength=N_FOLDS * (n_t + 1)).reshape(N_FOLDS, n_t + 1)
        return np.cumsum(counts, axis=1)[:, :n_t]

    n_different = np.bincount(fold[~same], minlength=N_FOLDS)  # (10,)
    correct = below(same) + (n_different[:, None] - below(~same))  # (10, n_t) true accepts + true rejects
    train_correct = correct.sum(axis=0)[None, :] - correct  # (10, n_t) on the other nine folds
    best = np.argmax(train_correct, axis=1)  # (10,) the first best threshold index
    accuracy = correct[np.arange(N_FOLDS), best] / sizes
    return sizes, accuracy, THRESHOLDS[best]


def tar_at_far(distance: np.ndarray, same: np.ndarray, far: float) -> float:
    """True-accept rate at the most permissive threshold whose false-accept rate is at most `far`.

    Over all pairs (no folds): with k = floor(far * n_different), the threshold is the k-th
    smallest different-pair distance (0-based; +inf when k >= n_different), so at most k
    different pairs have d < threshold; TAR = share of same pairs with d < threshold.
    NaN when there are no same or no different pairs.
    """
    d = np.asarray(distance, dtype=np.float64)
    same = np.asarray(same, dtype=bool)
    d_different = np.sort(d[~same])
    if same.sum() == 0 or len(d_different) == 0:
        return math.nan
    k = math.floor(far * len(d_different) + 1e-9)  # the guard: 0.29 * 100 is 28.999999999999996
    threshold = d_different[k] if k < len(d_different) else math.inf
    return float(np.mean(d[same] < threshold))


ROC_POINTS = 64


def roc_curve(distance: np.ndarray, same: np.ndarray, *, points: int = ROC_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(FAR, TAR) with FAR on a log grid from one different pair to all of them, TAR by `tar_at_far`
    at each: the ROC curve reports draw (empty arrays without both kinds of pair)."""
    n_different = int((~np.asarray(same, dtype=bool)).sum())
    if n_different == 0 or np.asarray(same, dtype=bool).sum() == 0:
        return np.zeros(0), np.zeros(0)
    far = np.unique(np.geomspace(1.0 / n_different, 1.0, points))
    return far, np.array([tar_at_far(distance, same, f) for f in far])


def verify_pairs(e1: np.ndarray, e2: np.ndarray, same: np.ndarray) -> VerificationResult:
    """The protocol on pair embeddings (N, D) each; they are L2-normalised here, never flipped."""
    e1, e2 = np.asarray(e1), np.asarray(e2)
    same = np.asarray(same)
    if e1.ndim != 2 or e1.shape != e2.shape or same.shape != (len(e1),):
        raise ValueError(f"expected e1 and e2 of shape (N, D) and same of shape (N,), got {e1.shape}, {e2.shape}, {same.shape}")
    if not np.isin(same, (0, 1)).all():
        raise ValueError("same must hold only 0/1 or booleans")
    d = squared_distances(l2_normalise(e1), l2_normalise(e2))
    sizes, accuracy, threshold = ten_fold_accuracy(d, same)
    return VerificationResult(
        pairs=len(d),
        accuracy=float(np.mean(accuracy)),
        std=float(np.std(accuracy)),
        threshold=float(np.mean(threshold)),
        tar_at_far={far: tar_at_far(d, same, far) for far in FAR_TARGETS},
        fold_pairs=sizes,
        fold_accuracy=accuracy,
        fold_threshold=threshold,
        roc=roc_curve(d, same),
    )


@torch.no_grad()
def flip_sum_embeddings(embed_fn: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor | np.ndarray, *,
                        batch_size: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(N, 3, H, W) images -> (N, D) float32 on the CPU: normalise(embed(x) + embed(hflip(x))).

    `embed_fn` receives each batch as stored (uint8 or float) on `device` (default: where the
    images are): its own preprocessing belongs to it, so this works with any recognition model.
    """
    images = torch.as_tensor(images)
    if images.ndim != 4:
        raise ValueError(f"expected images of shape (N, C, H, W), got {tuple(images.shape)}")
    rows = []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].to(device)  # (B, C, H, W)
        e = embed_fn(x) + embed_fn(torch.flip(x, dims=[3]))  # (B, D)
        rows.append(torch.nn.functional.normalize(e.float(), dim=1).cpu())
    return torch.cat(rows)


def encoder_embeddings(encoder: IdentityEncoder, images: torch.Tensor | np.ndarray, *, batch_size: int,
                       device: torch.device | str | None = None) -> torch.Tensor:
    """The one verification embedding of every command (`evaluate`, `id3 verify`), insightface's: the network's
    raw embeddings of the image and of its mirror image summed, then normalised once. uint8 images go to
    [-1, 1] first, as every IdentityEncoder takes them."""
    def raw(x: torch.Tensor) -> torch.Tensor:
        return encoder.network(x.float() / 127.5 - 1.0 if x.dtype == torch.uint8 else x)

    return flip_sum_embeddings(raw, images, batch_size=batch_size, device=device)


def result_json(result: VerificationResult) -> dict:
    """A verification result as the TypeScript `VerificationResult` (src/evaluation/verification.ts) reads it."""
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
        "roc": {"far": result.roc[0].tolist(), "tar": result.roc[1].tolist()},
        "protocol": PROTOCOL,
    }
