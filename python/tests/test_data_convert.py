"""`id3 data inspect` and `id3 data convert`, Python halves: the counts a dataset's index gives, sizes from
a sample, problems listed; conversion that copies image bytes exactly and never harms a destination."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from id3_torch.bridge.jobs import Cancelled, Progress
from id3_torch.jobs.data import convert_dataset
from id3_torch.data.datasets import open_face_images
from id3_torch.data.errors import DataFormatError
from id3_torch.data.folders import encode_image
from id3_torch.data.inspection import inspect_dataset
from id3_torch.data.parametric import render_images
from id3_torch.data.recordio import RecordIOReader
from id3_torch.data.verification_bin import write_verification_bin
from child_processes import children_left

LAYOUT = {"bob": 3, "alice": 1, "carol": 2}  # images per identity


@pytest.fixture(scope="module")
def faces() -> torch.Tensor:
    images, _ = render_images(2, torch.tensor([0, 0, 0, 1, 2, 2]), torch.arange(6), 40)
    return images


@pytest.fixture
def folders(faces, tmp_path) -> Path:
    """alice/0.jpg, bob/{0,1,2}.{jpg,png,jpg}, carol/{0,1}.jpg."""
    root = tmp_path / "folders"
    n = 0
    for name, count in LAYOUT.items():
        (root / name).mkdir(parents=True)
        for k in range(count):
            png = name == "bob" and k == 1
            (root / name / f"{k}.{'png' if png else 'jpg'}").write_bytes(encode_image(faces[n], format="png" if png else "jpeg"))
            n += 1
    return root


def test_inspect_identity_folders(folders):
    (folders / "dave").mkdir()  # empty: listed, not fatal
    report = inspect_dataset(str(folders))
    assert report["format"] == "folders" and report["images"] == 6 and report["identities"] == 3
    assert report["imagesPerIdentity"] == {"min": 1, "median": 2, "max": 3, "mean": 2.0}
    assert report["imageSizes"] == [{"width": 40, "height": 40, "count": 6}] and report["checked"] == 6
    assert report["encodings"] == {"jpeg": 5, "png": 1}
    assert report["problems"] == [f"{folders / 'dave'}: identity folder holds no image"]


def test_inspect_samples_evenly_and_lists_a_corrupt_image(folders):
    (folders / "carol" / "1.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(64))
    report = inspect_dataset(str(folders), sample=3)  # images 0, 2 (or 3) and 5: the last is carol/1.jpg
    assert report["checked"] == 3 and report["images"] == 6
    assert len(report["problems"]) == 1 and report["problems"][0].startswith(f"{folders / 'carol' / '1.jpg'}: not a decodable")


def test_inspect_manifest_splits_columns_and_arrays(folders):
    (folders / "manifest.csv").write_text("path,identity,split,age\nbob/0.jpg,7,train,30\nbob/2.jpg,7,val,31\n"
                                          "carol/0.jpg,8,train,\n")
    np.save(folders / "embeddings.npy", np.zeros((3, 8), np.float32))
    np.save(folders / "other.npy", np.zeros((5,), np.float32))
    report = inspect_dataset(str(folders))
    assert report["format"] == "manifest" and report["images"] == 3 and report["identities"] == 2
    assert report["splits"] == {"train": 2, "val": 1}
    assert report["columns"] == {"numeric": ["age"], "text": ["split"]}
    assert report["arrays"] == [{"file": "embeddings.npy", "shape": [3, 8], "dtype": "float32", "aligned": True},
                                {"file": "other.npy", "shape": [5], "dtype": "float32", "aligned": False}]


def test_inspect_verification_bin_and_refuse_a_foreign_pickle(faces, tmp_path):
    write_verification_bin(tmp_path / "lfw.bin", faces[:4], [True, False])
    report = inspect_dataset(str(tmp_path / "lfw.bin"))
    assert (report["format"], report["images"], report["pairs"], report["samePairs"]) == ("verification-bin", 4, 2, 1)
    assert report["imageSizes"] == [{"width": 40, "height": 40, "count": 4}]
    (tmp_path / "evil.bin").write_bytes(pickle.dumps(([{"a": 1}, b""], [True])))
    with pytest.raises(DataFormatError, match="expected encoded image bytes, found dict") as caught:
        inspect_dataset(str(tmp_path / "evil.bin"))
    assert caught.value.record == "image 0"
    (tmp_path / "evil2.bin").write_bytes(pickle.dumps(torch.nn.Linear(1, 1)))
    with pytest.raises(DataFormatError, match="refusing to load: the pickle names the global"):
        inspect_dataset(str(tmp_path / "evil2.bin"))


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_folder_to_rec_to_folder_copies_every_image_byte_for_byte(folders, tmp_path):
    progress = Progress()
    result = convert_dataset({"src": str(folders), "dst": str(tmp_path / "train.rec"), "workers": 2}, progress)
    assert (result["format"], result["images"], result["identities"], result["skippedImages"]) == ("recordio", 6, 3, 0)
    assert progress.step == progress.total == 6
    with RecordIOReader(tmp_path / "train.rec") as reader:
        assert reader.identity_ranges.tolist() == [[1, 2], [2, 5], [5, 7]]  # alice, bob, carol
        assert reader.read(3)[1] == (folders / "bob" / "1.png").read_bytes()
    back = convert_dataset({"src": str(tmp_path / "train.rec"), "dst": str(tmp_path / "back"), "workers": 0}, Progress())
    assert back["images"] == 6
    source = [p.read_bytes() for name in sorted(LAYOUT) for p in sorted((folders / name).iterdir())]
    assert sorted(_files(tmp_path / "back")) == ["0/000000.jpg", "1/000000.jpg", "1/000001.png", "1/000002.jpg",
                                                 "2/000000.jpg", "2/000001.jpg"]
    assert list(_files(tmp_path / "back").values()) == source
    assert open_face_images(tmp_path / "back").labels.tolist() == [0, 1, 1, 1, 2, 2]
    assert sorted(os.listdir(tmp_path)) == ["back", "folders", "train.idx", "train.rec"]  # no temporaries


def test_convert_never_writes_over_a_destination(folders, tmp_path):
    (tmp_path / "taken.idx").write_text("mine\n")
    with pytest.raises(FileExistsError, match="taken.idx: already exists"):
        convert_dataset({"src": str(folders), "dst": str(tmp_path / "taken.rec")}, Progress())
    assert (tmp_path / "taken.idx").read_text() == "mine\n" and not (tmp_path / "taken.rec").exists()
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError, match="out: already exists"):
        convert_dataset({"src": str(folders), "dst": str(tmp_path / "out")}, Progress())


@pytest.mark.parametrize("dst", ["bad.rec", "bad"])
def test_a_corrupt_image_stops_the_convert_and_leaves_nothing(folders, tmp_path, dst):
    (folders / "carol" / "1.jpg").write_bytes(encode_image(torch.zeros(3, 8, 8, dtype=torch.uint8))[:40])  # truncated
    with pytest.raises(DataFormatError, match="not a decodable JPEG/PNG image") as caught:
        convert_dataset({"src": str(folders), "dst": str(tmp_path / dst), "workers": 1}, Progress())
    assert str(folders / "carol" / "1.jpg") in str(caught.value)
    assert children_left(timeout=10) == []  # its workers end with it, not when the garbage collector runs
    assert sorted(os.listdir(tmp_path)) == ["folders"]
    result = convert_dataset({"src": str(folders), "dst": str(tmp_path / dst), "onCorrupt": "skip"}, Progress())
    assert result["images"] == 5 and result["skippedImages"] == 1
    assert result["skipped"][0]["where"] == str(folders / "carol" / "1.jpg")


def test_an_interrupted_convert_leaves_no_destination(folders, tmp_path):
    class StopAfterOneBatch(Progress):
        def advance(self, n=1, **metrics):
            self.cancel_requested.set()
            super().advance(n, **metrics)

    for dst in ("cut.rec", "cut"):
        with pytest.raises(Cancelled):
            convert_dataset({"src": str(folders), "dst": str(tmp_path / dst), "batchSize": 2}, StopAfterOneBatch())
    assert sorted(os.listdir(tmp_path)) == ["folders"]


def test_convert_a_manifest_split_re_encoded(folders, faces, tmp_path):
    (folders / "manifest.csv").write_text("path,identity,split\nbob/1.png,3,train\ncarol/0.jpg,4,val\nbob/0.jpg,3,train\n")
    result = convert_dataset({"src": str(folders), "dst": str(tmp_path / "train"), "splits": ["train"],
                              "imageFormat": "png"}, Progress())
    assert (result["images"], result["identities"]) == (2, 1)
    assert sorted(_files(tmp_path / "train")) == ["3/000000.png", "3/000001.png"]
    converted = open_face_images(tmp_path / "train")
    assert torch.equal(converted.image(0), faces[1])  # the PNG, exactly
    assert torch.equal(converted.image(1), open_face_images(folders / "manifest.csv").image(2))  # the JPEG as decoded
