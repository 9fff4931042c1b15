"""Fréchet distance, improved precision/recall and the real-vs-real split (evaluation/realism.py),
against closed forms, scipy's sqrtm formula and a brute-force double loop."""
from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
import scipy.linalg
import torch

from id3_torch.evaluation.realism import frechet_distance, precision_recall, realism_scores, split_halves

torch.set_num_threads(1)


def scipy_fd(real: np.ndarray, fake: np.ndarray) -> float:
    """pytorch-fid's calculate_frechet_distance (without its singular-matrix offset)."""
    mu1, mu2 = real.mean(axis=0), fake.mean(axis=0)
    s1, s2 = np.atleast_2d(np.cov(real, rowvar=False)), np.atleast_2d(np.cov(fake, rowvar=False))
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def correlated(rng: np.random.Generator, n: int, d: int, shift: float) -> np.ndarray:
    mixing = rng.normal(size=(d, d))
    return rng.normal(size=(n, d)) @ mixing + shift


def brute_precision_recall(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    def dist(a, b):
        return math.sqrt(sum((float(x) - float(y)) ** 2 for x, y in zip(a, b)))

    def radii(points):
        return [sorted(dist(p, q) for j, q in enumerate(points) if j != i)[k - 1] for i, p in enumerate(points)]

    def covered(queries, centres, r):
        return sum(any(dist(q, c) <= r[j] for j, c in enumerate(centres)) for q in queries) / len(queries)

    return covered(fake, real, radii(real)), covered(real, fake, radii(fake))


def grid(columns: range, rows: range) -> torch.Tensor:
    return torch.tensor([[x, y] for x in columns for y in rows], dtype=torch.float64)


# --- Fréchet distance ---------------------------------------------------------------------------

def test_fd_1d_closed_form():
    # In 1-D, (σ_r σ_f)^{1/2} = σ_r σ_f, so FD = (μ_r − μ_f)² + (σ_r − σ_f)² with sample (N − 1) σ.
    real = [1.0, 2.0, 3.0, 4.0, 6.0]
    fake = [0.0, 2.0, 5.0, 9.0]
    expected = (statistics.mean(real) - statistics.mean(fake)) ** 2 + (statistics.stdev(real) - statistics.stdev(fake)) ** 2
    got = frechet_distance(torch.tensor(real)[:, None], torch.tensor(fake)[:, None])
    assert got == pytest.approx(expected, abs=1e-9)
    assert expected > 4  # both terms matter: 0.64 from the means, about 3.97 from the spreads


def test_fd_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    real, fake = correlated(rng, 200, 8, 0.0), correlated(rng, 150, 8, 0.5)
    expected = scipy_fd(real, fake)
    got = frechet_distance(torch.from_numpy(real), torch.from_numpy(fake))
    assert got == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(torch.from_numpy(fake), torch.from_numpy(real)) == pytest.approx(got, rel=1e-9)


def test_fd_of_a_set_with_itself_is_zero():
    x = torch.from_numpy(correlated(np.random.default_rng(1), 100, 8, 3.0))
    assert abs(frechet_distance(x, x)) < 1e-9
    assert frechet_distance(x, x + 1.0) == pytest.approx(8.0, rel=1e-9)  # only the means differ, by 1 per axis


def test_fd_singular_covariances():
    # Rows in a 3-d subspace of 8-d space: both covariances have rank 3. The distance is invariant
    # under the isometric embedding, so it equals the full-rank 3-d one.
    rng = np.random.default_rng(2)
    basis, _ = np.linalg.qr(rng.normal(size=(8, 3)))
    real3, fake3 = correlated(rng, 40, 3, 0.0), correlated(rng, 30, 3, 1.0)
    expected = scipy_fd(real3, fake3)
    got = frechet_distance(torch.from_numpy(real3 @ basis.T), torch.from_numpy(fake3 @ basis.T))
    assert got == pytest.approx(expected, rel=1e-6)


def test_fd_float32_input_is_computed_in_float64():
    rng = np.random.default_rng(3)
    real, fake = torch.from_numpy(correlated(rng, 50, 4, 0.0)).float(), torch.from_numpy(correlated(rng, 60, 4, 0.2)).float()
    assert frechet_distance(real, fake) == frechet_distance(real.double(), fake.double())


# --- precision and recall -----------------------------------------------------------------------

def test_identical_sets():
    x = torch.from_numpy(np.random.default_rng(4).normal(size=(30, 5)))
    assert precision_recall(x, x.clone()) == {"precision": 1.0, "recall": 1.0, "k": 3}


def test_half_of_fake_far_away():
    real = grid(range(5), range(5))  # 25 points, spacing 1
    near = grid(range(2), range(5))  # the two left columns, on real points
    fake = torch.cat([near, near + 100])
    # Precision: the 10 near fakes sit on real points, the 10 far ones are ~140 from anything.
    # Recall (k = 3): a near fake's 3rd nearest other near fake is at 1 (inner rows) or √2 (end
    # rows), so the balls cover columns 0 and 1 (distance 0) and column 2 (distance 1), not column 3
    # (distance ≥ 2): 15 of 25 real points.
    assert precision_recall(real, fake, k=3) == {"precision": 0.5, "recall": 15 / 25, "k": 3}


def test_mode_collapse():
    real = grid(range(5), range(5))
    fake = torch.tensor([[2.0, 2.0]]).repeat(10, 1)  # every fake is the centre real point
    # Every fake is on a real point (precision 1); all fake radii are 0, so only the centre is covered.
    assert precision_recall(real, fake, k=3) == {"precision": 1.0, "recall": 1 / 25, "k": 3}


@pytest.mark.parametrize("seed", [5, 6])
def test_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    real, fake = rng.normal(size=(40, 2)), rng.normal(1.5, 1.0, size=(30, 2))
    precision, recall = brute_precision_recall(real, fake, k=3)
    assert 0 < precision < 1 and 0 < recall < 1  # both sides of every comparison get exercised
    got = precision_recall(torch.from_numpy(real), torch.from_numpy(fake), k=3)
    assert (got["precision"], got["recall"]) == (precision, recall)


def test_chunked_equals_unchunked():
    rng = np.random.default_rng(7)
    real, fake = torch.from_numpy(rng.normal(size=(50, 6))), torch.from_numpy(rng.normal(0.2, 1.1, size=(37, 6)))
    whole = precision_recall(real, fake, k=4, chunk_rows=10_000)
    assert precision_recall(real, fake, k=4, chunk_rows=7) == whole
    assert precision_recall(real, fake, k=4, chunk_rows=1) == whole
    # and the unchunked value against a direct full-matrix computation
    real_r = torch.cdist(real, real).fill_diagonal_(float("inf")).kthvalue(4, dim=1).values
    fake_r = torch.cdist(fake, fake).fill_diagonal_(float("inf")).kthvalue(4, dim=1).values
    d = torch.cdist(fake, real)
    assert whole["precision"] == (d <= real_r).any(dim=1).double().mean().item()
    assert whole["recall"] == (d.T <= fake_r).any(dim=1).double().mean().item()
    assert 0 < whole["precision"] < 1 and 0 < whole["recall"] < 1


# --- realism_scores and split_halves ------------------------------------------------------------

def test_realism_scores_combines_both():
    rng = np.random.default_rng(8)
    real, fake = torch.from_numpy(rng.normal(size=(40, 3))), torch.from_numpy(rng.normal(0.5, 1.0, size=(30, 3)))
    pr = precision_recall(real, fake, k=2)
    assert realism_scores(real, fake, k=2) == {
        "frechetDistance": frechet_distance(real, fake), "precision": pr["precision"], "recall": pr["recall"],
        "k": 2, "real": 40, "generated": 30,
    }


def test_split_halves():
    before = torch.random.get_rng_state()
    a, b = split_halves(11, seed=3)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert (len(a), len(b)) == (5, 6)
    assert sorted(torch.cat([a, b]).tolist()) == list(range(11))
    assert torch.equal(a, a.sort().values) and torch.equal(b, b.sort().values)
    again = split_halves(11, seed=3)
    assert torch.equal(again[0], a) and torch.equal(again[1], b)
    assert any(not torch.equal(split_halves(11, seed=s)[0], a) for s in (4, 5, 6))


# --- bad inputs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("call, match", [
    (lambda: frechet_distance(torch.zeros(1, 3), torch.zeros(5, 3)), r"real: expected at least 2 rows, got 1"),
    (lambda: frechet_distance(torch.zeros(5, 3), torch.zeros(1, 3)), r"fake: expected at least 2 rows, got 1"),
    (lambda: frechet_distance(torch.zeros(5, 3), torch.zeros(5, 4)), r"fake: expected 3 feature columns like real, got 4"),
    (lambda: frechet_distance(torch.zeros(5), torch.zeros(5, 1)), r"real: expected a 2-D"),
    (lambda: frechet_distance(torch.zeros(5, 2), torch.full((5, 2), float("nan"))), r"fake: expected finite values"),
    (lambda: precision_recall(torch.rand(10, 2), torch.rand(3, 2), k=3), r"fake: k=3 needs more than 3 rows.*got 3"),
    (lambda: precision_recall(torch.rand(3, 2), torch.rand(10, 2), k=3), r"real: k=3 needs more than 3 rows.*got 3"),
    (lambda: precision_recall(torch.rand(10, 2), torch.rand(10, 2), k=0), r"k: expected an integer >= 1, got 0"),
    (lambda: precision_recall(torch.rand(10, 2), torch.rand(10, 2), chunk_rows=0), r"chunk_rows: expected"),
    (lambda: realism_scores(torch.rand(10, 2), torch.rand(10, 3)), r"fake: expected 2 feature columns"),
    (lambda: split_halves(1, seed=0), r"n: expected an integer >= 2, got 1"),
])
def test_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()
