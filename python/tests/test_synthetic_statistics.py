"""The card's figures of a synthetic set (evaluation/synthetic.py), against direct computations."""
import math

import numpy as np
import torch
import torch.nn.functional as F

from id3_torch.evaluation.synthetic import (
    attribute_spread, identity_centres, identity_consistency, leakage, separation, synthetic_statistics,
)


def _unit(rows: int, dim: int, seed: int) -> torch.Tensor:
    return F.normalize(torch.randn(rows, dim, generator=torch.Generator().manual_seed(seed)), dim=1)


def test_centres_and_consistency_by_hand():
    e = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    labels = torch.tensor([0, 0, 1, 1])
    centres = identity_centres(e, labels, 2)
    torch.testing.assert_close(centres, torch.tensor([[math.sqrt(0.5), math.sqrt(0.5)], [1.0, 0.0]]))
    figures, to_centre = identity_consistency(e, labels, centres, conditions=e, anchors=torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
    torch.testing.assert_close(to_centre, torch.tensor([math.sqrt(0.5), math.sqrt(0.5), 1.0, 1.0]))
    assert math.isclose(figures["meanCosineToCentre"], (2 * math.sqrt(0.5) + 2) / 4, rel_tol=1e-6)
    assert math.isclose(figures["meanCosineToCondition"], 1.0, rel_tol=1e-6)
    assert math.isclose(figures["meanCosineToAnchor"], (0 + 1 + 1 + 1) / 4, rel_tol=1e-6)


def test_separation_in_blocks_equals_the_dense_computation():
    centres = _unit(37, 8, seed=1)
    dense = centres @ centres.T
    off = dense[~torch.eye(37, dtype=torch.bool)]
    for block in (5, 37, 100):
        figures = separation(centres, block=block)
        assert math.isclose(figures["maxCentreCosine"], float(off.max()), rel_tol=1e-6)
        assert math.isclose(figures["meanCentreCosine"], float(off.mean()), rel_tol=1e-5, abs_tol=1e-7)
        assert math.isclose(figures["minCentreAngle"], math.degrees(math.acos(float(off.max()))), rel_tol=1e-5)
    assert separation(centres[:1])["maxCentreCosine"] is None


def test_leakage_names_the_synthetic_identity_closest_to_any_training_one():
    training = _unit(20, 8, seed=2)
    synthetic = _unit(15, 8, seed=3)
    synthetic[6] = F.normalize(training[11] + 0.01 * synthetic[6], dim=0)  # a near copy of training identity 11
    figures, nearest = leakage(synthetic, training, block=4)
    torch.testing.assert_close(nearest, (synthetic @ training.T).max(dim=1).values)
    assert figures["closestIdentity"] == 6 and figures["closestCosine"] > 0.99
    assert figures["trainingIdentities"] == 20


def test_attribute_spread_is_the_mean_within_identity_standard_deviation():
    labels = torch.tensor([0, 0, 0, 1, 1])
    requested = torch.tensor([[10.0, 1.0], [20.0, 1.0], [30.0, 1.0], [40.0, -5.0], [40.0, 5.0]])
    predicted = {"age": torch.tensor([12.0, 18.0, 30.0, 41.0, 39.0])}
    figures = attribute_spread(predicted, requested, ("age", "yaw"), labels, 2)
    assert math.isclose(figures["requestedSpread"]["age"], (np.std([10, 20, 30]) + 0.0) / 2, rel_tol=1e-9)
    assert math.isclose(figures["requestedSpread"]["yaw"], (0.0 + 5.0) / 2, rel_tol=1e-9)
    assert math.isclose(figures["predictedSpread"]["age"], (np.std([12, 18, 30]) + np.std([41, 39])) / 2, rel_tol=1e-6)
    assert math.isclose(figures["error"]["age"], np.mean([2, 2, 0, 1, 1]), rel_tol=1e-6)
    assert "yaw" not in figures["predictedSpread"] and "yaw" not in figures["error"]


def test_statistics_of_a_set_whose_images_embed_as_their_conditions():
    n, m, d = 6, 3, 8
    anchors = _unit(n, d, seed=4)
    labels = torch.arange(n).repeat_interleave(m)
    conditions = F.normalize(anchors[labels] + 0.2 * _unit(n * m, d, seed=5), dim=1)
    statistics, histograms = synthetic_statistics(
        conditions, labels, conditions=conditions.numpy(), anchors=anchors.numpy(), attributes=np.zeros((n * m, 4), np.float32),
        attribute_names=("age", "yaw", "pitch", "roll"), predicted={}, training_centres=anchors[:2].numpy())
    assert math.isclose(statistics["identityConsistency"]["meanCosineToCondition"], 1.0, rel_tol=1e-5)
    assert statistics["leakage"]["closestCosine"] > 0.9  # identities 0 and 1 are the training ones
    assert len(histograms["cos(f(x_ij), c_i)"]) == n * m and len(histograms["nearest training identity cosine"]) == n
