"""train-fr's Python half on a tiny parametric set: it learns, resumes exactly, streams the same batches it
holds in memory, reads a .rec, runs under torchrun."""
import csv
import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from id3_torch.bridge.jobs import Cancelled, Progress
from id3_torch.data import image_files, parametric
from id3_torch.data.datasets import open_face_images
from id3_torch.data.recordio import RecordIOWriter
from id3_torch.training.divergence import Diverged
from id3_torch.jobs.contracts import with_defaults
from id3_torch.jobs.train_fr import train_face_recognition
from child_processes import children_left
from progress_helpers import CancelAfter

IDENTITIES, IMAGES = 6, 6


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces")
    identity = torch.arange(IDENTITIES).repeat_interleave(IMAGES)
    image = torch.arange(IMAGES).repeat(IDENTITIES)
    pictures, _ = parametric.render_images(0, identity, image, 32)
    rows = []
    for i, k, picture in zip(identity.tolist(), image.tolist(), pictures):
        os.makedirs(root / str(i), exist_ok=True)
        image_files.write_png_atomic(root / str(i) / f"{k}.png", picture)
        rows.append({"path": f"{i}/{k}.png", "identity": i, "split": "train"})
    with open(root / "manifest.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "identity", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return str(root / "manifest.csv")


def _args(manifest, out_dir, **overrides):
    args = {"data": manifest, "outDir": str(out_dir), "splits": ["train"], "identities": None, "device": "cpu",
            "backbone": {"name": "iresnet-small", "inputSize": 32, "embeddingSize": 32, "widths": [8, 8, 16, 16],
                         "layers": [1, 1, 1, 1]},
            "head": "cosface", "s": 16.0, "m": 0.2, "epochs": 4, "batchSize": 12, "lr": 0.05, "momentum": 0.9,
            "weightDecay": 5e-4, "decayEpochs": [3], "warmupEpochs": 0, "flip": True, "gradClip": 5.0,
            "maxWeightGrowth": 20.0, "checkpointEvery": 4, "seed": 3}
    return with_defaults("train-fr", {**args, **overrides})


def test_learns_and_writes_an_encoder(manifest, tmp_path):
    torch.set_num_threads(1)
    progress = Progress()
    summary = train_face_recognition(_args(manifest, tmp_path, epochs=6), progress)
    assert summary["steps"] == 6 * 3 and summary["classes"] == IDENTITIES and summary["images"] == 36
    card = json.loads((tmp_path / "encoder.json").read_text())
    assert card["backbone"] == "iresnet-small" and card["embeddingSize"] == 32 and card["widths"] == [8, 8, 16, 16]
    assert "fc.weight" in load_file(str(tmp_path / "backbone.safetensors"))
    assert 0.9 < summary["weightGrowth"] < 1.1
    first = summary["finalLoss"]
    assert first is not None and first < 5.0  # from about 9 at the start (s = 16, 6 classes)


def test_a_killed_run_resumes_to_the_same_weights(manifest, tmp_path):
    torch.set_num_threads(1)
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    straight.mkdir(), resumed.mkdir()
    train_face_recognition(_args(manifest, straight), Progress())
    with pytest.raises(Cancelled):
        train_face_recognition(_args(manifest, resumed), CancelAfter(6))  # killed after step 6; checkpoint at 4
    progress = Progress()
    train_face_recognition(_args(manifest, resumed), progress)
    a, b = load_file(str(straight / "backbone.safetensors")), load_file(str(resumed / "backbone.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_run_whose_weights_explode_stops_at_that_step_and_keeps_its_last_checkpoint(manifest, tmp_path):
    # lr 10 (the schema's largest): the loss stays finite while ‖θ‖ grows 27-fold in 20 steps (measured); a run at
    # lr 0.05 stays within 2 % of its initial norm (test_learns_and_writes_an_encoder reads its weightGrowth).
    torch.set_num_threads(1)
    progress = Progress()
    with pytest.raises(Diverged, match=r"train-fr diverged at step (\d+): the weights' norm .* over trainFr.maxWeightGrowth "
                                       r"\(20\) × its initial .*lower trainFr.lr \(now 10\)") as stopped:
        train_face_recognition(_args(manifest, tmp_path, lr=10.0, epochs=20), progress)
    step = int(stopped.value.args[0].split("step ")[1].split(":")[0])
    assert progress.step == step - 1 < 20 * 3  # stopped before applying it, long before the end
    assert not (tmp_path / "backbone.safetensors").exists()
    if step > 4:  # the last checkpoint is the last good one, written before the explosion
        with safe_open(str(tmp_path / "checkpoint.safetensors"), framework="pt") as f:
            assert json.loads(f.metadata()["id3.training_state"])["step"] == (step - 1) // 4 * 4


def _weights(folder):
    return load_file(str(folder / "backbone.safetensors"))


def test_streamed_and_resumed_run_equals_the_in_memory_run(manifest, tmp_path):
    torch.set_num_threads(1)
    memory, streamed = tmp_path / "memory", tmp_path / "streamed"
    memory.mkdir(), streamed.mkdir()
    summary = train_face_recognition(_args(manifest, memory, loader={"mode": "memory", "workers": 0}), Progress())
    assert summary["feed"] == "memory"
    stream = {"mode": "stream", "workers": 2}
    with pytest.raises(Cancelled):
        train_face_recognition(_args(manifest, streamed, loader=stream), CancelAfter(6))
    assert children_left() == []  # the cancelled loader's workers are gone
    assert train_face_recognition(_args(manifest, streamed, loader=stream), Progress())["feed"] == "stream"
    a, b = _weights(memory), _weights(streamed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_trains_from_a_rec_skipping_a_corrupt_image(manifest, tmp_path):
    torch.set_num_threads(1)
    images = open_face_images(manifest)
    rec = tmp_path / "faces.rec"
    with RecordIOWriter(rec) as writer:
        for n in range(len(images)):
            writer.add_image(int(images.labels[n]), images.encoded(n))
            if n == 4:
                writer.add_image(int(images.labels[n]), b"\xff\xd8\xff" + bytes(500))  # key 6
    out = tmp_path / "out"
    out.mkdir()
    # One batch of all 37 an epoch, so the corrupt image is met; AdaFace's augmentations on.
    summary = train_face_recognition(_args(str(rec), out, splits=None, epochs=2, batchSize=37,
                                           augment={"crop": 0.3, "photometric": 0.3, "lowResolution": 0.3},
                                           loader={"mode": "stream", "workers": 2, "onCorrupt": "skip"}), Progress())
    assert summary["images"] == 37 and summary["classes"] == IDENTITIES and summary["steps"] == 2
    assert summary["skippedImages"] == 1 and summary["skipped"][0]["where"] == f"{rec}, record key 6"
    assert summary["finalLoss"] is not None and summary["finalLoss"] == summary["finalLoss"]  # finite, not NaN
    with pytest.raises(Exception, match="record key 6: not a decodable JPEG/PNG image"):
        train_face_recognition(_args(str(rec), tmp_path / "out", splits=None, loader={"mode": "memory", "workers": 0}),
                               Progress())


def test_torchrun_two_processes_over_gloo(manifest, tmp_path):
    job = tmp_path / "job.json"
    # Streamed by a worker per rank: DDP and the DataLoader together.
    job.write_text(json.dumps(_args(manifest, tmp_path, epochs=2, batchSize=6, loader={"mode": "stream", "workers": 1})))
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(__file__)), "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                    "-m", "id3_torch", "train-fr", "--job", str(job), "--events", str(tmp_path / "events.jsonl"),
                    "--result", str(tmp_path / "result.json")], check=True, env=env, timeout=240)
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["processes"] == 2
    assert result["steps"] == 2 * (36 // 12)  # a global batch is 6 per process × 2 processes
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert events[-1]["step"] == result["steps"]
