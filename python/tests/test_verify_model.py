"""`evaluation.verify_model`: pair sets (.bin, pairs.csv + manifest) embedded by a model, scored by the protocol."""
import csv
import json
import os

import numpy as np
import pytest
import torch

from id3_torch.data import image_files, parametric
from id3_torch.data.verification_bin import write_verification_bin
from id3_torch.evaluation import make_pairs, verify_pairs, write_pairs_csv
from diffusion_helpers import write_trained_encoder
from id3_torch.bridge.jobs import Progress
from id3_torch.jobs.evaluate import evaluate
from id3_torch.evaluation.ops import verify_model
from id3_torch.evaluation.pairs import read_pairs_csv
from id3_torch.evaluation.verification import flip_sum_embeddings
from id3_torch.recognition.checkpoints import save_safetensors
from id3_torch.recognition.encoder import FaceEncoder, load_trained_encoder
from id3_torch.recognition.iresnet import build_backbone
from id3_torch.jobs.contracts import with_defaults

IDENTITIES, IMAGES = 20, 4


@pytest.fixture(scope="module")
def faces():
    identity = torch.arange(IDENTITIES).repeat_interleave(IMAGES)
    image = torch.arange(IMAGES).repeat(IDENTITIES)
    pictures, _ = parametric.render_images(5, identity, image, 32)
    return pictures, identity


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("encoder")
    torch.manual_seed(0)
    backbone = build_backbone("iresnet-small", input_size=32, embedding_size=16, widths=(4, 4, 8, 8), layers=(1, 1, 1, 1))
    save_safetensors(folder / "backbone.safetensors", backbone.eval())
    (folder / "encoder.json").write_text(json.dumps({
        "kind": "iresnet", "backbone": "iresnet-small", "inputSize": 32, "embeddingSize": 16, "widths": [4, 4, 8, 8],
        "layers": [1, 1, 1, 1], "weights": "backbone.safetensors"}))
    return folder, backbone.eval()


def _expected(backbone, images, a, b, same):
    embeddings = flip_sum_embeddings(FaceEncoder(backbone, 32), images, batch_size=64).numpy()
    return verify_pairs(embeddings[a], embeddings[b], same)


def test_a_bin_pair_set_scored_like_the_protocol_on_the_models_own_embeddings(faces, encoder_dir, tmp_path):
    pictures, identity = faces
    pairs = make_pairs(identity.numpy(), total=100, seed=1)
    images = torch.stack([pictures[i] for ab in zip(pairs.a, pairs.b) for i in ab])  # pair i = images 2i, 2i+1
    write_verification_bin(tmp_path / "set.bin", images, torch.from_numpy(pairs.same), format="png")
    folder, backbone = encoder_dir
    result = verify_model(str(tmp_path / "set.bin"), str(folder), batchSize=64, device="cpu")
    expected = _expected(backbone, images, np.arange(0, 200, 2), np.arange(1, 200, 2), pairs.same)
    assert result["pairs"] == 100
    assert result["accuracy"] == pytest.approx(expected.accuracy, abs=1e-12)
    assert result["threshold"] == pytest.approx(expected.threshold, abs=1e-12)


def _write_manifest(folder, pictures, identity, split="test"):
    with open(folder / "manifest.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "identity", "split"])
        for n, (picture, i) in enumerate(zip(pictures, identity.tolist())):
            image_files.write_png_atomic(folder / f"{n}.png", picture)
            writer.writerow([f"{n}.png", i, split])
    return folder / "manifest.csv"


def test_a_pairs_csv_of_manifest_rows(faces, encoder_dir, tmp_path):
    pictures, identity = faces
    manifest = _write_manifest(tmp_path, pictures, identity)
    pairs = make_pairs(identity.numpy(), total=100, seed=2)
    write_pairs_csv(tmp_path / "pairs.csv", pairs)
    folder, backbone = encoder_dir
    result = verify_model(str(tmp_path / "pairs.csv"), str(folder), manifest=str(manifest), batchSize=64, device="cpu")
    expected = _expected(backbone, pictures, pairs.a, pairs.b, pairs.same)
    assert result["accuracy"] == pytest.approx(expected.accuracy, abs=1e-12)


def test_the_evaluate_stage_and_id3_verify_give_identical_figures(faces, tmp_path):
    """One embedding path: `evaluate` once summed two normalised embeddings where `id3 verify` normalised the sum
    (on this briefly trained f, that moved the threshold from 1.29 to 1.25 and the accuracy from 0.665 to 0.65)."""
    pictures, identity = faces
    manifest = _write_manifest(tmp_path, pictures, identity, split="train")
    folder = tmp_path / "encoder"
    write_trained_encoder(folder, str(manifest), epochs=2)  # some skill, far from perfect: the paths can differ
    out = tmp_path / "evaluate"
    out.mkdir()
    args = {"heldOut": {"name": "held-out", "manifest": str(manifest), "splits": ["train"], "pairs": 200, "seed": 3},
            "benchmarks": [], "ijb": [], "workers": 0, "models": [{"name": "f", "encoder": {"kind": "folder", "path": str(folder)}}],
            "pixelBaseline": False, "batchSize": 32, "outDir": str(out), "device": "cpu"}
    rows = evaluate(with_defaults("evaluate", args), Progress())["rows"]
    verified = verify_model(str(out / "pairs.csv"), str(folder), manifest=str(manifest), batchSize=64, device="cpu")
    pairs = read_pairs_csv(str(out / "pairs.csv"))
    encoder = load_trained_encoder(str(folder))  # the raw network, flip-summed and normalised once (insightface)
    expected = _expected(encoder.backbone, pictures, pairs.a, pairs.b, pairs.same)
    for field in ("pairs", "accuracy", "std", "threshold"):
        assert rows[0][field] == verified[field] == pytest.approx(getattr(expected, field), abs=1e-12), field


def test_a_checkpoint_file_needs_its_architecture(encoder_dir, tmp_path):
    folder, _ = encoder_dir
    with pytest.raises(ValueError, match="needs its architecture"):
        verify_model(str(tmp_path / "set.bin"), str(folder / "backbone.safetensors"), device="cpu")
    with pytest.raises(ValueError, match="give the manifest too"):
        verify_model(str(tmp_path / "pairs.csv"), str(folder), device="cpu")
    assert os.path.exists(folder / "encoder.json")
