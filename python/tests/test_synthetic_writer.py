"""The synthetic-dataset writer: what it writes, that a killed run loses only the shard (or the join) in
flight and ends byte-identical to an unbroken one, and that MXNet and insightface's loader read its .rec."""
from __future__ import annotations

import csv
import json
import multiprocessing
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from id3_torch.data.datasets import open_face_images
from id3_torch.data.folders import decode_image
from id3_torch.data.parametric import render_images
from id3_torch.data.recordio import RecordIOReader
from id3_torch.data.synthetic import SyntheticDatasetWriter, SyntheticLayout
from mxnet_reference import run_mxnet
from synthetic_helper import LAYOUT, conditions, faces, finalize_dying_in_join, write_shards

N, M = LAYOUT.identities, LAYOUT.images_per_identity
STATISTICS = {"identityConsistency": {"mean": 0.61}}
HISTOGRAMS = {"anchor cosine": np.linspace(0.7, 0.9, 21)}


def _one_thread_then(function, *args, **kwargs):
    torch.set_num_threads(1)  # a forked child must not use the parent's OpenMP pool (it would hang)
    function(*args, **kwargs)


def killed(function, *args, **kwargs) -> int:
    """Run function in a forked process (no torch import to wait for) that SIGKILLs itself part-way; its exit code."""
    process = multiprocessing.get_context("fork").Process(target=_one_thread_then, args=(function, *args), kwargs=kwargs)
    process.start()
    process.join(120)
    if process.exitcode is None:
        process.kill()
    return process.exitcode


def snapshot(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under root: (inode, mtime in ns, bytes)."""
    return {str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(root.rglob("*")) if p.is_file()}


def contents(root: Path) -> dict[str, bytes]:
    return {name: data for name, (_, _, data) in snapshot(root).items()}


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    """The dataset written in one unbroken run, batches of 3."""
    root = tmp_path_factory.mktemp("straight") / "faces"
    write_shards(root, batch=3).finalize(statistics=STATISTICS, histograms=HISTOGRAMS)
    return root


def test_what_the_writer_writes(straight):
    assert sorted(os.listdir(straight)) == ["attributes.npy", "card", "card.json", "card.md", "dataset.json",
                                            "embeddings.npy", "images", "layout.json", "manifest.csv", "train.idx",
                                            "train.rec"]
    with open(straight / "manifest.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == N * M
    assert list(rows[0]) == ["path", "identity", "image", "anchor", "key", "embedding", "seed", "age", "yaw"]
    assert rows[7] == {"path": "images/2/1.jpg", "identity": "2", "image": "1", "anchor": "102", "key": "8",
                       "embedding": "7", "seed": "2001", "age": "35.0", "yaw": "-17.75"}
    identity = torch.arange(N).repeat_interleave(M)
    image = torch.arange(M).repeat(N)
    expected = conditions(identity, image)
    assert np.array_equal(np.load(straight / "embeddings.npy"), expected["embedding"].numpy())
    assert np.array_equal(np.load(straight / "attributes.npy"), expected["attributes"].numpy())
    # The image folder and the .rec hold the same JPEG bytes, and each is its own rendered face.
    folder, records = open_face_images(straight), open_face_images(straight / "train.rec")
    assert folder.format == "manifest" and folder.labels.tolist() == records.labels.tolist() == identity.tolist()
    for n in (0, 8, 20):
        assert folder.encoded(n) == records.encoded(n)
        error = (decode_image(folder.encoded(n), path="x").float() - faces().float()).abs().mean(dim=(1, 2, 3))
        assert int(error.argmin()) == n and error[n] < 10
    with RecordIOReader(straight / "train.rec") as reader:
        assert reader.identity_ranges.tolist() == [[1 + M * i, 1 + M * (i + 1)] for i in range(N)]
        assert reader.read(8)[0].id == 8  # insightface's tools set id to the key
    assert not (straight / "shards").exists()


def test_the_card(straight, tmp_path):
    card = json.loads((straight / "card.json").read_text())
    assert (card["identities"], card["images"], card["embeddingSize"]) == (N, N * M, 8)
    assert card["imagesPerIdentity"] == {"min": M, "median": float(M), "max": M}
    assert card["imageSize"] == {"width": 32, "height": 32} and card["formats"] == ["folder", "recordio"]
    age = card["attributes"]["age"]
    assert (age["min"], age["max"]) == (20.0, 65.0) and sum(age["histogram"]["counts"]) == N * M
    assert card["statistics"] == {"identityConsistency": {"mean": 0.61}}
    assert sum(card["histograms"]["anchor cosine"]["histogram"]["counts"]) == 21
    for plot in [card["attributes"]["yaw"]["plot"], card["histograms"]["anchor cosine"]["plot"]]:
        assert (straight / plot).read_bytes().startswith(b"\x89PNG")
    text = (straight / "card.md").read_text()
    assert "| identities | 7 |" in text and "| identityConsistency.mean | 0.61 |" in text
    assert "![age](card/attribute-age.png)" in text
    # The generate stage can rewrite the card with more figures later.
    copy = shutil.copytree(straight, tmp_path / "faces")
    again = SyntheticDatasetWriter(copy, LAYOUT).write_card(statistics={"leakage": {"closest": 0.31}})
    assert again["statistics"] == {"leakage": {"closest": 0.31}}
    assert "| leakage.closest | 0.31 |" in (copy / "card.md").read_text()


def test_a_killed_shard_is_redone_and_finished_ones_are_untouched(straight, tmp_path):
    root = tmp_path / "faces"
    assert killed(write_shards, root, batch=2, die_in_shard=2) == -9
    shards = root / "shards"
    assert sorted(os.listdir(shards)) == [".00002.partial", "00000", "00001"]
    writer = SyntheticDatasetWriter(root, LAYOUT)
    assert writer.pending_shards() == [2, 3] and writer.pending_shards(rank=1, world_size=2) == [3]
    finished = {k: v for k, v in snapshot(root).items() if k.startswith(("shards/00000", "shards/00001", "images/"))}
    assert {k.split("/")[1] for k in finished if k.startswith("images/")} == {"0", "1", "2", "3"}
    write_shards(root, batch=5)  # another batch size: the bytes do not depend on it
    after = snapshot(root)
    assert all(after[name] == before for name, before in finished.items())  # same inode, mtime and bytes
    assert sorted(os.listdir(shards)) == ["00000", "00001", "00002", "00003"]
    writer.finalize(statistics=STATISTICS, histograms=HISTOGRAMS)
    assert contents(root) == contents(straight)


def test_a_killed_join_is_redone(straight, tmp_path):
    root = tmp_path / "faces"
    assert killed(finalize_dying_in_join, root) == -9
    assert not (root / "train.rec").exists() and not (root / "dataset.json").exists()
    assert any(name.startswith(".train.rec.") for name in os.listdir(root))  # the join's temporary, not passing for whole
    writer = SyntheticDatasetWriter(root, LAYOUT)
    assert writer.pending_shards() == []
    writer.finalize(statistics=STATISTICS, histograms=HISTOGRAMS)
    assert {k: v for k, v in contents(root).items() if not k.startswith(".")} == contents(straight)


def test_mxnet_and_insightface_read_the_rec(straight, mxnet_python, tmp_path):
    rec, idx = straight / "train.rec", straight / "train.idx"
    (tmp_path / "decoded").mkdir()
    seen = json.loads(run_mxnet(mxnet_python, "insightface", rec, idx, tmp_path / "decoded"))
    assert seen["header"] == [N * M + 1, N * M + 1 + N]
    assert seen["labels"] == torch.arange(N).repeat_interleave(M).tolist()
    assert seen["ranges"] == [[1 + M * i, 1 + M * (i + 1)] for i in range(N)]
    assert seen["sequential"] == N * M + N + 1  # the framing reads end to end
    with RecordIOReader(rec) as reader:
        for key in range(1, N * M + 1):
            theirs = torch.from_numpy(np.load(tmp_path / "decoded" / f"{key}.npy")).permute(2, 0, 1)
            assert (theirs.int() - reader.image(key).int()).abs().max() <= 1


def test_adds_out_of_order_and_other_layouts_are_refused(tmp_path):
    writer = SyntheticDatasetWriter(tmp_path / "d", LAYOUT)
    pictures, _ = render_images(4, torch.tensor([2, 2]), torch.tensor([0, 2]), 32)
    shard = writer.open_shard(1)
    with pytest.raises(ValueError, match="expected identity 2 image 1 next"):
        shard.add(identity=torch.tensor([2, 2]), image=torch.tensor([0, 2]), images=pictures,
                  **conditions(torch.tensor([2, 2]), torch.tensor([0, 2])))
    with pytest.raises(ValueError, match="embedding: expected shape \\(2, 8\\)"):
        shard.add(identity=torch.tensor([2, 2]), image=torch.tensor([0, 1]), images=pictures,
                  **{**conditions(torch.tensor([2, 2]), torch.tensor([0, 1])), "embedding": torch.zeros(2, 4)})
    with pytest.raises(ValueError, match="0 of its 6 images were added"):
        shard.commit()
    shard.abort()
    assert os.listdir(tmp_path / "d" / "shards") == []
    with pytest.raises(RuntimeError, match="shard\\(s\\) 0, 1, 2, 3 of 4 are not complete"):
        writer.finalize()
    other = SyntheticLayout(**{**LAYOUT.as_json(), "formats": ("folder",), "attribute_names": ("age", "yaw")})
    with pytest.raises(ValueError, match="holds a dataset of another layout"):
        SyntheticDatasetWriter(tmp_path / "d", other)
    with pytest.raises(ValueError, match="layout.attribute_names: expected distinct names other than path"):
        SyntheticLayout(identities=2, images_per_identity=2, attribute_names=("seed",))


def test_recordio_only_and_png(tmp_path):
    layout = SyntheticLayout(identities=3, images_per_identity=2, identities_per_shard=3, formats=("recordio",),
                             image_format="png", embedding_size=8, attribute_names=("age", "yaw"))
    writer = SyntheticDatasetWriter(tmp_path / "d", layout)
    identity, image = torch.arange(3).repeat_interleave(2), torch.arange(2).repeat(3)
    pictures, _ = render_images(4, identity, image, 32)
    with writer.open_shard(0) as out:
        out.add(identity=identity, image=image, images=pictures, **conditions(identity, image))
    card = writer.finalize()
    assert card["formats"] == ["recordio"] and not (tmp_path / "d" / "images").exists()
    header = (tmp_path / "d" / "manifest.csv").read_text().splitlines()[0]
    assert header == "identity,image,anchor,key,embedding,seed,age,yaw"
    dataset = open_face_images(tmp_path / "d")  # the manifest lists no paths: the .rec is the dataset
    assert dataset.format == "recordio" and torch.equal(dataset[5].image, pictures[5])  # PNG: exact
