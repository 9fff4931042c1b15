"""How close generated images are to real ones, measured on feature vectors.

The caller embeds both image sets with some encoder; everything here takes the two (N, d) and
(M, d) feature tensors:

- Fréchet distance (Heusel et al. 2017, "GANs trained by a two time-scale update rule"), the
  quantity behind FID, computed as pytorch-fid does (float64, covariances with N - 1);
- improved precision and recall (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric
  for Assessing Generative Models"): precision is how much of the generated set lies on the real
  manifold, recall how much of the real manifold the generated set covers.
"""
from __future__ import annotations

import torch

CHUNK_ROWS = 1024  # query rows per distance block: 1024 x 10k float64 is 80 MB, not 800 MB for 10k x 10k


def _features(name: str, x: torch.Tensor, *, min_rows: int) -> torch.Tensor:
    x = torch.as_tensor(x)
    if x.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (rows, features) tensor, got shape {tuple(x.shape)}")
    if x.shape[0] < min_rows:
        raise ValueError(f"{name}: expected at least {min_rows} rows, got {x.shape[0]}")
    if x.shape[1] < 1:
        raise ValueError(f"{name}: expected at least 1 feature column, got shape {tuple(x.shape)}")
    if x.is_complex() or x.dtype == torch.bool:
        raise ValueError(f"{name}: expected real numbers, got {x.dtype}")
    # float64 throughout: FD subtracts traces of similar size, and float32 loses digits there.
    x = x.to(torch.float64)
    if not torch.isfinite(x).all():
        raise ValueError(f"{name}: expected finite values, found NaN or infinity")
    return x


def _pair(real: torch.Tensor, fake: torch.Tensor, *, min_rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    real = _features("real", real, min_rows=min_rows)
    fake = _features("fake", fake, min_rows=min_rows)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"fake: expected {real.shape[1]} feature columns like real, got {fake.shape[1]}")
    return real, fake.to(real.device)


def _mean_cov(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mu = x.mean(dim=0)
    centred = x - mu
    return mu, centred.T @ centred / (x.shape[0] - 1)  # N - 1, as numpy.cov and so pytorch-fid


def _psd_sqrt(a: torch.Tensor) -> torch.Tensor:
    w, v = torch.linalg.eigh(a)
    # A covariance is PSD; rounding can leave eigenvalues like -1e-17 that sqrt would turn into NaN.
    return (v * w.clamp(min=0).sqrt()) @ v.T


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (at least 2 rows each):

        FD = ‖μ_r − μ_f‖² + Tr(Σ_r + Σ_f − 2 (Σ_r Σ_f)^{1/2})

    Tr((Σ_r Σ_f)^{1/2}) = Σ_i sqrt(λ_i(S Σ_f S)) with S = Σ_r^{1/2}: Σ_r Σ_f = S (S Σ_f) and
    S Σ_f S = (S Σ_f) S share their eigenvalues, and S Σ_f S is symmetric PSD, so a symmetric
    eigendecomposition suffices (no scipy.linalg.sqrtm, no complex parts, fine when Σ is singular).
    """
    real, fake = _pair(real, fake, min_rows=2)
    mu_r, cov_r = _mean_cov(real)
    mu_f, cov_f = _mean_cov(fake)
    s = _psd_sqrt(cov_r)
    m = s @ cov_f @ s
    m = (m + m.T) / 2  # exactly symmetric, as eigvalsh assumes
    trace_sqrt = torch.linalg.eigvalsh(m).clamp(min=0).sqrt().sum()
    fd = (mu_r - mu_f).square().sum() + cov_r.trace() + cov_f.trace() - 2 * trace_sqrt
    return float(fd)


def _distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # The matmul form is ~50x faster than differences at d = 512; in float64 its rounding (about
    # 1e-8 of the norms) cannot flip a comparison except between exact duplicates of each other.
    return torch.cdist(a, b, compute_mode="use_mm_for_euclid_dist")


def _knn_radii(x: torch.Tensor, k: int, *, chunk_rows: int) -> torch.Tensor:
    """(N,) distance from each row of x to its k-th nearest other row."""
    radii = []
    for start in range(0, len(x), chunk_rows):
        d = _distances(x[start:start + chunk_rows], x)
        rows = torch.arange(len(d), device=x.device)
        d[rows, start + rows] = float("inf")  # a point is not its own neighbour, duplicates are
        radii.append(d.kthvalue(k, dim=1).values)
    return torch.cat(radii)


def _covered(queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, *, chunk_rows: int) -> torch.Tensor:
    """(Q,) whether each query lies in at least one ball ‖q − c_j‖ ≤ r_j."""
    hits = []
    for start in range(0, len(queries), chunk_rows):
        d = _distances(queries[start:start + chunk_rows], centres)
        hits.append((d <= radii).any(dim=1))
    return torch.cat(hits)


def precision_recall(real: torch.Tensor, fake: torch.Tensor, *, k: int = 3, chunk_rows: int = CHUNK_ROWS) -> dict:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k nearest neighbours:

        r_k(x) = distance from x to its k-th nearest other point of its own set
        precision = (1/M) Σ_f 1[∃ r ∈ real: ‖f − r‖ ≤ r_k(r)]
        recall    = (1/N) Σ_r 1[∃ f ∈ fake: ‖r − f‖ ≤ r_k(f)]

    Each set needs more than k rows. Distances are computed chunk_rows query rows at a time.
    Returns {"precision", "recall", "k"}.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k: expected an integer >= 1, got {k!r}")
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"chunk_rows: expected an integer >= 1, got {chunk_rows!r}")
    real, fake = _pair(real, fake, min_rows=1)
    for name, x in (("real", real), ("fake", fake)):
        if k >= len(x):
            raise ValueError(f"{name}: k={k} needs more than {k} rows (the point itself is not a neighbour), got {len(x)}")
    real_radii = _knn_radii(real, k, chunk_rows=chunk_rows)
    fake_radii = _knn_radii(fake, k, chunk_rows=chunk_rows)
    precision = _covered(fake, real, real_radii, chunk_rows=chunk_rows).double().mean()
    recall = _covered(real, fake, fake_radii, chunk_rows=chunk_rows).double().mean()
    return {"precision": float(precision), "recall": float(recall), "k": k}


def realism_scores(real: torch.Tensor, fake: torch.Tensor, *, k: int = 3) -> dict:
    """Fréchet distance, precision and recall of fake against real, with camelCase keys for JSON:
    {"frechetDistance", "precision", "recall", "k", "real": N, "generated": M}."""
    real, fake = _pair(real, fake, min_rows=2)
    pr = precision_recall(real, fake, k=k)
    return {
        "frechetDistance": frechet_distance(real, fake),
        "precision": pr["precision"],
        "recall": pr["recall"],
        "k": k,
        "real": len(real),
        "generated": len(fake),
    }


def split_halves(n: int, *, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random split of 0..n-1 into two disjoint halves of n // 2 and n - n // 2 indices,
    each sorted; scoring one half of the real set against the other gives the "real vs real"
    reference row. Uses its own generator, so the global torch RNG is left untouched."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n: expected an integer >= 2, got {n!r}")
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=generator)
    return order[: n // 2].sort().values, order[n // 2:].sort().values


def realism_rows(real: int, generated: int, *, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The rows the card's realism figures compare, for `real` held-out and `generated` images: half A
    and half B of the real set (split_halves), and as many generated rows as B, drawn without
    replacement (FD and k-NN figures depend on set size). The same seed picks the same images for
    every feature space (the judge's, Inception's for FID)."""
    a, b = split_halves(real, seed=seed)
    pick = torch.randperm(generated, generator=torch.Generator().manual_seed(seed))[:len(b)]
    return a, b, pick


def realism_table(real: torch.Tensor, floor: torch.Tensor, generated: torch.Tensor, *, seed: int, k: int = 3) -> dict:
    """The card's realism rows, each against the same half A of the held-out real features `real`:
    generated (as many as the other half B, since FD and k-NN figures depend on set size), real vs real
    (B: what a perfect generator scores at this size) and floor (B's `floor` features, the same images
    made flat: what no face scores)."""
    a, b, pick = realism_rows(len(real), len(generated), seed=seed)
    return {"generated": realism_scores(real[a], generated[pick], k=k),
            "realVsReal": realism_scores(real[a], real[b], k=k),
            "floor": realism_scores(real[a], floor[b], k=k)}
