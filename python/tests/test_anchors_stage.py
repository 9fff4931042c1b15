"""anchors, Python half: training identity centres (job) and a split's attribute table (op)."""
import csv
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from id3_torch.bridge import tensors
from id3_torch.bridge.jobs import Progress
from id3_torch.data import image_files, parametric
from id3_torch.data.errors import DataFormatError
from id3_torch.data.labelled_images import LabelledImages
from id3_torch.encoders import embed_images, load_identity_encoder
from id3_torch.stages.anchors import training_attributes
from id3_torch.jobs.anchors import identity_centres
from id3_torch.jobs.contracts import with_defaults

from diffusion_helpers import write_encoder

IDENTITIES, IMAGES = 6, 3
SPLITS = ["train"] * 4 + ["test"] * 2  # by identity


@pytest.fixture(scope="module")
def encoder_spec(tmp_path_factory):
    return write_encoder(tmp_path_factory.mktemp("encoder"))


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces")
    identity = torch.arange(IDENTITIES).repeat_interleave(IMAGES)
    image = torch.arange(IMAGES).repeat(IDENTITIES)
    pictures, _ = parametric.render_images(2, identity, image, 32)
    with open(root / "manifest.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "identity", "image", "split", "age", "yaw", "pitch", "roll"])
        for n, (i, k) in enumerate(zip(identity.tolist(), image.tolist())):
            (root / f"{i}").mkdir(exist_ok=True)
            image_files.write_png_atomic(root / f"{i}" / f"{k}.png", pictures[n])
            age = "" if (i, k) == (1, 2) else 20 + n  # one training row without an age
            writer.writerow([f"{i}/{k}.png", i, k, SPLITS[i], age, n, -n, 0.5 * n])
    return str(root / "manifest.csv")


def test_centres_are_the_renormalised_means_of_each_training_identitys_unit_embeddings(encoder_spec, manifest, tmp_path):
    out = tmp_path / "centres.npy"
    args = with_defaults("anchors.identity-centres", {"encoder": encoder_spec, "manifest": manifest, "split": "train", "out": str(out),
                                                      "device": "cpu", "batchSize": 5})
    progress = Progress()
    result = identity_centres(args, progress)
    assert result == {"identities": 4, "embeddingSize": 16, "images": 12, "reused": False}
    assert (progress.step, progress.total) == (12, 12)
    centres = np.load(out)
    assert centres.shape == (4, 16) and centres.dtype == np.float32

    train = LabelledImages.from_manifest(manifest, splits=("train",))
    embeddings = embed_images(load_identity_encoder(encoder_spec), train.images)
    expected = torch.stack([F.normalize(embeddings[train.labels == k].mean(0), dim=0) for k in range(train.num_classes)])
    np.testing.assert_allclose(centres, expected.numpy(), atol=1e-5)

    written = os.path.getmtime(out)
    assert identity_centres(args, Progress())["reused"] is True
    assert os.path.getmtime(out) == written
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []


def test_another_stage_folder_reuses_the_embedding_of_the_same_encoder_and_split(encoder_spec, manifest, tmp_path, monkeypatch):
    """A sweep's anchor stages (other seeds, other variants) embed one training split with one encoder once."""
    def args(name, batch=4):
        return with_defaults("anchors.identity-centres", {"encoder": encoder_spec, "manifest": manifest, "split": "train",
                                                          "out": str(tmp_path / name), "device": "cpu", "batchSize": batch})
    assert identity_centres(args("a.npy"), Progress())["reused"] is False

    def no_encoder(*_, **__):
        raise AssertionError("embedded again")
    monkeypatch.setattr("id3_torch.stages.anchors.load_identity_encoder", no_encoder)
    progress = Progress()
    result = identity_centres(args("b.npy"), progress)
    assert result == {"identities": 4, "embeddingSize": 16, "images": 12, "reused": False} and progress.step == 0
    assert (tmp_path / "b.npy").read_bytes() == (tmp_path / "a.npy").read_bytes()
    with pytest.raises(AssertionError, match="embedded again"):  # other batches: other rounding, embedded anew
        identity_centres(args("c.npy", batch=5), Progress())


def test_training_attributes_are_the_splits_complete_rows(manifest):
    meta = training_attributes(manifest, "train", ["age", "yaw", "pitch", "roll"])
    table = tensors.get(meta["id"])
    assert meta["shape"] == [11, 4] and meta["dtype"] == "float32"  # 12 training rows, one without an age
    rows = [n for n in range(IDENTITIES * IMAGES) if SPLITS[n // IMAGES] == "train" and n != 1 * IMAGES + 2]
    expected = torch.tensor([[20 + n, n, -n, 0.5 * n] for n in rows], dtype=torch.float32)
    assert torch.equal(table, expected)
    with pytest.raises(DataFormatError, match="expected numeric column"):
        training_attributes(manifest, "train", ["age", "smile"])
    with pytest.raises(DataFormatError, match="no rows in split val"):
        training_attributes(manifest, "val", ["age"])
