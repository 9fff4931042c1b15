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
