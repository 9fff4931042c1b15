"""The `train` job and the jobs that sample its model, on tiny parametric sets: it memorises, resumes exactly,
writes what load_diffusion_model reads; the sample job writes whole PNGs and resumes; the measures score right."""
import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from diffusion_helpers import training_args, write_encoder, write_faces, write_trained_encoder
from id3_torch.bridge.jobs import Cancelled, Progress
from id3_torch.data.labelled_images import LabelledImages, attribute_columns
from id3_torch.diffusion import SamplerOptions, load_diffusion_model, sample_images
from id3_torch.diffusion.conditioning import ATTRIBUTE_NAMES
from id3_torch.diffusion.measure import attribute_scores, held_out_conditions, identity_scores
from id3_torch.encoders import embed_images, load_identity_encoder
from id3_torch.training.divergence import Diverged
from id3_torch.recognition.iresnet import normalize_face_images
from id3_torch.jobs.contracts import with_defaults
from id3_torch.jobs.diffusion import measure, train_attribute_regressor, train_diffusion
from progress_helpers import CancelAfter

MEMORISED = 4  # faces the overfit model learns


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    torch.set_num_threads(1)
    return write_encoder(tmp_path_factory.mktemp("encoder"))


@pytest.fixture(scope="module")
def memorised(tmp_path_factory):
    """A tiny model trained to memorise MEMORISED faces at 16 px (one per identity), with the plain loss (w = 0:
    the identity term has its own tests, and f's backward would double the cost of the suite's longest fixture).
    Its f is trained on those faces: with an untrained f's near-equal embeddings, the conditions of two faces
    nearly coincide, and for some training seeds a sample reproduced the other face (or f ranked it second)."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("memorised")
    manifest = write_faces(root / "faces", identities=MEMORISED, images=1, resolution=16, copies=4)
    encoder = write_trained_encoder(root / "encoder", manifest)
    out = root / "train"
    out.mkdir()
    args = training_args(manifest, out, encoder, model={"patchSize": 1, "attentionResolutions": [8]},
                         conditioning={"dropout": 0.0}, loss={"w": 0.0},
                         training={"steps": 400, "batchSize": 16, "lr": 3e-3, "warmupSteps": 20, "emaDecay": 0.9,
                                   "checkpointEvery": 10**6, "gridImages": 4})
    summary = train_diffusion(args, Progress())
    return manifest, out, summary, encoder


def test_a_tiny_model_memorises_a_handful_of_faces(memorised):
    manifest, out, summary, encoder = memorised
    assert summary["steps"] == 400 and summary["images"] == 4 * MEMORISED
    model = load_diffusion_model(str(out))
    data = LabelledImages.from_manifest(manifest, splits=("train",))
    data = LabelledImages(data.images[::4], data.labels[::4], data.identities, {k: v[::4] for k, v in data.attributes.items()})
    y = embed_images(load_identity_encoder(encoder), data.images)
    s = attribute_columns(data, ATTRIBUTE_NAMES, manifest=manifest)
    samples = sample_images(model.denoiser, model.schedule, y=y, s=s, seeds=[0, 1, 2, 3], options=SamplerOptions(steps=20))
    distance = (samples[:, None] - normalize_face_images(data.images)[None]).abs().mean(dim=(2, 3, 4))  # (sample, face)
    # Each sample reproduces its own face (mean |Δ| per pixel on [-1, 1]: 0.1 is a 13/255 error), at less than
    # half its distance to any other face.
    own, others = distance.diagonal(), distance.masked_fill(torch.eye(MEMORISED, dtype=torch.bool), 2.0).amin(dim=1)
    assert (own < 0.15).all() and (own < others / 2).all(), distance
    assert (out / "grid.png").exists()
    card = json.loads((out / "model.json").read_text())
    assert card["kind"] == "id3-diffusion" and card["resolution"] == 16 and card["encoder"] == encoder
    # Trained without attribute dropout, it has no ε(y, ∅) to guide the attributes against.
    with pytest.raises(ValueError, match=r"cfgGuides 'attributes' needs .*attributeDropout > 0"):
        model.sample(y=y, s=s, seeds=[0, 1, 2, 3], options=SamplerOptions(steps=2, cfg_scale=3.0, cfg_guides="attributes"))


def test_a_killed_run_resumes_to_the_same_weights(tmp_path, encoder):
    manifest = write_faces(tmp_path / "faces", identities=3, images=3)
    # U-Net dropout, condition dropout and attribute dropout on: their randomness must resume too.
    overrides = dict(model={"dropout": 0.2}, conditioning={"dropout": 0.3, "attributeDropout": 0.5},
                     training={"steps": 7, "checkpointEvery": 3})
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    straight.mkdir(), resumed.mkdir()
    train_diffusion(training_args(manifest, straight, encoder, **overrides), Progress())
    with pytest.raises(Cancelled):
        train_diffusion(training_args(manifest, resumed, encoder, **overrides), CancelAfter(5))  # checkpoint at 3
    assert not (resumed / "ema.safetensors").exists()
    progress = Progress()
    train_diffusion(training_args(manifest, resumed, encoder, **overrides), progress)
    assert progress._first_step == 3
    for name in ("ema.safetensors", "checkpoint.safetensors"):
        a, b = load_file(str(straight / name)), load_file(str(resumed / name))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name  # tolerance: none, bit-equal
    assert json.loads((straight / "model.json").read_text())["training"]["attributeDropout"] == 0.5
    for name, changed in {"other-seed": {"training": {**overrides["training"], "seed": 1}},
                          "no-attribute-dropout": {"conditioning": {"dropout": 0.3, "attributeDropout": 0.0}}}.items():
        other = tmp_path / name
        other.mkdir()
        train_diffusion(training_args(manifest, other, encoder, **{**overrides, **changed}), Progress())
        a, c = load_file(str(straight / "ema.safetensors")), load_file(str(other / "ema.safetensors"))
        assert not all(torch.equal(a[k], c[k]) for k in a), name


def test_a_diverged_training_stops_at_that_step_and_is_not_written_as_done(tmp_path, encoder):
    manifest = write_faces(tmp_path / "faces", identities=3, images=3)
    progress = Progress()
    # lr 1 (the setting), gradients clipped at 1: NaN within a few steps.
    with pytest.raises(Diverged, match=r"train diverged at step (\d+): the (loss|denoising loss|identity loss|gradient "
                                       r"norm) is (nan|inf).*lower diffusion.training.lr \(now 1\)") as stopped:
        train_diffusion(training_args(manifest, tmp_path, encoder, training={"lr": 1.0, "steps": 40}), progress)
    step = int(stopped.value.args[0].split("step ")[1].split(":")[0])
    assert progress.step == step - 1 and 3 < step < 40
    assert not (tmp_path / "ema.safetensors").exists() and not (tmp_path / "model.json").exists()
    with safe_open(str(tmp_path / "checkpoint.safetensors"), framework="pt") as f:  # the last good one (every 3)
        assert json.loads(f.metadata()["id3.training_state"])["step"] == (step - 1) // 3 * 3
        assert all(torch.isfinite(f.get_tensor(k)).all() for k in f.keys() if k.startswith("model/"))


def test_identity_and_attribute_scores_on_real_images(tmp_path, encoder):
    manifest = write_faces(tmp_path / "faces", identities=5, images=3, splits=["test"] * 5)
    data = LabelledImages.from_manifest(manifest, splits=("test",))
    conditions = held_out_conditions(data, per_identity=2)
    assert conditions.rows.tolist() == [0, 1, 3, 4, 6, 7, 9, 10, 12, 13] and conditions.partner.tolist()[:2] == [1, 2]
    real, partners = data.images[conditions.rows], data.images[conditions.partner]
    f = load_identity_encoder(encoder)
    as_real = identity_scores(f, real, real, partners, conditions.labels)  # "samples" that are the real images
    assert as_real["identityCosine"] == pytest.approx(1.0, abs=1e-6) and as_real["impostorCosine"] < 1.0
    as_partner = identity_scores(f, partners, real, partners, conditions.labels)
    assert as_partner["identityCosine"] == pytest.approx(as_real["genuineCosine"], abs=1e-6)

    regressor_dir = tmp_path / "attributes"
    regressor_dir.mkdir()
    trained = train_attribute_regressor(with_defaults("attributes.train", {
        "manifest": manifest, "outDir": str(regressor_dir), "splits": ["test"], "evalSplit": "test", "epochs": 1, "batchSize": 5,
        "lr": 1e-3, "seed": 0, "inputSize": 16, "widths": [8, 8], "device": "cpu"}), Progress())
    from id3_torch.encoders.attribute_regressor import load_attribute_regressor
    regressor = load_attribute_regressor(str(regressor_dir))
    s = attribute_columns(data, ATTRIBUTE_NAMES, manifest=manifest)
    scores = attribute_scores(regressor, real, real, s[conditions.rows])
    assert scores["samples"] == scores["real"]
    assert set(trained["meanAbsoluteError"]) == set(ATTRIBUTE_NAMES)
    with pytest.raises(ValueError, match="perIdentity"):
        held_out_conditions(data, per_identity=3)


def test_the_attribute_regressor_fits_its_faces_in_years_and_degrees(tmp_path):
    # Held-out accuracy needs thousands of faces (the CPU-scale proof reports it, docs/diffusion.md); here: it
    # learns, and its outputs are in the manifest's units.
    manifest = write_faces(tmp_path / "faces", identities=24, images=4)
    out = tmp_path / "attributes"
    out.mkdir()
    args = {"manifest": manifest, "outDir": str(out), "splits": ["train"], "evalSplit": "train", "epochs": 12, "batchSize": 16, "lr": 3e-3,
            "seed": 0, "inputSize": 32, "widths": [8, 16, 32], "device": "cpu"}
    result = train_attribute_regressor(args, Progress())
    data = LabelledImages.from_manifest(manifest, splits=("train",))
    truth = attribute_columns(data, ATTRIBUTE_NAMES, manifest=manifest)
    constant = (truth - truth.mean(0)).abs().mean(0)  # the error of always predicting the mean
    errors = result["meanAbsoluteError"]
    assert result["evalImages"] == 96
    assert all(errors[name] < 0.5 * float(constant[k]) for k, name in enumerate(ATTRIBUTE_NAMES)), (errors, constant)
    assert train_attribute_regressor(args, Progress())["meanAbsoluteError"] == errors  # a finished folder is reused


def test_the_measure_job_scores_a_model_that_reproduces_its_conditions(memorised, tmp_path):
    # The memorised faces as held-out identities (each listed 4 times): a sample that reproduces its
    # face must score near the genuine cosine (here 1: the partner is the same file) and rank 1.
    manifest, train_dir, _, _ = memorised
    regressor = tmp_path / "attributes"
    regressor.mkdir()
    train_attribute_regressor({"manifest": manifest, "outDir": str(regressor), "splits": ["train"], "evalSplit": "train",
                               "epochs": 1,
                               "batchSize": 8, "lr": 1e-3, "seed": 0, "inputSize": 16, "widths": [8, 8], "device": "cpu"},
                              Progress())
    result = measure({"trainDir": str(train_dir), "manifest": manifest, "split": "train", "perIdentity": 1, "seed": 0,
                      "batchSize": 4, "attributeRegressor": str(regressor), "judges": {}, "outDir": str(tmp_path / "measure"),
                      "device": "cpu", "sampler": {"method": "ddim", "steps": 20, "eta": 0.0, "guidanceScale": 0.0,
                                                   "gradientMode": "detached", "cfgScale": 1.0, "cfgGuides": "condition",
                                                   "clip": True}},
                     Progress())
    scores = result["identity"]["f"]
    assert result["samples"] == MEMORISED and scores["genuineCosine"] == pytest.approx(1.0, abs=1e-6)
    assert scores["identityCosine"] > 0.9 and scores["rank1"] == 1.0, scores
    assert json.loads((tmp_path / "measure" / "measure.json").read_text())["identity"]["f"] == scores
