"""The prepare stage's Python half: files, rows, resume after a kill."""
import hashlib

import torch

from id3_torch.bridge.jobs import Progress
from id3_torch.data import parametric
from id3_torch.jobs.prepare import parametric_faces
from id3_torch.jobs.contracts import with_defaults

RANGES = {"age": [18, 80], "yaw": [-45, 45], "pitch": [-20, 20], "roll": [-15, 15]}


def _args(tmp_path, **overrides):
    args = {"outDir": str(tmp_path / "images"), "gridPath": str(tmp_path / "grid.png"), "firstIdentity": 0, "identities": 4,
            "imagesPerIdentity": 3, "resolution": 32, "seed": 7, "ranges": RANGES, "batchSize": 5,
            "gridIdentities": 2, "gridImages": 3}
    return with_defaults("prepare.parametric", {**args, **overrides})


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_rows_match_the_renderers_ground_truth(tmp_path):
    result = parametric_faces(_args(tmp_path), Progress())
    rows = result["rows"]
    assert [r["path"] for r in rows[:4]] == ["0/0.png", "0/1.png", "0/2.png", "1/0.png"]
    assert result["rendered"] == 12 and result["reused"] == 0
    truth = parametric.image_params(7, torch.tensor([2]), torch.tensor([1]), parametric.NuisanceRanges())
    row = next(r for r in rows if r["identity"] == 2 and r["image"] == 1)
    for name in parametric.ATTRIBUTE_NAMES:
        assert abs(row[name] - float(truth[name][0])) < 1e-3
    assert (tmp_path / "grid.png").exists()


def test_resume_renders_only_what_is_missing_and_clears_half_written_files(tmp_path):
    args = _args(tmp_path)
    parametric_faces(args, Progress())
    images = tmp_path / "images"
    before = {p.relative_to(images): _digest(p) for p in images.rglob("*.png")}
    (images / "1" / "2.png").unlink()
    (images / "3" / "0.png").unlink()
    (images / "3" / ".0.png.abc123.tmp").write_bytes(b"half a png")
    result = parametric_faces(args, Progress())
    assert result["rendered"] == 2 and result["reused"] == 10
    after = {p.relative_to(images): _digest(p) for p in images.rglob("*.png")}
    assert after == before
    assert not list(images.rglob("*.tmp"))
