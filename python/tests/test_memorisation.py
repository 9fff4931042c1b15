"""Memorisation figures: nearest neighbours against a brute-force loop; a copied training image is caught, and
fresh images of other people are not."""
import pytest
import torch

from id3_torch.data import parametric
from id3_torch.evaluation.memorisation import closest_pairs, memorisation_figures, nearest, thumbnails


def test_nearest_equals_a_loop_over_every_pair_in_any_chunking():
    g = torch.Generator().manual_seed(0)
    queries, references = torch.randn(23, 6, generator=g), torch.randn(17, 6, generator=g)
    unit_q, unit_r = torch.nn.functional.normalize(queries, dim=1), torch.nn.functional.normalize(references, dim=1)
    for chunk in (1, 5, 100):
        cos, cos_index = nearest(unit_q, unit_r, measure="cosine", chunk=chunk)
        rms, rms_index = nearest(queries, references, measure="rms", chunk=chunk)
        for i in range(len(queries)):
            dots = [float(unit_q[i] @ unit_r[j]) for j in range(len(references))]
            distances = [float(((queries[i] - references[j]) ** 2).mean().sqrt()) for j in range(len(references))]
            assert cos[i] == pytest.approx(max(dots), abs=1e-6) and int(cos_index[i]) == dots.index(max(dots))
            assert rms[i] == pytest.approx(min(distances), abs=1e-6) and int(rms_index[i]) == distances.index(min(distances))
    with pytest.raises(ValueError, match="measure: expected 'cosine' or 'rms'"):
        nearest(queries, references, measure="l1")


def test_a_copied_training_image_is_caught_and_new_people_are_not():
    def faces(identities, image):
        return parametric.render_images(0, torch.tensor(identities), torch.full((len(identities),), image), 32)[0]

    training = thumbnails(faces(list(range(40)), 0))
    held_out = thumbnails(faces(list(range(100, 120)), 0))  # other people, photographed alike
    fresh = thumbnails(faces(list(range(200, 220)), 0))
    figures, score, index = memorisation_figures(fresh, held_out, training, measure="rms")
    assert figures["closerThanHeldOut"] < 0.25 and figures["generated"]["closest"] > 0.01
    copied = torch.cat([fresh[:19], training[7:8]])  # one generated image is training image 7
    figures, score, index = memorisation_figures(copied, held_out, training, measure="rms")
    assert figures["generated"]["closest"] == pytest.approx(0.0, abs=1e-6) and figures["closerThanHeldOut"] >= 1 / 20
    assert closest_pairs(score, index, measure="rms", count=1) == [(19, 7)]
    assert figures["heldOut"]["closest"] > 0.01 and figures["trainingImages"] == 40
