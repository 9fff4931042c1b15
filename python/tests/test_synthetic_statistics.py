"""The card's figures of a synthetic set (evaluation/synthetic.py), against direct computations."""
import math

import numpy as np
import torch
import torch.nn.functional as F

from id3_torch.evaluation.synthetic import (
    attribute_control, condition_agreement, encoder_statistics, identity_centres, identity_consistency,
    leave_one_out_cosines, leakage, separation,
)


def _unit(rows: int, dim: int, seed: int) -> torch.Tensor:
    return F.normalize(torch.randn(rows, dim, generator=torch.Generator().manual_seed(seed)), dim=1)


def test_centres_leave_one_out_consistency_and_conditions_by_hand():
    e = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([0, 0, 1, 1, 2])
    centres = identity_centres(e, labels, 3)
    torch.testing.assert_close(centres, torch.tensor([[math.sqrt(0.5), math.sqrt(0.5)], [1.0, 0.0], [0.0, 1.0]]))
    # Identity 0's two images are orthogonal: each against the other scores 0 (against a centre holding itself,
    # √½); identity 1's are equal: 1; identity 2 has one image, no other to compare with.
    loo = leave_one_out_cosines(e, labels, 3)
    torch.testing.assert_close(loo[:4], torch.tensor([0.0, 0.0, 1.0, 1.0]))
    assert loo[4].isnan()
    figures, _ = identity_consistency(e, labels, 3)
    assert math.isclose(figures["leaveOneOutCosine"], 0.5, rel_tol=1e-6)
    agreement = condition_agreement(e, labels, conditions=e, anchors=torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]]))
    assert math.isclose(agreement["meanCosineToCondition"], 1.0, rel_tol=1e-6)
    assert math.isclose(agreement["meanCosineToAnchor"], (0 + 1 + 1 + 1 + 0) / 5, rel_tol=1e-6)


def test_unrelated_images_score_the_chance_level_and_identities_score_above_it():
    # m = 6 random unit vectors an identity in 64-d: leave-one-out ≈ 0 (a centre holding the image itself would
    # give about √(1/m) = 0.41); the chance level (labels shuffled) agrees. Tight identities score far above it.
    n, m, d = 40, 6, 64
    labels = torch.arange(n).repeat_interleave(m)
    unrelated, _ = identity_consistency(_unit(n * m, d, seed=7), labels, n)
    assert abs(unrelated["leaveOneOutCosine"]) < 0.03 and abs(unrelated["chanceCosine"]) < 0.03
    tight = F.normalize(_unit(n, d, seed=8)[labels] + 0.3 * _unit(n * m, d, seed=9), dim=1)
    figures, _ = identity_consistency(tight, labels, n)
    assert figures["leaveOneOutCosine"] > 0.9 and abs(figures["chanceCosine"]) < 0.1  # shuffled groups share a few images


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


def test_attribute_control_against_direct_computations():
    labels = torch.tensor([0, 0, 0, 1, 1])
    requested = torch.tensor([[10.0, 1.0], [20.0, 1.0], [30.0, 1.0], [40.0, -5.0], [40.0, 5.0]])
    predicted = {"age": torch.tensor([12.0, 18.0, 30.0, 41.0, 39.0])}
    figures = attribute_control(predicted, requested, ("age", "yaw"), labels, 2)
    age = figures["age"]
    assert math.isclose(age["spreadAsked"], (np.std([10, 20, 30]) + 0.0) / 2, rel_tol=1e-9)
    assert math.isclose(age["spreadObtained"], (np.std([12, 18, 30]) + np.std([41, 39])) / 2, rel_tol=1e-6)
    assert math.isclose(age["error"], np.mean([2, 2, 0, 1, 1]), rel_tol=1e-6)
    assert math.isclose(age["meanPredictorError"], np.mean(np.abs(np.array([10, 20, 30, 40, 40]) - 28)), rel_tol=1e-9)
    assert math.isclose(age["correlation"], np.corrcoef([10, 20, 30, 40, 40], [12, 18, 30, 41, 39])[0, 1], rel_tol=1e-9)
    assert "yaw" not in figures  # not predicted: not judged


def test_one_encoders_statistics_of_a_set_near_its_training_identities():
    n, m, d = 6, 3, 8
    anchors = _unit(n, d, seed=4)
    labels = torch.arange(n).repeat_interleave(m)
    embeddings = F.normalize(anchors[labels] + 0.2 * _unit(n * m, d, seed=5), dim=1)
    statistics, histograms = encoder_statistics(embeddings, labels, n, training_centres=anchors[:2])
    assert statistics["leakage"]["closestCosine"] > 0.9  # identities 0 and 1 are the training ones
    assert statistics["identityConsistency"]["leaveOneOutCosine"] > statistics["identityConsistency"]["chanceCosine"] + 0.5
    assert len(histograms["leave-one-out cosine"]) == n * m and len(histograms["nearest training identity cosine"]) == n
