"""The encoder registry's kinds (dlib, arcface, adaface, folder), their checkpoint formats, the
framings and the in-graph reframing."""
from __future__ import annotations

import hashlib
import os
import pickle

import cv2
import numpy as np
import pytest
import safetensors.torch
import torch

from faceapi_reference import REAL_CROPS, one_torch_thread, photo, resized  # noqa: F401 (an autouse fixture)
from id3_torch.encoders import load_identity_encoder
from id3_torch.encoders.adaface import AdaFaceIR
from id3_torch.encoders.attributes import AttributePredictor
from id3_torch.encoders.checkpoints import load_adaface_checkpoint
from id3_torch.encoders.faceapi.recognition_net import load_face_recognition_net
from id3_torch.encoders.framing import ARCFACE_112, DLIB_150, FFHQ, FRAMINGS, conversion, reframe, similarity_transform, warp_to_framing
from id3_torch.recognition import build_backbone

# Measured once from the authors' code (github mk-minchul/AdaFace, commit c60eaa7, net.py), imported in a
# scratch folder: m = net.build_model("ir_50" | "ir_101");
#   entries = [(name, tuple(t.shape)) for name, t in m.state_dict().items()]
#   (len(entries), sha256(repr(entries)), sum(p.numel() for p in m.parameters()))
ADAFACE_LAYOUTS = {
    "ir50": (467, "13f2cb165277d90f78a130a42043c181aefc98011f055cb779d6550aef0cc50e", 43585600),
    "ir101": (917, "bcbe8d5db3db7b08a511facd204836a8508ab6840161472b472ea8188fc95988", 65150912),
}
# The same scratch run: net.build_model("ir_50") in eval mode, its state filled by `_fill` below, fed
# `_input()`: output[0][0, :4], output[0][1, :4] (their x/|x|) and output[1] (|x|).
ADAFACE_IR50_OUT0 = [-0.06090795248746872, 0.04718044772744179, -0.0736500695347786, 0.06622357666492462]
ADAFACE_IR50_OUT1 = [-0.048261698335409164, 0.04484987258911133, -0.062373075634241104, 0.047606173902750015]
ADAFACE_IR50_NORMS = [1.8647435903549194, 1.8868204355239868]


def _fill(model: torch.nn.Module) -> None:
    """Every float entry of the state dict from one generator, in state-dict order."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for key, value in model.state_dict().items():
            if not value.dtype.is_floating_point:
                continue
            r = torch.rand(value.shape, generator=generator, dtype=torch.float64)
            if key.endswith("running_var"):
                value.copy_(0.5 + r)
            elif value.dim() == 1 and "weight" in key:
                value.copy_(0.8 + 0.4 * r)
            elif value.dim() == 1:
                value.copy_(0.1 * (r - 0.5))
            else:
                value.copy_((r - 0.5) * (2.0 / max(1, value[0].numel())) ** 0.5)


def _input() -> torch.Tensor:
    return torch.rand(2, 3, 112, 112, generator=torch.Generator().manual_seed(1)) * 2 - 1


@pytest.mark.parametrize("name", sorted(ADAFACE_LAYOUTS))
def test_adaface_layouts_match_the_authors(name):
    model = AdaFaceIR(name)
    entries = [(key, tuple(t.shape)) for key, t in model.state_dict().items()]
    count, digest, parameters = ADAFACE_LAYOUTS[name]
    assert len(entries) == count
    assert hashlib.sha256(repr(entries).encode()).hexdigest() == digest
    assert sum(p.numel() for p in model.parameters()) == parameters


@pytest.fixture(scope="module")
def adaface_ir50():
    model = AdaFaceIR("ir50").eval()
    _fill(model)
    return model


def test_adaface_ir50_reproduces_the_authors_outputs(adaface_ir50):
    with torch.no_grad():
        x = adaface_ir50(_input())
    norms = x.norm(dim=1)
    assert norms.tolist() == pytest.approx(ADAFACE_IR50_NORMS, abs=1e-5)
    assert (x[0, :4] / norms[0]).tolist() == pytest.approx(ADAFACE_IR50_OUT0, abs=1e-6)
    assert (x[1, :4] / norms[1]).tolist() == pytest.approx(ADAFACE_IR50_OUT1, abs=1e-6)


def _lightning_checkpoint(model: torch.nn.Module) -> dict:
    """What the authors' Lightning trainer saves (state_dict with model./head. prefixes, bookkeeping)."""
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    state["head.kernel"] = torch.randn(512, 10)
    state["head.t"] = torch.zeros(1)
    return {"epoch": 25, "global_step": 1000, "pytorch-lightning_version": "1.8.6", "state_dict": state,
            "optimizer_states": [], "lr_schedulers": [], "hparams_name": "kwargs",
            "hyper_parameters": {"arch": "ir_50", "head": "adaface", "m": 0.4, "h": 0.333, "lr": 0.1}}


def test_adaface_lightning_checkpoint_loads_by_path_with_bgr_input(adaface_ir50, tmp_path):
    path = tmp_path / "adaface_ir50_ms1mv2.ckpt"
    torch.save(_lightning_checkpoint(adaface_ir50), path)
    encoder = load_identity_encoder({"kind": "adaface", "path": str(path), "backbone": "ir50", "framing": "arcface-112"})
    assert encoder.describe() == {"inputSize": 112, "embeddingSize": 512, "framing": "arcface-112",
                                  "normalization": "BGR, (x/255 - 0.5)/0.5"}
    rgb = _input()
    with torch.no_grad():
        expected = torch.nn.functional.normalize(adaface_ir50(rgb.flip(1)), dim=1)  # the authors feed BGR
        assert torch.allclose(encoder(rgb), expected, atol=1e-6)


def test_adaface_plain_and_safetensors_state_dicts_load(tmp_path):
    model = AdaFaceIR("ir18").eval()
    _fill(model)
    plain, tensors = tmp_path / "ir18.pth", tmp_path / "ir18.safetensors"
    torch.save(model.state_dict(), plain)
    safetensors.torch.save_file({k: v.contiguous() for k, v in model.state_dict().items()}, tensors)
    for path in (plain, tensors):
        loaded = AdaFaceIR("ir18")
        load_adaface_checkpoint(path, loaded)
        expected = model.state_dict()
        assert all(torch.equal(value, expected[key]) for key, value in loaded.state_dict().items())


def test_checkpoint_errors_name_the_file_and_the_keys(tmp_path):
    model = AdaFaceIR("ir18")
    no_prefix = tmp_path / "wrong.ckpt"
    torch.save({"state_dict": {"backbone.x": torch.zeros(1)}}, no_prefix)
    with pytest.raises(ValueError, match=r"wrong\.ckpt: its state_dict has no 'model\.' keys"):
        load_adaface_checkpoint(no_prefix, model)
    other_depth = tmp_path / "ir18-for-ir50.pth"
    torch.save(model.state_dict(), other_depth)
    with pytest.raises(ValueError, match=r"ir18-for-ir50\.pth: does not match AdaFaceIR \(\d+ missing keys: body\."):
        load_identity_encoder({"kind": "adaface", "path": str(other_depth), "backbone": "ir50", "framing": "arcface-112"})
    arcface_file = tmp_path / "backbone.pth"
    torch.save(build_backbone("iresnet18").state_dict(), arcface_file)
    with pytest.raises(ValueError, match=r"backbone\.pth: does not match IResNet \(240 missing keys: layer1\.2\."):
        load_identity_encoder({"kind": "arcface", "path": str(arcface_file), "backbone": "iresnet50", "framing": "arcface-112"})
    with pytest.raises(ValueError, match=r"encoder\.backbone: expected one of iresnet50, iresnet100, got 'iresnet18'"):
        load_identity_encoder({"kind": "arcface", "path": str(arcface_file), "backbone": "iresnet18", "framing": "arcface-112"})
    with pytest.raises(ValueError, match=r"encoder\.path: .*missing\.pth: no such file"):
        load_identity_encoder({"kind": "arcface", "path": str(tmp_path / "missing.pth"), "backbone": "iresnet50", "framing": "arcface-112"})


class _Exploit:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_pickle_is_refused_not_run(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.ckpt"
    with open(path, "wb") as stream:
        torch.save({"state_dict": {"model.x": torch.zeros(1)}, "payload": _Exploit(str(marker))}, stream)
    assert b"system" in path.read_bytes()  # the payload is really in the file
    with pytest.raises(ValueError, match=r"evil\.ckpt: refused by the weights-only loader"):
        load_identity_encoder({"kind": "adaface", "path": str(path), "backbone": "ir50", "framing": "arcface-112"})
    assert not marker.exists()
    with open(tmp_path / "evil.pkl", "wb") as stream:
        pickle.dump({"payload": _Exploit(str(marker))}, stream, protocol=2)
    with pytest.raises(ValueError, match="refused by the weights-only loader"):
        load_identity_encoder({"kind": "arcface", "path": str(tmp_path / "evil.pkl"), "backbone": "iresnet50", "framing": "arcface-112"})
    assert not marker.exists()


def test_arcface_checkpoint_by_path_loads_into_the_encoder(tmp_path):
    backbone = build_backbone("iresnet50")
    path = tmp_path / "backbone.pth"
    torch.save(backbone.state_dict(), path)
    encoder = load_identity_encoder({"kind": "arcface", "path": str(path), "backbone": "iresnet50", "framing": "arcface-112"})
    expected = backbone.state_dict()
    loaded = encoder.network[1].state_dict()
    assert loaded.keys() == expected.keys() and all(torch.equal(loaded[k], expected[k]) for k in expected)
    assert encoder.describe() == {"inputSize": 112, "embeddingSize": 512, "framing": "arcface-112",
                                  "normalization": "RGB, (x/255 - 0.5)/0.5"}


def test_dlib_encoder_is_the_package_net_frozen_and_differentiable():
    chips = np.stack([resized(photo(name), 150) for name in REAL_CROPS[:2]])
    x = torch.from_numpy(chips).permute(0, 3, 1, 2).float() / 127.5 - 1
    encoder = load_identity_encoder({"kind": "dlib", "framing": "dlib-150"})
    with torch.no_grad():
        expected = torch.nn.functional.normalize(load_face_recognition_net()(x), dim=1)
    x.requires_grad_(True)
    y = encoder(x)
    assert torch.allclose(y, expected, atol=1e-6)
    y[:, 0].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in encoder.parameters())
    with pytest.raises(ValueError, match=r"encoder\.framing: expected one of arcface-112, dlib-150, ffhq, got 'mtcnn'"):
        load_identity_encoder({"kind": "dlib", "framing": "mtcnn"})


def test_similarity_transform_recovers_a_known_similarity():
    rng = np.random.default_rng(0)
    source = rng.uniform(0, 100, (5, 2))
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -4.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    target = source @ (scale * rotation).T + shift
    matrix = similarity_transform(source, target)
    assert np.allclose(matrix[:, :2], scale * rotation) and np.allclose(matrix[:, 2], shift)


def test_reframe_in_the_graph_matches_opencv_warp():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (112, 112, 3), dtype=np.uint8)
    image = cv2.GaussianBlur(image, (0, 0), 2)  # smooth, so that both bilinear samplers agree closely
    matrix = np.array([[1.494, 0.02, -9.16], [-0.02, 1.494, -30.81]])
    expected = cv2.warpAffine(image, matrix, (150, 150), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    x = torch.from_numpy(image).permute(2, 0, 1)[None].double()
    ours = reframe(x, matrix, 150)[0].permute(1, 2, 0).numpy()
    inside = cv2.warpAffine(np.ones((112, 112), np.uint8), matrix, (150, 150), flags=cv2.INTER_NEAREST) > 0
    inside = cv2.erode(inside.astype(np.uint8), np.ones((3, 3))) > 0  # away from the border ramp
    assert np.abs(ours - expected)[inside].max() <= 1.0  # cv2 rounds to uint8 and uses fixed-point weights


@pytest.fixture(scope="module")
def real_landmarks():
    """(square crop, its 68 landmarks) of the real-people photos, from the package's landmark net."""
    predictor = AttributePredictor.from_package()
    squares = []
    for name in REAL_CROPS:
        pixels = torch.from_numpy(photo(name).copy()).permute(2, 0, 1)
        side = min(pixels.shape[1:])
        squares.append(pixels[:, :side, :side])
    return predictor, [(square, predictor.crop_landmarks(square[None])[0]) for square in squares]


def test_warp_puts_the_landmarks_on_the_template(real_landmarks):
    predictor, faces = real_landmarks
    errors = []
    for square, landmarks in faces[:3]:
        for framing in (ARCFACE_112, DLIB_150):
            crop = warp_to_framing(square, landmarks, framing)
            again = predictor.crop_landmarks(crop[None])[0]
            errors.append(np.abs(framing.points_from_68(again) - framing.template).mean() / framing.size)
    assert max(errors) < 0.03  # mean error under 3% of the crop side (≈ 3 px at 112)


@pytest.mark.parametrize("source, target", [("arcface-112", "dlib-150"), ("ffhq", "arcface-112")])
def test_measured_conversions_agree_with_these_photos(real_landmarks, source, target):
    """The stored conversion (measured on whole photos) against the same measurement on the crops."""
    _, faces = real_landmarks
    square = lambda framing, lm: np.vstack([FRAMINGS[framing].matrix(lm), [0, 0, 1]])
    per_face = [(square(target, lm) @ np.linalg.inv(square(source, lm)))[:2] for _, lm in faces]
    measured, stored = np.mean(per_face, axis=0), conversion(source, target)
    scale = np.sqrt(np.linalg.det(stored[:, :2]))
    assert np.sqrt(np.linalg.det(measured[:, :2])) == pytest.approx(scale, rel=0.04)
    assert np.abs(measured[:, 2] - stored[:, 2]).max() < 0.04 * FRAMINGS[target].size


def test_conversions_compose_and_invert():
    h = lambda m: np.vstack([m, [0, 0, 1]])
    assert np.allclose(h(conversion("dlib-150", "arcface-112")) @ h(conversion("arcface-112", "dlib-150")), np.eye(3))
    assert np.allclose(h(conversion("ffhq", "dlib-150")),
                       h(conversion("arcface-112", "dlib-150")) @ h(conversion("ffhq", "arcface-112")))


def test_dlib_encoder_reads_other_framings_through_the_graph(real_landmarks):
    """A face cropped in ArcFace or FFHQ framing and reframed in the graph lands where its dlib chip is:
    the descriptors agree far better than those of different people."""
    _, faces = real_landmarks
    chips = {name: torch.stack([warp_to_framing(square, lm, framing, size) for square, lm in faces[:4]])
             for name, framing, size in (("dlib-150", DLIB_150, 150), ("arcface-112", ARCFACE_112, 112), ("ffhq", FFHQ, 256))}
    embeddings = {}
    with torch.no_grad():
        for name, images in chips.items():
            encoder = load_identity_encoder({"kind": "dlib", "framing": name})
            embeddings[name] = encoder(images.float() / 127.5 - 1).numpy()
    direct = embeddings["dlib-150"]
    others = np.linalg.norm(direct[:, None] - direct[None], axis=-1)[np.triu_indices(4, 1)]
    for name in ("arcface-112", "ffhq"):
        same = np.linalg.norm(embeddings[name] - direct, axis=1)
        assert same.max() < 0.5 * others.min(), name
