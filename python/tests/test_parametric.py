"""Tests for the parametric face renderer and the image-file helpers."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
import torch
from PIL import Image

from id3_torch.data import image_files
from id3_torch.data.parametric import (
    ATTRIBUTE_NAMES,
    P_ID,
    NuisanceRanges,
    identity_params,
    image_params,
    render,
    render_images,
)

SEED = 7


def _grid_of_images(n_identities: int, n_images: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Identity and image indices for n_identities x n_images images, identity-major."""
    identities = torch.arange(n_identities).repeat_interleave(n_images)
    image_indices = torch.arange(n_images).repeat(n_identities)
    return identities, image_indices


@pytest.fixture(scope="module")
def verification_set():
    """40 identities x 10 images at 64 px: (images (400, 3, 64, 64) uint8, identities (400,))."""
    identities, image_indices = _grid_of_images(40, 10)
    images, _ = render_images(SEED, identities, image_indices, 64)
    return images, identities


def _pair_indices(identities: torch.Tensor):
    """All unordered pairs (i < j) and whether they share an identity."""
    first, second = torch.triu_indices(len(identities), len(identities), offset=1)
    return first, second, identities[first] == identities[second]


def _best_threshold_accuracy(scores: torch.Tensor, same: torch.Tensor) -> float:
    """Accuracy of the best threshold 'same if score >= t' on a balanced pair set."""
    order = scores.argsort(descending=True)
    labels = same[order].to(torch.float64)
    true_positives = labels.cumsum(0)
    false_positives = (1.0 - labels).cumsum(0)
    negatives = float(len(labels) - labels.sum())
    correct = true_positives + (negatives - false_positives)  # threshold just below each score
    return max(correct.max().item(), negatives, float(labels.sum())) / len(labels)


# 1. Shape, dtype, range ---------------------------------------------------------------------------


@pytest.mark.parametrize("resolution", [32, 64, 128])
def test_render_shape_dtype_and_range(resolution):
    identities, image_indices = _grid_of_images(4, 4)
    images, nuisance = render_images(SEED, identities, image_indices, resolution)
    assert images.shape == (16, 3, resolution, resolution)
    assert images.dtype == torch.uint8
    # Real pictures, not blank or saturated frames: dark and bright pixels and a wide spread.
    pixels = images.float()
    assert pixels.min() < 40 and pixels.max() > 215
    assert pixels.std() > 35
    assert (pixels.flatten(1).std(dim=1) > 15).all()  # every image has contrast
    assert set(ATTRIBUTE_NAMES) <= set(nuisance)


def test_render_rejects_bad_inputs():
    identities, image_indices = _grid_of_images(1, 1)
    identity = identity_params(SEED, identities)
    nuisance = image_params(SEED, identities, image_indices, NuisanceRanges())
    for resolution in (31, 129):
        with pytest.raises(ValueError):
            render(identity, nuisance, resolution)
    with pytest.raises(ValueError):  # one identity row, two nuisance rows
        render(identity, {k: torch.cat([v, v]) for k, v in nuisance.items()}, 64)


def test_render_empty_batch():
    empty = torch.zeros(0, dtype=torch.int64)
    images, nuisance = render_images(SEED, empty, empty, 32)
    assert images.shape == (0, 3, 32, 32) and nuisance["age"].shape == (0,)


# 2. Determinism -----------------------------------------------------------------------------------


def test_same_call_gives_same_bytes():
    identities, image_indices = _grid_of_images(6, 5)
    first, first_nuisance = render_images(SEED, identities, image_indices, 64)
    second, second_nuisance = render_images(SEED, identities, image_indices, 64)
    assert torch.equal(first, second)
    assert all(torch.equal(first_nuisance[k], second_nuisance[k]) for k in first_nuisance)


def test_image_alone_equals_image_in_shuffled_batch():
    identities, image_indices = _grid_of_images(32, 8)  # 256 images
    order = torch.randperm(256, generator=torch.Generator().manual_seed(3))
    identities, image_indices = identities[order], image_indices[order]
    batch, batch_nuisance = render_images(SEED, identities, image_indices, 64)
    for position in (0, 37, 128, 255):
        alone, alone_nuisance = render_images(SEED, identities[position : position + 1], image_indices[position : position + 1], 64)
        assert torch.equal(alone[0], batch[position])
        for key, value in alone_nuisance.items():
            assert torch.equal(value[0], batch_nuisance[key][position]), key
    # A different sub-batch (other neighbours, other chunk boundaries) agrees too.
    subset = torch.arange(5, 256, 3)
    partial, _ = render_images(SEED, identities[subset], image_indices[subset], 64)
    assert torch.equal(partial, batch[subset])


def test_seed_changes_images():
    identities, image_indices = _grid_of_images(2, 2)
    first, _ = render_images(SEED, identities, image_indices, 32)
    second, _ = render_images(SEED + 1, identities, image_indices, 32)
    assert (first.float() - second.float()).abs().mean() > 10


# 3. Attributes ------------------------------------------------------------------------------------


def test_attributes_within_ranges_and_cover_them():
    identities, image_indices = _grid_of_images(50, 10)  # 500 images
    ranges = NuisanceRanges()
    nuisance = image_params(SEED, identities, image_indices, ranges)
    for name in ATTRIBUTE_NAMES:
        values = nuisance[name]
        low, high = getattr(ranges, name)
        margin = 0.1 * (high - low)
        assert values.shape == (500,) and values.dtype == torch.float32
        assert low <= values.min() < low + margin, name
        assert high - margin < values.max() <= high, name
        assert values.std() > 0.2 * (high - low), name  # uniform: std = 0.29 of the range


def test_attributes_follow_custom_ranges():
    identities, image_indices = _grid_of_images(20, 10)
    ranges = NuisanceRanges(age=(30.0, 40.0), yaw=(-5.0, 5.0), pitch=(0.0, 2.0), roll=(-1.0, 1.0))
    nuisance = image_params(SEED, identities, image_indices, ranges)
    for name in ATTRIBUTE_NAMES:
        low, high = getattr(ranges, name)
        assert nuisance[name].min() >= low and nuisance[name].max() <= high, name
    default = image_params(SEED, identities, image_indices, NuisanceRanges())
    assert default["yaw"].abs().max() > 30.0


# 4. Identity parameters -------------------------------------------------------------------------


def test_identity_params_differ_across_identities_and_repeat_within():
    params = identity_params(SEED, torch.arange(200))
    assert params.shape == (200, P_ID) and params.dtype == torch.float32
    assert 0.0 < params.min() and params.max() < 1.0
    distances = torch.cdist(params, params) + torch.eye(200) * 1e9
    assert distances.min() > 0.3  # no two identities alike
    repeated = identity_params(SEED, torch.tensor([5, 9, 5, 5]))
    assert torch.equal(repeated[0], repeated[2]) and torch.equal(repeated[0], repeated[3])
    assert torch.equal(repeated[0], params[5])
    assert not torch.equal(identity_params(SEED + 1, torch.tensor([5]))[0], params[5])


def test_images_of_one_identity_share_identity_but_not_nuisances():
    identities = torch.full((6,), 11)
    image_indices = torch.arange(6)
    params = identity_params(SEED, identities)
    assert (params == params[0]).all()
    nuisance = image_params(SEED, identities, image_indices, NuisanceRanges())
    for name in ATTRIBUTE_NAMES:
        assert len(set(nuisance[name].tolist())) == 6, name
    assert len(set(nuisance["noise_seed"].tolist())) == 6


# 5. Same identity varies a lot --------------------------------------------------------------------


def test_same_identity_images_differ_nearly_as_much_as_different_identities(verification_set):
    images, identities = verification_set
    flat = images.flatten(1).to(torch.float64)
    first, second, same = _pair_indices(identities)
    distances = torch.cdist(flat, flat)[first, second]
    ratio = (distances[same].mean() / distances[~same].mean()).item()
    print(f"same/different identity mean pixel L2 ratio: {ratio:.3f}")
    assert ratio >= 0.7


# 6. Not separable by raw pixels -----------------------------------------------------------------


def test_raw_pixel_cosine_cannot_verify_identities(verification_set):
    images, identities = verification_set
    flat = images.flatten(1).to(torch.float64) / 255.0
    centred = flat - flat.mean(dim=0, keepdim=True)
    unit = centred / centred.norm(dim=1, keepdim=True)
    first, second, same = _pair_indices(identities)
    scores = (unit @ unit.T)[first, second]
    # Balanced pairs: every same-identity pair and as many random different-identity pairs.
    negatives = torch.nonzero(~same).view(-1)
    negatives = negatives[torch.randperm(len(negatives), generator=torch.Generator().manual_seed(0))[: int(same.sum())]]
    chosen = torch.cat([torch.nonzero(same).view(-1), negatives])
    accuracy = _best_threshold_accuracy(scores[chosen], same[chosen])
    print(f"raw-pixel cosine verification accuracy (best threshold): {accuracy:.3f}")
    assert accuracy <= 0.75


def test_best_threshold_accuracy_helper():
    same = torch.tensor([True, True, False, False])
    assert _best_threshold_accuracy(torch.tensor([0.9, 0.8, 0.1, 0.2]), same) == 1.0
    assert _best_threshold_accuracy(torch.tensor([0.1, 0.2, 0.9, 0.8]), same) == 0.5


# 7. Pose has a visible, mirror-consistent effect --------------------------------------------------


def _neutral_nuisance(identities: torch.Tensor, yaw: float) -> dict[str, torch.Tensor]:
    """Left-right symmetric conditions (frontal light, flat background, no blur/noise), given yaw."""
    n = len(identities)
    nuisance = image_params(SEED, identities, torch.zeros(n, dtype=torch.int64), NuisanceRanges())
    for name in ("roll", "shift_x", "gaze_x", "light_azimuth", "light_strength", "blur_sigma", "noise_std"):
        nuisance[name] = torch.zeros(n)
    nuisance["background_b"] = nuisance["background_a"]
    nuisance["clutter_radius"] = torch.full((n,), 1e-3)
    nuisance["yaw"] = torch.full((n,), yaw)
    return nuisance


def test_yaw_mirrors_the_face():
    identities = torch.arange(6)
    identity = identity_params(SEED, identities)
    right = render(identity, _neutral_nuisance(identities, 35.0), 64).float()
    left = render(identity, _neutral_nuisance(identities, -35.0), 64).float()
    to_flipped = (right - left.flip(-1)).flatten(1).norm(dim=1)
    to_unflipped = (right - left).flatten(1).norm(dim=1)
    print("mirror distance / plain distance:", [round(r, 3) for r in (to_flipped / to_unflipped).tolist()])
    # Turning the head changes the picture (RMS change above 8 grey levels) ...
    assert (to_unflipped / (3 * 64 * 64) ** 0.5 > 8.0).all()
    # ... and only the hair parting and a mole are asymmetric, so the mirror image is far closer.
    assert (to_flipped < 0.5 * to_unflipped).all()




# 8. Image files -----------------------------------------------------------------------------------


def _random_images(n: int, height: int, width: int) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, height, width), dtype=torch.uint8, generator=torch.Generator().manual_seed(n))


def test_atomic_png_round_trips_and_leaves_no_temp_files(tmp_path):
    image = _random_images(1, 20, 30)[0]
    path = tmp_path / "face.png"
    image_files.write_png_atomic(path, image)
    image_files.write_png_atomic(path, image)  # overwriting works too
    assert [p.name for p in tmp_path.iterdir()] == ["face.png"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # ordinary permissions, not a temp file's 0600
    with Image.open(path) as png:
        assert png.mode == "RGB" and png.size == (30, 20)
        pixels = np.asarray(png)
    assert np.array_equal(pixels, image.permute(1, 2, 0).numpy())


def test_atomic_png_failure_removes_temp_file(tmp_path, monkeypatch):
    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError):
        image_files.write_png_atomic(tmp_path / "face.png", _random_images(1, 8, 8)[0])
    assert list(tmp_path.iterdir()) == []


def test_grid_layout_and_png(tmp_path):
    images = _random_images(7, 10, 12)
    grid = image_files.image_grid(images, rows=3, cols=4)
    assert grid.shape == (3, 30, 48) and grid.dtype == torch.uint8
    assert torch.equal(grid[:, 10:20, 0:12], images[4])  # row 1, column 0
    assert torch.equal(grid[:, 10:20, 24:36], images[6])  # row 1, column 2
    assert grid[:, 10:20, 36:48].max() == 0 and grid[:, 20:30].max() == 0  # unused cells stay black
    path = tmp_path / "grid.png"
    image_files.write_grid_png(path, images, rows=3, cols=4)
    with Image.open(path) as png:
        assert png.size == (48, 30)
        assert np.array_equal(np.asarray(png), grid.permute(1, 2, 0).numpy())
    with pytest.raises(ValueError):
        image_files.image_grid(images, rows=2, cols=3)


def test_nuisance_ranges_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        NuisanceRanges().age = (1.0, 2.0)  # type: ignore[misc]
