"""The verification protocol against an independent plain-Python reading of its definition,
hand-worked cases, the flip-sum embedding helper, pair lists, and the bridge op."""
import json
import math

import numpy as np
import pytest
import torch

from id3_torch.bridge import jsonio
from id3_torch.data import parametric
from id3_torch.evaluation import (
    THRESHOLDS, flip_sum_embeddings, make_pairs, read_pairs_csv, tar_at_far, verify_pairs, write_pairs_csv,
)
from id3_torch.evaluation.ops import OPS
from id3_torch.evaluation.verification import fold_sizes, roc_curve


# --- An independent reference, written from the protocol's description, loops only ------------

def reference_distances(e1, e2):
    def normalise(v):
        norm = math.sqrt(sum(x * x for x in v))
        return [x / norm for x in v]

    return [sum((x - y) ** 2 for x, y in zip(normalise(a), normalise(b))) for a, b in zip(e1.tolist(), e2.tolist())]


def reference_accuracy(distances, same, threshold):
    right = sum(1 for d, s in zip(distances, same) if (d < threshold) == s)
    return right / len(distances)


def reference_protocol(e1, e2, same):
    """-> (mean accuracy, std, mean threshold, fold accuracies)."""
    distances = reference_distances(e1, e2)
    same = [bool(s) for s in same]
    thresholds = [i * 0.01 for i in range(400)]
    n = len(distances)
    bounds, start = [], 0
    for k in range(10):
        size = n // 10 + (1 if k < n % 10 else 0)
        bounds.append((start, start + size))
        start += size
    accuracies, chosen = [], []
    for lo, hi in bounds:
        train_d = distances[:lo] + distances[hi:]
        train_s = same[:lo] + same[hi:]
        best_threshold, best_accuracy = None, -1.0
        for t in thresholds:
            accuracy = reference_accuracy(train_d, train_s, t)
            if accuracy > best_accuracy:  # strictly better: the first maximum wins
                best_threshold, best_accuracy = t, accuracy
        accuracies.append(reference_accuracy(distances[lo:hi], same[lo:hi], best_threshold))
        chosen.append(best_threshold)
    mean = sum(accuracies) / 10
    std = math.sqrt(sum((a - mean) ** 2 for a in accuracies) / 10)
    return mean, std, sum(chosen) / 10, accuracies


def reference_tar_at_far(distances, same, far):
    """Best true-accept rate over every candidate threshold whose false-accept rate is <= far."""
    genuine = [d for d, s in zip(distances, same) if s]
    impostor = [d for d, s in zip(distances, same) if not s]
    best = 0.0
    for t in sorted(set(distances)) + [math.inf]:
        false_accepts = sum(1 for d in impostor if d < t)
        if false_accepts / len(impostor) <= far:
            best = max(best, sum(1 for d in genuine if d < t) / len(genuine))
    return best


def test_the_threshold_grid_is_insightfaces():
    assert THRESHOLDS.tolist() == [i * 0.01 for i in range(400)] == np.arange(0, 4, 0.01).tolist()


def correlated_pairs(rng, n, dim, noise):
    """Pairs alternating same/different in random order; same pairs are noisy copies."""
    e1 = rng.normal(size=(n, dim)).astype(np.float32)
    e2 = rng.normal(size=(n, dim)).astype(np.float32)
    same = rng.random(n) < 0.5
    e2[same] = e1[same] + noise * e2[same]
    return e1, e2, same


@pytest.mark.parametrize("n", [6000, 1003, 57])
def test_protocol_matches_the_reference_on_random_embeddings(n):
    rng = np.random.default_rng(n)
    e1, e2, same = correlated_pairs(rng, n, 32, noise=1.2)
    result = verify_pairs(e1, e2, same)
    mean, std, threshold, folds = reference_protocol(e1, e2, same)
    assert 0.6 < mean < 1.0  # a case where the threshold matters
    assert abs(result.accuracy - mean) < 1e-9
    assert abs(result.std - std) < 1e-9
    assert abs(result.threshold - threshold) < 1e-9
    np.testing.assert_allclose(result.fold_accuracy, folds, atol=1e-9, rtol=0)
    assert result.fold_pairs.tolist() == [n // 10 + (k < n % 10) for k in range(10)]


@pytest.mark.parametrize("n", [1003, 57])
def test_tar_at_far_matches_the_reference(n):
    rng = np.random.default_rng(n + 1)
    e1, e2, same = correlated_pairs(rng, n, 16, noise=1.0)
    result = verify_pairs(e1, e2, same)
    distances = reference_distances(e1, e2)
    for far in (1e-3, 1e-4, 0.01, 0.1):
        assert abs(tar_at_far(np.array(distances), same, far) - reference_tar_at_far(distances, same, far)) < 1e-9
    for far, tar in result.tar_at_far.items():
        assert abs(tar - reference_tar_at_far(distances, same, far)) < 1e-9
    assert result.tar_at_far[1e-3] > 0  # the nearest impostors are far enough for some genuine pairs


def test_protocol_matches_the_reference_with_ties():
    # Scaled one-hot embeddings: every distance is exactly 0, 2 or 4, on or off the threshold grid,
    # so whole runs of thresholds have equal accuracy and the first maximum must be taken.
    rng = np.random.default_rng(3)
    n, dim = 403, 3
    scale = rng.integers(1, 5, size=(n, 1))
    e1 = np.eye(dim)[rng.integers(dim, size=n)] * scale
    e2 = np.eye(dim)[rng.integers(dim, size=n)] * (1 - 2 * (rng.random((n, 1)) < 0.2))
    same = ((e1 * e2).sum(axis=1) > 0) ^ (rng.random(n) < 0.15)
    result = verify_pairs(e1, e2, same)
    mean, std, threshold, folds = reference_protocol(e1, e2, same)
    assert set(np.round(reference_distances(e1, e2), 12)) == {0.0, 2.0, 4.0}
    assert abs(result.accuracy - mean) < 1e-9 and abs(result.std - std) < 1e-9
    assert abs(result.threshold - threshold) < 1e-9
    np.testing.assert_allclose(result.fold_accuracy, folds, atol=1e-9, rtol=0)
    assert result.fold_threshold.tolist() == [0.01] * 10  # the first of the equally good 0.01..2.00


def _pair_at_distance(d):
    """Unit 2-D embeddings whose squared distance is d: 2 - 2 cos(theta) = d."""
    theta = math.acos(1 - d / 2)
    return [1.0, 0.0], [math.cos(theta), math.sin(theta)]


def test_hand_worked_example():
    # 20 pairs, 2 per fold: a same pair at d = 0.455, a different pair at d = 1.505, except that
    # fold 0's different pair is an impostor at d = 0.205.
    # Held out fold 0: the other folds separate perfectly for t in (0.455, 1.505]: t = 0.46, and
    #   fold 0 scores 1/2 (the impostor is accepted).
    # Held out fold k > 0: the training folds score 9/18 for t <= 0.205, 8/18 up to 0.455, 17/18 up
    #   to 1.505, then 9/18: t = 0.46 again, and fold k scores 2/2.
    # mean = (0.5 + 9) / 10 = 0.95; std = sqrt((0.45^2 + 9 * 0.05^2) / 10) = 0.15.
    distances = [0.455, 0.205] + [0.455, 1.505] * 9
    e1, e2 = (np.array(side) for side in zip(*(_pair_at_distance(d) for d in distances)))
    same = np.array([True, False] * 10)
    result = verify_pairs(e1, e2, same)
    assert result.fold_accuracy.tolist() == [0.5] + [1.0] * 9
    assert result.fold_threshold == pytest.approx([0.46] * 10, abs=1e-12)
    assert result.accuracy == pytest.approx(0.95, abs=1e-12)
    assert result.std == pytest.approx(0.15, abs=1e-12)
    assert result.threshold == pytest.approx(0.46, abs=1e-12)
    # 10 different pairs: FAR 1e-3 admits no impostor, so the threshold is the impostor's 0.205.
    assert result.tar_at_far[1e-3] == 0.0


def test_tar_at_far_hand_worked():
    genuine = [0.1, 0.3, 0.5, 0.7]
    d = np.array(genuine + [0.2, 0.6, 0.9, 1.0])
    same = np.array([True] * 4 + [False] * 4)
    assert tar_at_far(d, same, 0.25) == 0.75  # 1 impostor allowed: threshold 0.6 accepts 0.1, 0.3, 0.5
    assert tar_at_far(d, same, 0.2) == 0.25  # none allowed: threshold 0.2 accepts 0.1
    assert tar_at_far(d, same, 1.0) == 1.0
    tied = np.array(genuine + [0.2, 0.2, 0.9, 1.0])
    assert tar_at_far(tied, same, 0.25) == 0.25  # moving past 0.2 would accept two impostors
    assert math.isnan(tar_at_far(d, np.ones(8, bool), 1e-3))


def test_roc_curve_hand_worked():
    d = np.array([0.1, 0.3, 0.5, 0.7, 0.2, 0.6, 0.9, 1.0])
    same = np.array([True] * 4 + [False] * 4)
    far, tar = roc_curve(d, same, points=3)  # FAR from one impostor in four to all: 0.25, 0.5, 1
    np.testing.assert_allclose(far, [0.25, 0.5, 1.0])
    assert tar.tolist() == [0.75, 1.0, 1.0]  # thresholds 0.6, 0.9 and +inf
    empty = roc_curve(d, np.ones(8, bool))
    assert len(empty[0]) == len(empty[1]) == 0
    rng = np.random.default_rng(0)
    result = verify_pairs(rng.normal(size=(40, 8)), rng.normal(size=(40, 8)), np.arange(40) % 2)
    assert np.all(np.diff(result.roc[0]) > 0) and np.all(np.diff(result.roc[1]) >= 0)
    assert result.roc[1][-1] == 1.0


def test_separable_pairs_score_one_and_random_pairs_about_a_half():
    rng = np.random.default_rng(5)
    # The threshold is learnt at the edge of the training folds' genuine distances, so a held-out
    # genuine pair is only certain to pass when genuine distances stay below the first step, 0.01.
    e1, e2, same = correlated_pairs(rng, 2000, 64, noise=0.01)
    separable = verify_pairs(e1, e2, same)
    assert separable.accuracy == 1.0 and separable.std == 0.0
    assert separable.tar_at_far == {1e-3: 1.0, 1e-4: 1.0}
    e1, e2, same = correlated_pairs(rng, 6000, 64, noise=1e6)  # "same" pairs are unrelated too
    chance = verify_pairs(e1, e2, same)
    assert abs(chance.accuracy - 0.5) < 0.03
    assert chance.tar_at_far[1e-3] < 0.02


def test_bad_inputs_are_refused():
    e = np.ones((20, 4))
    with pytest.raises(ValueError, match="at least 10 pairs"):
        verify_pairs(e[:9], e[:9], np.ones(9, bool))
    with pytest.raises(ValueError, match="all zero"):
        verify_pairs(np.zeros((20, 4)), e, np.ones(20, bool))
    with pytest.raises(ValueError, match="0/1"):
        verify_pairs(e, e, np.full(20, 2))


# --- Flip-sum embeddings ----------------------------------------------------------------------

def test_flip_sum_embeddings_is_the_normalised_sum_of_image_and_mirror():
    images, _ = parametric.render_images(11, torch.tensor([0, 0, 1, 2, 3]), torch.tensor([0, 1, 0, 0, 0]), 32)
    weights = torch.randn(8, 3 * 32 * 32, generator=torch.Generator().manual_seed(0))

    def embed(x: torch.Tensor) -> torch.Tensor:  # a fixed linear map: not mirror-symmetric
        return x.float().flatten(1) @ weights.T

    got = flip_sum_embeddings(embed, images, batch_size=2)  # 5 images: batches of 2, 2, 1
    pixels = images.numpy().astype(np.float64)
    w = weights.numpy().astype(np.float64)
    expected = pixels.reshape(5, -1) @ w.T + pixels[:, :, :, ::-1].reshape(5, -1) @ w.T
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert got.shape == (5, 8) and got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-5)
    assert not np.allclose(embed(images).numpy(), embed(images.flip(3)).numpy())
    np.testing.assert_allclose(flip_sum_embeddings(embed, images.flip(3).numpy(), batch_size=3).numpy(), got, atol=1e-5)


# --- Pair lists -------------------------------------------------------------------------------

LABELS = np.repeat(np.arange(400), 6)  # 400 identities, 6 images each


def test_default_pairs_are_balanced_in_ten_identity_folds():
    pairs = make_pairs(LABELS, seed=1)
    assert len(pairs) == 6000
    assert np.bincount(pairs.fold).tolist() == [600] * 10
    assert np.bincount(pairs.fold[pairs.same]).tolist() == [300] * 10
    assert np.bincount(pairs.fold, weights=~pairs.same).tolist() == [300] * 10
    assert np.bincount(pairs.fold).tolist() == fold_sizes(len(pairs)).tolist()  # contiguous folds = identity folds
    assert np.all(np.diff(pairs.fold) >= 0)
    assert np.array_equal(LABELS[pairs.a] == LABELS[pairs.b], pairs.same)
    assert np.all(pairs.a < pairs.b)  # never an image with itself
    assert len(set(zip(pairs.a.tolist(), pairs.b.tolist()))) == 6000
    fold_of_identity = {}
    for k, a, b in zip(pairs.fold, LABELS[pairs.a], LABELS[pairs.b]):
        for identity in (a, b):
            assert fold_of_identity.setdefault(identity, k) == k
    assert len(fold_of_identity) > 300  # most identities take part


def test_pairs_are_determined_by_the_seed_and_any_label_type():
    names = np.array([f"person_{i:03d}" for i in LABELS])
    first = make_pairs(names, total=200, seed=7)
    again = make_pairs(names, total=200, seed=7)
    other = make_pairs(names, total=200, seed=8)
    for column in ("fold", "a", "b", "same"):
        assert np.array_equal(getattr(first, column), getattr(again, column))
    assert not np.array_equal(first.a, other.a)
    assert np.array_equal(names[first.a] == names[first.b], first.same)


def test_pairs_need_enough_identities_and_images():
    with pytest.raises(ValueError, match="multiple of 20"):
        make_pairs(LABELS, total=6010)
    with pytest.raises(ValueError, match="at least 20 identities"):
        make_pairs(np.repeat(np.arange(19), 5), total=20)
    with pytest.raises(ValueError, match="fold 0 allows only 2 distinct same-identity pairs, 5 wanted"):
        make_pairs(np.repeat(np.arange(20), 2), total=100)
    tight = make_pairs(np.repeat(np.arange(20), 2), total=40)  # every same pair there is
    assert tight.same.sum() == 20


def test_pairs_csv_round_trip_and_errors(tmp_path):
    pairs = make_pairs(LABELS, total=100, seed=2)
    path = tmp_path / "pairs.csv"
    write_pairs_csv(path, pairs)
    lines = path.read_text().splitlines()
    assert lines[0] == "fold,a,b,same" and len(lines) == 101
    assert lines[1] == f"0,{pairs.a[0]},{pairs.b[0]},1"
    back = read_pairs_csv(path)
    for column in ("fold", "a", "b", "same"):
        assert np.array_equal(getattr(back, column), getattr(pairs, column))
    path.write_text("fold,a,b,same\n0,1,2,1\n0,3,x,0\n")
    with pytest.raises(ValueError, match=r"pairs.csv:3: expected four integers"):
        read_pairs_csv(path)
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="expected the header"):
        read_pairs_csv(path)


# --- The bridge op ----------------------------------------------------------------------------

def test_verify_embeddings_op_reads_normalises_and_reports(tmp_path):
    rng = np.random.default_rng(9)
    e1, e2, same = correlated_pairs(rng, 1003, 16, noise=1.0)
    path = tmp_path / "pairs.npz"
    np.savez(path, e1=e1 * 7, e2=e2, same=same.astype(np.int8))  # scale: the op normalises
    result = json.loads(jsonio.dumps(OPS["evaluation.verify_embeddings"](path=str(path))))
    direct = verify_pairs(e1, e2, same)
    assert result["pairs"] == 1003
    assert result["accuracy"] == pytest.approx(direct.accuracy, abs=1e-12)
    assert result["std"] == pytest.approx(direct.std, abs=1e-12)
    assert result["threshold"] == pytest.approx(direct.threshold, abs=1e-12)
    assert result["tarAtFar"] == {"1e-3": direct.tar_at_far[1e-3], "1e-4": direct.tar_at_far[1e-4]}
    assert [f["pairs"] for f in result["folds"]] == [101] * 3 + [100] * 7
    assert [f["accuracy"] for f in result["folds"]] == direct.fold_accuracy.tolist()


def test_verify_embeddings_op_names_the_file_and_the_array(tmp_path):
    verify = OPS["evaluation.verify_embeddings"]
    path = tmp_path / "bad.npz"
    np.savez(path, e1=np.ones((20, 4)), same=np.ones(20, bool))
    with pytest.raises(ValueError, match=r"bad\.npz: missing array\(s\) e2; it holds e1, same"):
        verify(path=str(path))
    np.savez(path, e1=np.ones((20, 4)), e2=np.ones((20, 5)), same=np.ones(20, bool))
    with pytest.raises(ValueError, match=r"bad\.npz: e1 and e2 must have the same shape"):
        verify(path=str(path))
    np.savez(path, e1=np.ones((20, 4)), e2=np.ones(20), same=np.ones(20, bool))
    with pytest.raises(ValueError, match=r"bad\.npz: e2 must be an \(N, D\) float array, got shape \(20,\)"):
        verify(path=str(path))
    np.savez(path, e1=np.ones((20, 4)), e2=np.ones((20, 4)), same=np.ones(19, bool))
    with pytest.raises(ValueError, match=r"bad\.npz: same must be \(20,\) bool or integer"):
        verify(path=str(path))
    np.savez(path, e1=np.zeros((20, 4)), e2=np.ones((20, 4)), same=np.ones(20, bool))
    with pytest.raises(ValueError, match=r"bad\.npz: 20 embedding\(s\) are all zero"):
        verify(path=str(path))
    with pytest.raises(FileNotFoundError, match=r"missing\.npz: no such file"):
        verify(path=str(tmp_path / "missing.npz"))
    np.save(tmp_path / "one.npy", np.ones((20, 4)))
    with pytest.raises(ValueError, match=r"one\.npy: expected an \.npz archive"):
        verify(path=str(tmp_path / "one.npy"))
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ValueError, match=r"text\.npz: not a readable \.npz file"):
        verify(path=str(tmp_path / "text.npz"))
