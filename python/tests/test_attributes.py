"""Attribute predictors: head pose by PnP (exact on the generic face, consistent under mirroring on
real photos) and age."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from faceapi_reference import REAL_CROPS, one_torch_thread, photo  # noqa: F401 (an autouse fixture)
from id3_torch.encoders.attributes import AttributePredictor
from id3_torch.encoders.pose import GENERIC_FACE, POSE_LANDMARKS, camera_matrix, euler_angles, head_pose, rotation_matrix


def _project(yaw: float, pitch: float, roll: float, size: int = 400) -> np.ndarray:
    """The generic face at a known pose, seen by the predictor's camera → (68, 2) with its six points."""
    camera = camera_matrix(size, size)
    points = (GENERIC_FACE @ rotation_matrix(yaw, pitch, roll).T + [0.0, 0.0, 1500.0]) @ camera.T
    landmarks = np.zeros((68, 2))
    landmarks[list(POSE_LANDMARKS)] = points[:, :2] / points[:, 2:]
    return landmarks


@pytest.mark.parametrize("pose", [(20, 0, 0), (0, 15, 0), (0, 0, 10), (30, -10, 12), (-40, 12, -8)])
def test_pnp_recovers_known_poses(pose):
    assert euler_angles(rotation_matrix(*pose)) == pytest.approx(pose, abs=1e-9)
    assert head_pose(_project(*pose), 400, 400) == pytest.approx(pose, abs=1e-3)


def test_pose_signs_follow_the_parametric_conventions():
    nose, eye_l, eye_r = 0, 2, 3  # rows of the six points, in POSE_LANDMARKS order
    turned = _project(20, 0, 0)[list(POSE_LANDMARKS)]
    assert turned[nose, 0] > turned[[eye_l, eye_r], 0].mean()  # yaw > 0: the nose towards image right
    up = _project(0, 15, 0)[list(POSE_LANDMARKS)]
    level = _project(0, 0, 0)[list(POSE_LANDMARKS)]
    assert up[nose, 1] - up[[eye_l, eye_r], 1].mean() < level[nose, 1] - level[[eye_l, eye_r], 1].mean()  # looks up
    rolled = _project(0, 0, 10)[list(POSE_LANDMARKS)]
    assert rolled[eye_r, 1] < rolled[eye_l, 1]  # roll > 0: counter-clockwise, the image-right eye rises


@pytest.fixture(scope="module")
def predictor():
    return AttributePredictor.from_package()


def test_mirrored_photos_flip_yaw_and_roll_and_keep_pitch(predictor):
    crops = []
    for name in REAL_CROPS:
        pixels = torch.from_numpy(photo(name).copy()).permute(2, 0, 1)
        side = min(pixels.shape[1:])
        crops.append(torch.nn.functional.interpolate(pixels[None, :, :side, :side].float(), size=160, mode="area")[0])
    crops = torch.stack(crops).round().to(torch.uint8)
    straight, mirrored = predictor(crops), predictor(crops.flip(-1))
    assert np.abs(straight["yaw"] + mirrored["yaw"]).max() <= 5
    assert np.abs(straight["roll"] + mirrored["roll"]).max() <= 5
    assert np.abs(straight["pitch"] - mirrored["pitch"]).max() <= 5
    assert np.abs(straight["age"] - mirrored["age"]).max() <= 10
    assert np.ptp(straight["yaw"]) > 5  # the photos really differ in pose: the sums above are not trivially 0
