"""Held-out conditions for the guidance choice: identities of one image each (FFHQ's case) work for perIdentity 1."""
import math

import pytest
import torch

from id3_torch.data.labelled_images import LabelledImages
from id3_torch.diffusion.measure import held_out_conditions, identity_scores
from id3_torch.encoders.base import IdentityEncoder


def _data(labels):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (len(labels), 3, 8, 8), generator=g, dtype=torch.uint8)
    return LabelledImages(images, torch.tensor(labels), tuple(str(i) for i in sorted(set(labels))))


def test_one_image_identities_are_their_own_partners_and_leave_genuine_cosine_out():
    data = _data([0, 1, 2, 3])
    conditions = held_out_conditions(data, per_identity=1)
    assert conditions.rows.tolist() == conditions.partner.tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match=r"identity 0 has 1 images; expected at least perIdentity \+ 1 = 3"):
        held_out_conditions(data, per_identity=2)
    encoder = IdentityEncoder(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 5)), input_size=8,
                              embedding_size=5, framing="dataset")
    real = data.images[conditions.rows]
    scores = identity_scores(encoder, real, real, data.images[conditions.partner], conditions.labels,
                             alone=conditions.partner == conditions.rows)
    assert scores["rank1"] == 1.0 and math.isnan(scores["genuineCosine"])  # samples equal to their conditions
    mixed = _data([0, 0, 1])  # one identity with a partner, one without
    conditions = held_out_conditions(mixed, per_identity=1)
    scores = identity_scores(encoder, mixed.images[conditions.rows], mixed.images[conditions.rows],
                             mixed.images[conditions.partner], conditions.labels, alone=conditions.partner == conditions.rows)
    e = torch.nn.functional.normalize(encoder.network(mixed.images.float() / 127.5 - 1), dim=-1)
    assert scores["genuineCosine"] == pytest.approx(float(e[0] @ e[1]), abs=1e-5)


def _channel_mean_encoder() -> IdentityEncoder:
    """Embedding = each channel's mean pixel value / 127.5: a colour (the network sees x/127.5 − 1)."""
    linear = torch.nn.Linear(3 * 8 * 8, 3)
    with torch.no_grad():
        linear.weight.copy_(torch.block_diag(*[torch.full((1, 64), 1 / 64)] * 3))
        linear.bias.fill_(1.0)
    return IdentityEncoder(torch.nn.Sequential(torch.nn.Flatten(), linear), input_size=8, embedding_size=3,
                           framing="dataset")


def test_person_rank1_asks_for_the_person_not_the_condition_photo():
    # Two identities of three photos: the first is the condition, the other two (red for identity 0, green for 1)
    # are the person. Conditions are mostly blue (their backgrounds); sample 0 copies its condition's blue but is
    # tinted green: nearest to its own condition photo (rank-1 right), nearest to the other person (person rank-1 wrong).
    colour = {"red": (200, 0, 0), "green": (0, 200, 0), "c0": (40, 0, 200), "c1": (40, 80, 200), "s0": (0, 20, 200)}
    image = lambda name: torch.tensor(colour[name], dtype=torch.uint8)[:, None, None].expand(3, 8, 8)  # noqa: E731
    data = LabelledImages(torch.stack([image(n) for n in ("c0", "red", "red", "c1", "green", "green")]),
                          torch.tensor([0, 0, 0, 1, 1, 1]), ("0", "1"))
    conditions = held_out_conditions(data, per_identity=1)
    assert conditions.rows.tolist() == [0, 3] and conditions.others.tolist() == [1, 2, 4, 5]
    scores = identity_scores(_channel_mean_encoder(), torch.stack([image("s0"), image("c1")]), data.images[conditions.rows],
                             data.images[conditions.partner], conditions.labels, others=data.images[conditions.others],
                             other_labels=data.labels[conditions.others])
    assert scores["rank1"] == 1.0 and scores["personRank1"] == 0.5 and scores["realPersonRank1"] == 1.0
    # Without other photos (FFHQ: one an identity) there is no person to ask for.
    alone = identity_scores(_channel_mean_encoder(), data.images[:2], data.images[:2], data.images[:2],
                            torch.tensor([0, 1]))
    assert math.isnan(alone["personRank1"]) and math.isnan(alone["realPersonRank1"])
