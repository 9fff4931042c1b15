"""FID (evaluation/fid_inception.py, evaluation/fid.py) against pytorch-fid itself.

The weights are random (seeded) but laid out as pytorch-fid's pt_inception-2015-12-05-6726825d.pth:
built with torchvision's inception_v3 and pytorch-fid's FIDInception* blocks, the way its
fid_inception_v3 builds the network, and saved as a state dict. pytorch-fid's own InceptionV3 then
loads that file through its own fid_inception_v3, its download swapped for reading the file, and is
the reference our features must equal. Nothing is downloaded.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from pytorch_fid import fid_score
from pytorch_fid import inception as pfid

import id3_torch.evaluation.fid_inception as fid_inception
from id3_torch.evaluation.fid import LABEL, fid_row, fid_table
from id3_torch.evaluation.fid_inception import FEATURES, FIDInceptionV3, inception_features, load_fid_inception
from id3_torch.evaluation.realism import frechet_distance, realism_rows

torch.set_num_threads(1)

TOLERANCE = 1e-4  # relative to the largest feature; float32 through ~95 layers
FC_KEYS = {"fc.weight", "fc.bias"}


def _pytorch_fid_network() -> torch.nn.Module:
    """fid_inception_v3's network without its load_state_dict_from_url: torchvision's inception_v3
    (1008 classes, no aux logits) with pytorch-fid's patched Mixed blocks."""
    net = torchvision.models.inception_v3(num_classes=1008, aux_logits=False, weights=None, init_weights=False)
    net.Mixed_5b = pfid.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pfid.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pfid.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pfid.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pfid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pfid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pfid.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pfid.FIDInceptionE_1(1280)
    net.Mixed_7c = pfid.FIDInceptionE_2(2048)
    return net


def _random_state(net: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Seeded weights and BatchNorm statistics that keep activations in range through the depth:
    He-scaled convolutions, BN scales around 1, running variances in [0.5, 2]."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in net.state_dict().items():
        shape = value.shape
        if key.endswith("num_batches_tracked"):
            state[key] = value
        elif key.endswith("conv.weight"):
            state[key] = torch.randn(shape, generator=g) * (2.0 / value[0].numel()) ** 0.5
        elif key.endswith("bn.weight"):
            state[key] = torch.rand(shape, generator=g) + 0.5
        elif key.endswith(("bn.bias", "running_mean")):
            state[key] = torch.randn(shape, generator=g) * 0.1
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=g) * 1.5 + 0.5
        elif key in FC_KEYS:
            state[key] = torch.randn(shape, generator=g) * 0.01
        else:
            raise KeyError(f"unforeseen key {key}")
    return state


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> str:
    """The user's file: a state dict in pytorch-fid's layout (random weights)."""
    path = tmp_path_factory.mktemp("fid") / fid_inception.WEIGHTS_FILE
    torch.save(_random_state(_pytorch_fid_network(), seed=0), path)
    return str(path)


@pytest.fixture(scope="module")
def reference(weights) -> torch.nn.Module:
    """pytorch-fid's InceptionV3 (2048-d pool3 output, FID Inception), built by its own fid_inception_v3
    from the file instead of the download."""
    def from_file(url, progress=True):
        assert url == pfid.FID_WEIGHTS_URL
        return torch.load(weights, weights_only=True)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pfid, "load_state_dict_from_url", from_file)
        return pfid.InceptionV3([pfid.InceptionV3.BLOCK_INDEX_BY_DIM[FEATURES]], use_fid_inception=True).eval()


@pytest.fixture(scope="module")
def images() -> list[torch.Tensor]:
    """Small uint8 images, upsampled to 299 inside: 32×32 and a non-square size."""
    g = torch.Generator().manual_seed(1)
    return [torch.randint(0, 256, (3, 3, 32, 32), generator=g, dtype=torch.uint8),
            torch.randint(0, 256, (2, 3, 40, 28), generator=g, dtype=torch.uint8)]


@pytest.fixture(scope="module")
def reference_features(reference, images) -> list[torch.Tensor]:
    with torch.no_grad():  # pytorch-fid's input: ToTensor's x / 255 in [0, 1]
        return [reference(batch.float() / 255.0)[0].flatten(1) for batch in images]


def _relative_error(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return float((ours - theirs).abs().max() / theirs.abs().max())


# --- (a) the features equal pytorch-fid's --------------------------------------------------------

def test_parameter_names_are_pytorch_fids_keys(weights):
    saved = torch.load(weights, weights_only=True)
    assert set(FIDInceptionV3().state_dict()) == set(saved) - FC_KEYS
    assert {"Conv2d_1a_3x3.conv.weight", "Conv2d_1a_3x3.bn.running_mean", "Mixed_5b.branch1x1.conv.weight",
            "Mixed_7c.branch_pool.bn.running_var"} <= set(saved)


def test_features_equal_pytorch_fids(weights, images, reference_features):
    model = load_fid_inception(weights)
    for batch, theirs in zip(images, reference_features):
        ours = inception_features(model, batch, batch_size=2)  # batches of 2: batching must not matter
        assert ours.shape == (len(batch), FEATURES) and ours.dtype == torch.float32
        # The comparison means something: finite, varied features (measured: mean 0.24, max 3.6).
        assert torch.isfinite(theirs).all() and theirs.std() > 0.1 and (theirs[0] - theirs[1]).abs().max() > 1e-2
        assert _relative_error(ours, theirs) < TOLERANCE


# The FID graph's departures from torchvision's network and the preprocessing, each made wrong in turn.
ALTERED = {
    "average pools counting the zero padding (count_include_pad=True)":
        ("_tf_average_pool", lambda x: F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=True)),
    "Mixed_7c average-pooling like Mixed_7b":
        ("_last_block_pool", lambda x: F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)),
    "resize with align_corners=True":
        ("_to_network_input", lambda im: 2 * F.interpolate(im.float() / 255, size=(299, 299), mode="bilinear", align_corners=True) - 1),
    "no 2x − 1 (input left in [0, 1])":
        ("_to_network_input", lambda im: F.interpolate(im.float() / 255, size=(299, 299), mode="bilinear", align_corners=False)),
}


@pytest.mark.parametrize("change", ALTERED)
def test_an_altered_formula_is_told_apart(change, weights, images, reference_features, monkeypatch):
    name, replacement = ALTERED[change]
    monkeypatch.setattr(fid_inception, name, replacement)
    ours = inception_features(load_fid_inception(weights), images[0])
    # Measured: 0.01 (align_corners) to 0.14 (Mixed_7c's pool), against 0 for the right formula.
    assert _relative_error(ours, reference_features[0]) > 50 * TOLERANCE


# --- (b) FID is pytorch-fid's calculate_frechet_distance ----------------------------------------

def _pytorch_fid_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """calculate_activation_statistics's two lines."""
    return np.mean(features, axis=0), np.cov(features, rowvar=False)


@pytest.mark.parametrize("n_real, n_generated, dims", [(300, 250, 32), (40, 30, 64)])  # full rank; both covariances singular
def test_fid_is_pytorch_fids_frechet_distance(n_real, n_generated, dims):
    rng = np.random.default_rng(dims)
    real = rng.normal(size=(n_real, dims)) @ rng.normal(size=(dims, dims)) * 0.3
    generated = rng.normal(size=(n_generated, dims)) @ rng.normal(size=(dims, dims)) * 0.3 + 0.2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # its sqrtm(disp=False), deprecated by SciPy 1.17
        expected = fid_score.calculate_frechet_distance(*_pytorch_fid_statistics(real), *_pytorch_fid_statistics(generated))
    row = fid_row(torch.from_numpy(real), torch.from_numpy(generated))
    # Measured: 7e-17 relative at full rank, 1e-8 with singular covariances (where sqrtm itself rounds).
    assert row["fid"] == pytest.approx(float(expected), rel=1e-6)
    assert row["fid"] > 10  # far from 0: the sets differ
    assert (row["real"], row["generated"]) == (n_real, n_generated)


class _MeanColour(torch.nn.Module):
    """A stand-in feature extractor for the table's bookkeeping: (N, 3) mean colours, plus a little per-pixel
    variation so that covariances have rank."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))  # inception_features reads the device off a parameter

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float() / 255
        return torch.cat([x.mean(dim=(2, 3)), x[:, :, 0, :2].flatten(1)], 1)


def test_fid_table_compares_the_judges_rows():
    g = torch.Generator().manual_seed(2)
    held_out = torch.randint(0, 256, (20, 3, 8, 8), generator=g, dtype=torch.uint8)
    flat = held_out.float().mean(dim=(2, 3), keepdim=True).expand_as(held_out).round().to(torch.uint8)
    generated = torch.randint(0, 128, (31, 3, 8, 8), generator=g, dtype=torch.uint8)
    asked = []

    def read(rows: torch.Tensor) -> torch.Tensor:
        asked.append(rows.clone())
        return generated[rows]

    model = _MeanColour()
    table = fid_table(model, held_out, flat, len(generated), read, seed=5)
    a, b, pick = realism_rows(len(held_out), len(generated), seed=5)
    assert len(asked) == 1 and torch.equal(asked[0], pick) and len(pick) == len(b)  # only the compared images are read
    features = lambda x: model(x).double()  # noqa: E731
    assert table["features"] == LABEL == "FID (Inception pool3, pytorch-fid weights)"
    assert table["generated"] == {"fid": frechet_distance(features(held_out[a]), features(generated[pick])), "real": 10, "generated": 10}
    assert table["realVsReal"]["fid"] == pytest.approx(frechet_distance(features(held_out[a]), features(held_out[b])))
    assert table["floor"]["fid"] == pytest.approx(frechet_distance(features(held_out[a]), features(flat[b])))
    assert table["realVsReal"]["fid"] < table["generated"]["fid"]  # darker generated images: farther than real


# --- (c) what is refused -------------------------------------------------------------------------

def test_fc_keys_are_ignored_and_missing_batch_counters_accepted(weights, tmp_path, images, reference_features):
    state = torch.load(weights, weights_only=True)
    without = {k: v for k, v in state.items() if k not in FC_KEYS and not k.endswith("num_batches_tracked")}
    path = tmp_path / "no-fc.pth"
    torch.save(without, path)
    ours = inception_features(load_fid_inception(path), images[0])
    assert _relative_error(ours, reference_features[0]) < TOLERANCE


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.pop("Mixed_6c.branch7x7dbl_3.bn.running_var"), r"missing keys: Mixed_6c\.branch7x7dbl_3\.bn\.running_var"),
    (lambda s: s.__setitem__("AuxLogits.fc.weight", torch.zeros(1008, 768)), r"unexpected keys: AuxLogits\.fc\.weight"),
    (lambda s: s.__setitem__("Mixed_5b.branch_pool.conv.weight", torch.zeros(64, 192, 1, 1)),
     r"shapes differ: Mixed_5b\.branch_pool\.conv\.weight \(64, 192, 1, 1\) \(expected \(32, 192, 1, 1\)\)"),
])
def test_a_state_dict_that_does_not_fit_is_refused_naming_the_key(weights, tmp_path, edit, message):
    state = torch.load(weights, weights_only=True)
    edit(state)
    path = tmp_path / "edited.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match=rf"{tmp_path}/edited\.pth: not pytorch-fid's FID Inception state dict .*{message}"):
        load_fid_inception(path)


def test_a_missing_file_is_refused_naming_the_path(tmp_path):
    path = tmp_path / "nowhere" / fid_inception.WEIGHTS_FILE
    with pytest.raises(FileNotFoundError, match=rf"{path}: no such file .*pytorch-fid's pt_inception-2015-12-05-6726825d\.pth"):
        load_fid_inception(path)


def test_a_file_that_is_not_a_state_dict_is_refused(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("not weights")
    with pytest.raises(ValueError, match=rf"{text}: not a PyTorch file .*\(Unsupported operand"):
        load_fid_inception(text)
    pickled = tmp_path / "numpy.pth"
    torch.save({"Conv2d_1a_3x3.conv.weight": np.zeros(3)}, pickled)  # an object the weights-only loader refuses to build
    with pytest.raises(ValueError, match=rf"{pickled}: not a PyTorch file of tensors .*\(Unsupported global"):
        load_fid_inception(pickled)
    listed = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], listed)
    with pytest.raises(ValueError, match=rf"{listed}: expected a state dict \(names → tensors\).*got list"):
        load_fid_inception(listed)


# --- the generate stage's FID rows ---------------------------------------------------------------

def test_the_generate_stage_measures_fid_on_held_out_and_generated_images(weights, tmp_path, monkeypatch):
    import hashlib

    from diffusion_helpers import write_faces
    from synthetic_helper import write_shards

    import id3_torch.evaluation.fid as fid
    from id3_torch.data.datasets import open_face_images
    from id3_torch.stages import generate

    manifest = write_faces(tmp_path / "real", identities=3, images=2, splits=["train", "test", "test"])
    root = tmp_path / "generated"
    write_shards(root, batch=4).finalize()
    real = {"manifest": manifest, "split": "test"}
    held_out, flat = generate._held_out(real)
    assert held_out.shape == (4, 3, 32, 32) and torch.equal(flat[0, :, 0, 0], flat[0, :, -1, -1])
    # Which feature sets each row compares; FD itself is test_fid_is_pytorch_fids_frechet_distance's (at
    # 2048-d each costs seconds on one thread, so a stand-in numbers the rows here).
    compared = []

    def recorded(x: torch.Tensor, y: torch.Tensor) -> float:
        compared.append((x, y))
        return float(len(compared))

    monkeypatch.setattr(fid, "frechet_distance", recorded)
    fid_inputs = generate.FidInputs(weights=weights, real=real)
    table = generate._fid(str(root), fid_inputs, held_out, flat, torch.device("cpu"))
    assert table["features"] == LABEL and table["heldOutSplit"] == "test"
    assert table["weightsSha256"] == hashlib.sha256(open(weights, "rb").read()).hexdigest()
    for number, row in enumerate(("generated", "realVsReal", "floor"), start=1):
        assert table[row] == {"fid": number, "real": 2, "generated": 2}
    # The rows compare the images realism_rows names (the judge's), through the file's weights.
    model = load_fid_inception(weights)
    a, b, pick = realism_rows(4, 21, seed=0)
    generated = torch.stack([open_face_images(root).image(int(n)) for n in pick])
    expected = [inception_features(model, images) for images in (held_out[a], generated, held_out[b], flat[b])]
    assert len(compared) == 3
    for (x, y), other in zip(compared, expected[1:]):
        assert torch.equal(x, expected[0]) and torch.equal(y, other)
