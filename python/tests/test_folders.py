"""Image-folder indexes (identity folders, manifest CSV) and the shared JPEG/PNG codec."""

from __future__ import annotations

import io
import math

import pytest
import torch
from PIL import Image

from id3_torch.data.errors import DataFormatError
from id3_torch.data.folders import (
    decode_image,
    encode_image,
    encoded_format,
    index_identity_folders,
    index_manifest,
    load_image,
)
from id3_torch.data.parametric import render_images


@pytest.fixture(scope="module")
def faces() -> torch.Tensor:
    images, _ = render_images(5, torch.tensor([0, 0, 1, 2]), torch.tensor([0, 1, 0, 0]), 32)
    return images  # (4, 3, 32, 32)


def test_codec_round_trip(faces):
    png = encode_image(faces[0], format="png")
    jpeg = encode_image(faces[0], format="jpeg", quality=95)
    assert (encoded_format(png), encoded_format(jpeg), encoded_format(b"GIF89a")) == ("png", "jpeg", None)
    assert torch.equal(decode_image(png, path="x.png"), faces[0])
    decoded = decode_image(jpeg, path="x.jpg")
    assert decoded.dtype == torch.uint8 and decoded.shape == (3, 32, 32) and decoded.is_contiguous()
    assert (decoded.float() - faces[0].float()).abs().mean() < 10


def test_decoder_refuses_other_formats():
    stream = io.BytesIO()
    Image.new("RGB", (4, 4)).save(stream, format="GIF")  # a valid image, but not a format we parse
    gif = stream.getvalue()
    with pytest.raises(DataFormatError, match="not a decodable JPEG/PNG image") as caught:
        decode_image(gif, path="a.gif", record="image 7")
    assert (caught.value.path, caught.value.record) == ("a.gif", "image 7")


def write_identity_tree(root, faces, layout: dict[str, list[int]]) -> None:
    for name, indices in layout.items():
        (root / name).mkdir(parents=True)
        for n in indices:
            (root / name / f"{n}.png").write_bytes(encode_image(faces[n], format="png"))


def test_identity_folders(faces, tmp_path):
    write_identity_tree(tmp_path, faces, {"bob": [2], "alice": [1, 0], "carol": [3]})
    (tmp_path / "alice" / "notes.txt").write_text("not an image")
    (tmp_path / "alice" / ".2.png.tmp").write_bytes(b"half-written")
    (tmp_path / ".cache").mkdir()
    index = index_identity_folders(tmp_path)
    assert index.identities == ("alice", "bob", "carol")
    assert index.paths == ("alice/0.png", "alice/1.png", "bob/2.png", "carol/3.png")
    assert index.labels.tolist() == [0, 0, 1, 2]
    assert len(index) == 4 and torch.equal(index.image(2), faces[2])
    assert torch.equal(load_image(index.file(3)), faces[3])


def test_empty_identity_folder(faces, tmp_path):
    write_identity_tree(tmp_path, faces, {"a": [0], "c": [1]})
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "readme.txt").write_text("")
    with pytest.raises(DataFormatError, match="identity folder holds no image") as caught:
        index_identity_folders(tmp_path)
    assert caught.value.path == str(tmp_path / "b")
    index = index_identity_folders(tmp_path, on_empty="skip")
    assert index.identities == ("a", "c") and index.labels.tolist() == [0, 1] and index.skipped == ("b",)


def write_manifest(root, text: str) -> None:
    (root / "manifest.csv").write_text(text)


def test_manifest(faces, tmp_path):
    # The project's own manifest columns; identities are integers, so 10 sorts after 2.
    (tmp_path / "imgs" / "x").mkdir(parents=True)
    for n in range(3):
        (tmp_path / "imgs" / "x" / f"{n}.png").write_bytes(encode_image(faces[n], format="png"))
    write_manifest(tmp_path, "path,identity,image,split,age,yaw\n"
                             "imgs/x/0.png,10,0,train,31.5,-4\n"
                             "imgs/x/1.png,2,1,val,,12.25\n"
                             "\n"
                             "imgs/./x/2.png,10,2,train,60,0\n")
    index = index_manifest(tmp_path)
    assert index.identities == ("2", "10")
    assert index.labels.tolist() == [1, 0, 1]
    assert index.paths == ("imgs/x/0.png", "imgs/x/1.png", "imgs/x/2.png")
    assert set(index.attributes) == {"image", "age", "yaw"}
    assert index.attributes["age"].dtype == torch.float32
    assert index.attributes["yaw"].tolist() == [-4.0, 12.25, 0.0]
    assert index.attributes["age"][0] == 31.5 and math.isnan(index.attributes["age"][1])
    assert index.text_columns == {"split": ("train", "val", "train")}
    assert torch.equal(index.image(1), faces[1])


@pytest.mark.parametrize("path, message", [
    ("../../etc/passwd", "leaves the dataset root"),
    ("a/../../outside.png", "leaves the dataset root"),
    ("/etc/passwd", "absolute paths are refused"),
    ("a/missing.png", "no such file"),
    ("a", "no such file"),
    ("", "expected a non-empty file path"),
])
def test_manifest_rejects_bad_paths(faces, tmp_path, path, message):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "ok.png").write_bytes(encode_image(faces[0], format="png"))
    write_manifest(tmp_path, f"path,identity\na/ok.png,1\n{path},2\n")
    with pytest.raises(DataFormatError, match=message) as caught:
        index_manifest(tmp_path)
    assert caught.value.path == str(tmp_path / "manifest.csv") and caught.value.record == "line 3"


def test_links_inside_a_dataset_may_not_lead_outside_its_root(faces, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.png").write_bytes(encode_image(faces[0], format="png"))
    root = tmp_path / "data"
    write_identity_tree(root, faces, {"ann": [0, 1], "bob": [2]})
    (root / "ann" / "inside.png").symlink_to(root / "bob" / "2.png")  # a link within the root: fine
    assert "ann/inside.png" in index_identity_folders(root).paths
    write_manifest(root, "path,identity\nann/0.png,1\nann/inside.png,1\n")
    assert index_manifest(root).paths == ("ann/0.png", "ann/inside.png")

    (root / "ann" / "leak.png").symlink_to(outside / "secret.png")
    with pytest.raises(DataFormatError, match="is a link to .*elsewhere/secret.png, outside the dataset root") as caught:
        index_identity_folders(root)
    assert caught.value.path == str(root / "ann" / "leak.png")
    write_manifest(root, "path,identity\nann/0.png,1\nann/leak.png,1\n")
    with pytest.raises(DataFormatError, match="ann/leak.png.*outside the dataset root") as caught:
        index_manifest(root)
    assert caught.value.record == "line 3"
    (root / "ann" / "leak.png").unlink()
    (root / "cy").symlink_to(outside, target_is_directory=True)  # a whole identity folder elsewhere
    with pytest.raises(DataFormatError, match="outside the dataset root"):
        index_identity_folders(root)


@pytest.mark.parametrize("text, record, message", [
    ("file,identity\na.png,1\n", "line 1", "including path, identity"),
    ("path,identity,path\n", "line 1", "distinct names"),
    ("path,identity\na/ok.png\n", "line 2", "expected 2 fields, found 1"),
    ("path,identity\na/ok.png,\n", "line 2", "empty identity"),
])
def test_manifest_rejects_bad_rows(faces, tmp_path, text, record, message):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "ok.png").write_bytes(encode_image(faces[0], format="png"))
    write_manifest(tmp_path, text)
    with pytest.raises(DataFormatError, match=message) as caught:
        index_manifest(tmp_path)
    assert caught.value.record == record


def test_missing_manifest(tmp_path):
    with pytest.raises(DataFormatError, match="cannot open the manifest") as caught:
        index_manifest(tmp_path)
    assert caught.value.path == str(tmp_path / "manifest.csv")
