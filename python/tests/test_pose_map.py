"""The head-pose map [ours]: the renderer's geometry, the attribute signs, dropped rows, and a model that keeps it."""
import math

import pytest
import torch

from diffusion_helpers import encoder_at, random_denoiser, training_args, write_encoder, write_faces
from id3_torch.bridge.jobs import Progress
from id3_torch.data import parametric
from id3_torch.diffusion import load_diffusion_model
from id3_torch.diffusion.pose_map import PoseMapSpec, head_pose_map
from id3_torch.jobs.diffusion import train_diffusion

SPEC = PoseMapSpec(centre=(0.05, 0.08), half_axes=(0.55, 0.68))
R = 32


def _attributes(yaw, pitch, roll, age=40.0):
    return torch.tensor([[age, yaw, pitch, roll]], dtype=torch.float32)


def _front(pose_map):
    """(row, column) of the pixel that shows the face's front (largest Z)."""
    return divmod(int(pose_map[0, 2].argmax()), R)


@pytest.mark.parametrize("yaw, pitch", [(0.0, 0.0), (30.0, 0.0), (-40.0, 15.0), (20.0, -20.0)])
def test_without_roll_the_map_is_the_renderers_unprojection_of_the_head_sphere(yaw, pitch):
    """Reference: the parametric renderer's own camera → head-frame rotation (data/parametric.py, _Pose)."""
    pose_map = head_pose_map(_attributes(yaw, pitch, 0.0), R, SPEC)[0]
    centres = (torch.arange(R, dtype=torch.float32) + 0.5) * (2.0 / R) - 1.0
    hx = ((centres[None, :] - SPEC.centre[0]) / SPEC.half_axes[0]).expand(R, R)
    hy = ((-centres[:, None] - SPEC.centre[1]) / SPEC.half_axes[1]).expand(R, R)
    inside = hx * hx + hy * hy < 1
    hz = (1 - hx * hx - hy * hy).clamp(min=0).sqrt()
    c, s = lambda a: torch.tensor(math.cos(math.radians(a))), lambda a: torch.tensor(math.sin(math.radians(a)))
    pose = parametric._Pose(c(yaw), s(yaw), c(pitch), s(pitch))
    expected = torch.stack(pose.unproject(hx, hy, hz)) * inside
    assert torch.allclose(pose_map, expected, atol=1e-5)
    assert inside.sum() > 200 and (pose_map[:, ~inside] == 0).all()
    assert torch.allclose(pose_map[:, inside].norm(dim=0), torch.ones(int(inside.sum())), atol=1e-5)  # on the unit sphere


def test_the_face_front_moves_as_the_attribute_convention_says():
    """+ yaw: towards the image's right; + pitch: up; + roll: counter-clockwise (the face's top tilts left)."""
    row0, col0 = _front(head_pose_map(_attributes(0, 0, 0), R, SPEC))
    row, col = _front(head_pose_map(_attributes(35, 0, 0), R, SPEC))
    pixels = lambda image_units: image_units * R / 2  # noqa: E731
    # The front moves by a·sin(yaw) in image units (0.55·sin 35° = 5.0 pixels) and by b·sin(pitch) (3.7), to a pixel.
    assert row == row0 and abs(col - col0 - pixels(0.55 * math.sin(math.radians(35)))) <= 1
    row, col = _front(head_pose_map(_attributes(0, 20, 0), R, SPEC))
    assert col == col0 and abs(row0 - row - pixels(0.68 * math.sin(math.radians(20)))) <= 1
    top = lambda m: divmod(int(m[0, 1].argmax()), R)  # noqa: E731  the pixel showing the head's top (largest Y)
    (top_row0, top_col0), (top_row, top_col) = top(head_pose_map(_attributes(0, 0, 0), R, SPEC)), top(
        head_pose_map(_attributes(0, 0, 30), R, SPEC))
    assert top_col < top_col0 and top_row >= top_row0


def test_with_the_map_dropped_rows_still_ignore_y_and_s_and_kept_rows_see_the_pose(tmp_path):
    encoder = encoder_at(tmp_path / "encoder")
    denoiser = random_denoiser(pose_map=SPEC)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, 32, 32, generator=g)
    s = torch.tensor([[30.0, 0, 0, 0]] * 4)
    y = encoder(torch.rand(4, 3, 32, 32, generator=g) * 2 - 1).detach()
    t = torch.tensor([10, 100, 300, 500])
    turned = s + torch.tensor([0.0, 40.0, 0.0, 0.0])
    drop = torch.ones(4, dtype=torch.bool)
    with torch.no_grad():
        assert torch.equal(denoiser(x, t, y, s, drop), denoiser(x, t, y.roll(1, 0), turned, drop))
        # The condition MLP's attribute columns zeroed: the yaw reaches ε through the map alone.
        denoiser.condition.mlp[0].weight[:, -4:] = 0
        change = (denoiser(x, t, y, s) - denoiser(x, t, y, turned)).abs().flatten(1).amax(dim=1)
    assert (change > 1e-4).all()


def test_a_trained_model_keeps_its_map_on_disk(tmp_path):
    manifest = write_faces(tmp_path / "faces", identities=2, images=2)
    out = tmp_path / "train"
    out.mkdir()
    pose = {"centre": [0.05, 0.08], "halfAxes": [0.55, 0.68]}
    train_diffusion(training_args(manifest, out, write_encoder(tmp_path / "encoder"), conditioning={"poseMap": pose},
                                  training={"steps": 2}), Progress())
    model = load_diffusion_model(str(out))
    assert model.card["poseMap"] == pose and model.denoiser.pose_map == SPEC
    assert model.denoiser.unet.conv_in.in_channels == (3 + 3) * 2**2  # x_t and the map, folded in 2×2 patches
