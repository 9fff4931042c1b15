"""Streaming Datasets over identity folders, manifests and RecordIO: the same examples from every format,
the epoch order, identity-balanced sampling, augmentation, skip-and-report across workers, every bad input."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from id3_torch.data.augment import AugmentOptions, _photometric, augment_batch, crop_masks
from id3_torch.training.randomness import step_generator
from id3_torch.data.batches import EpochBatches, collate_faces, decode_all, face_loader, loading
from id3_torch.data.datasets import FolderImages, open_face_images
from id3_torch.data.errors import DataFormatError
from id3_torch.data.feeds import LoaderOptions, open_feed
from id3_torch.data.folders import encode_image
from id3_torch.data.parametric import render_images
from id3_torch.data.recordio import RecordIOWriter
from id3_torch.training.order import balanced_order, epoch_order, split_batches
from child_processes import children_left

IDENTITIES = [0, 0, 0, 1, 1, 2, 2, 2, 2, 3]  # uneven on purpose: 3, 2, 4, 1 images


@pytest.fixture(scope="module")
def faces() -> torch.Tensor:
    images, _ = render_images(11, torch.tensor(IDENTITIES), torch.arange(len(IDENTITIES)), 32)
    return images  # (10, 3, 32, 32)


@pytest.fixture(scope="module")
def sets(faces, tmp_path_factory) -> dict[str, Path]:
    """The same ten PNG faces as identity folders, a manifest folder (with a split column and an aligned
    array) and an insightface .rec."""
    root = tmp_path_factory.mktemp("sets")
    rows = ["path,identity,split,age"]
    with RecordIOWriter(root / "faces.rec") as writer:
        for n, (identity, image) in enumerate(zip(IDENTITIES, faces)):
            data = encode_image(image, format="png")
            (root / "folders" / f"id{identity}").mkdir(parents=True, exist_ok=True)
            (root / "folders" / f"id{identity}" / f"{n}.png").write_bytes(data)
            (root / "manifest" / "img").mkdir(parents=True, exist_ok=True)
            (root / "manifest" / "img" / f"{n}.png").write_bytes(data)
            rows.append(f"img/{n}.png,{10 + identity},{'val' if identity == 3 else 'train'},{20 + n}")
            writer.add_image(identity, data)
    (root / "manifest" / "manifest.csv").write_text("\n".join(rows) + "\n")
    np.save(root / "manifest" / "embeddings.npy", np.arange(40, dtype=np.float32).reshape(10, 4))
    return {"folders": root / "folders", "manifest": root / "manifest", "recordio": root / "faces.rec"}


@pytest.mark.parametrize("format", ["folders", "manifest", "recordio"])
def test_every_format_gives_the_same_examples(sets, faces, format):
    dataset = open_face_images(sets[format])
    assert dataset.format == format and len(dataset) == 10 and dataset.num_classes == 4
    assert dataset.labels.tolist() == IDENTITIES
    for n in (0, 4, 9):
        example = dataset[n]
        assert torch.equal(example.image, faces[n]) and example.label == IDENTITIES[n] and example.index == n
    names = {"folders": ("id0", "id1", "id2", "id3"), "manifest": ("10", "11", "12", "13"), "recordio": ("0", "1", "2", "3")}
    assert dataset.identities == names[format]


def test_manifest_splits_arrays_and_columns(sets, faces):
    dataset = open_face_images(sets["manifest"], splits=["train"], arrays={"y": str(sets["manifest"] / "embeddings.npy")},
                               columns=["age"])
    assert len(dataset) == 9 and dataset.num_classes == 3  # identity 13 is the val split
    example = dataset[8]  # manifest row 8
    assert torch.equal(example.image, faces[8])
    assert example.extras["age"].item() == 28.0
    assert example.extras["y"].tolist() == [32.0, 33.0, 34.0, 35.0]  # row 8 of the aligned array
    batch = collate_faces([dataset[n] for n in (1, 8)])
    assert batch.extras["y"].shape == (2, 4) and batch.extras["age"].tolist() == [21.0, 28.0]
    with pytest.raises(DataFormatError, match="no rows in split"):
        open_face_images(sets["manifest"], splits=["test"])
    with pytest.raises(ValueError, match="select manifest rows"):
        open_face_images(sets["recordio"], splits=["train"])


def test_the_first_identities_of_a_manifest_split(sets, faces):
    dataset = open_face_images(sets["manifest"], splits=["train"], identities=2)
    assert dataset.identities == ("10", "11") and len(dataset) == 5  # 3 + 2 images
    assert [dataset[n].label for n in range(len(dataset))] == [0, 0, 0, 1, 1]
    assert torch.equal(dataset[4].image, faces[4])
    with pytest.raises(DataFormatError, match="expected at least 4 identities in the selected rows, found 3"):
        open_face_images(sets["manifest"], splits=["train"], identities=4)
    with pytest.raises(ValueError, match="select manifest rows"):
        open_face_images(sets["recordio"], identities=2)


def test_an_array_that_is_not_aligned_is_refused(sets, tmp_path):
    np.save(tmp_path / "short.npy", np.zeros((9, 4), np.float32))
    with pytest.raises(DataFormatError, match="has 9 rows, expected 10") as caught:
        open_face_images(sets["manifest"], arrays={"y": str(tmp_path / "short.npy")})
    assert caught.value.path == str(tmp_path / "short.npy")


def test_image_size_resizes_in_the_dataset(sets):
    assert open_face_images(sets["recordio"], image_size=16)[3].image.shape == (3, 16, 16)


@pytest.mark.parametrize("format", ["folders", "recordio"])
def test_two_workers_give_the_batches_of_the_order(sets, faces, format):
    dataset = open_face_images(sets[format])
    batches = EpochBatches(dataset.labels, batch_size=3, seed=5)
    batches.set_epoch(2, start=1)
    expected = split_batches(epoch_order(dataset.labels, seed=5, epoch=2), batch_size=3)[1:]
    seen = list(face_loader(dataset, batches, workers=2))
    assert [b.indices.tolist() for b in seen] == [e.tolist() for e in expected]
    for batch in seen:
        assert torch.equal(batch.images, faces[batch.indices]) and batch.labels.tolist() == [IDENTITIES[i] for i in batch.indices]
    assert children_left() == []


def test_the_order_depends_on_seed_epoch_and_rank_only():
    labels = torch.tensor(IDENTITIES * 10)
    a = EpochBatches(labels, batch_size=4, seed=1, rank=1, world_size=2)
    b = pickle.loads(pickle.dumps(a))
    assert all(torch.equal(x, y) for x, y in zip(a.batches(3), b.batches(3)))
    assert not torch.equal(torch.cat(a.batches(3)), torch.cat(a.batches(4)))
    r0 = EpochBatches(labels, batch_size=4, seed=1, rank=0, world_size=2).batches(3)
    assert set(torch.cat(r0).tolist()).isdisjoint(torch.cat(a.batches(3)).tolist())


def test_balanced_order_draws_identities_equally_and_cycles_their_images():
    labels = torch.tensor([0] * 200 + [1] * 20 + [2] * 4 + [3] * 1)  # 225 examples
    order = balanced_order(labels, seed=2, epoch=0)
    assert order.shape == (225,) and torch.equal(order, balanced_order(labels, seed=2, epoch=0))
    counts = torch.bincount(labels[order], minlength=4).float()
    # Each identity ~ Binomial(225, 1/4): mean 56.25, sd 6.5; uniform sampling would give 200, 20, 4, 1.
    assert ((counts - 56.25).abs() < 26).all(), counts
    for identity in (1, 2):  # an identity's images take turns: none drawn twice before all are drawn once
        drawn = order[labels[order] == identity]
        n = int((labels == identity).sum())
        per_image = torch.bincount(drawn - int(torch.nonzero(labels == identity)[0]), minlength=n)
        assert per_image.max() - per_image.min() <= 1
    assert not torch.equal(order, balanced_order(labels, seed=2, epoch=1))


def test_augmentation_is_a_function_of_seed_rank_and_step(faces):
    pixels = faces.float() / 255
    options = AugmentOptions(flip=True, crop=0.5, low_resolution=0.5, photometric=0.5)
    out = augment_batch(pixels, options, step_generator("flip", seed=1, rank=0, step=7))
    assert torch.equal(out, augment_batch(pixels, options, step_generator("flip", seed=1, rank=0, step=7)))
    assert not torch.equal(out, augment_batch(pixels, options, step_generator("flip", seed=1, rank=1, step=7)))
    assert out.shape == pixels.shape and out.min() >= 0 and out.max() <= 1
    assert torch.equal(augment_batch(pixels, AugmentOptions(flip=False), step_generator("flip", seed=1, rank=0, step=7)), pixels)


def test_flip_only_mirrors_the_images_of_the_first_draw(faces):
    pixels = faces.float() / 255
    mirrored = torch.rand(len(pixels), generator=step_generator("flip", seed=3, rank=0, step=2)) < 0.5
    out = augment_batch(pixels, AugmentOptions(flip=True), step_generator("flip", seed=3, rank=0, step=2))
    assert 0 < int(mirrored.sum()) < len(pixels)
    assert torch.equal(out[mirrored], pixels[mirrored].flip(-1)) and torch.equal(out[~mirrored], pixels[~mirrored])


def test_crop_keeps_a_box_in_place_and_blacks_out_the_rest(faces):
    masks = crop_masks(400, 32, 32, (0.2, 1.0), torch.Generator().manual_seed(0))  # (400, 1, 32, 32)
    area = masks.float().mean(dim=(1, 2, 3))
    assert area.min() >= 0.2 * 0.85 and area.max() <= 1.0 and 0.5 < area.mean() < 0.7  # U[0.2, 1] has mean 0.6
    rows, cols = masks[:, 0].any(2), masks[:, 0].any(1)
    assert torch.equal(masks[:, 0], rows[:, :, None] & cols[:, None, :])  # a box: rows × columns
    pixels = faces.float() / 255
    out = augment_batch(pixels, AugmentOptions(flip=False, crop=1.0), torch.Generator().manual_seed(4))
    changed = (out != pixels).any(1)
    assert (out[(out != pixels)] == 0).all() and changed.any()  # only blackened, never altered


def test_photometric_factors_follow_the_torchvision_formulas(faces):
    x = faces[:2].float() / 255
    grey = 0.2989 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    same = torch.ones(2, 3, dtype=torch.float64)
    assert torch.allclose(_photometric(x, same), x, atol=1e-6)
    brighter = _photometric(x, torch.tensor([[1.5, 1, 1]] * 2, dtype=torch.float64))
    assert torch.allclose(brighter, (1.5 * x).clamp(0, 1), atol=1e-6)
    flat = _photometric(x, torch.tensor([[1, 0, 1]] * 2, dtype=torch.float64))  # contrast 0: the mean grey
    assert torch.allclose(flat, grey.mean(dim=(1, 2))[:, None, None, None].expand_as(x), atol=1e-6)
    colourless = _photometric(x, torch.tensor([[1, 1, 0]] * 2, dtype=torch.float64))  # saturation 0: grey
    assert torch.allclose(colourless, grey[:, None].expand_as(x), atol=1e-6)


def test_low_resolution_at_full_size_is_nearly_the_image(faces):
    pixels = faces.float() / 255
    options = AugmentOptions(flip=False, low_resolution=1.0, low_resolution_scale=(0.25, 0.25))
    blurred = augment_batch(pixels, options, torch.Generator().manual_seed(0))
    kept = augment_batch(pixels, AugmentOptions(flip=False, low_resolution=1.0, low_resolution_scale=(1.0, 1.0)),
                         torch.Generator().manual_seed(0))
    assert (kept - pixels).abs().max() < 1e-5
    assert (blurred - pixels).abs().mean() > 0.01  # a quarter of the side loses detail


# -- bad input, through the Datasets ------------------------------------------------------------


def _damaged_folders(faces, root: Path) -> Path:
    """Identity folders with a truncated JPEG (a/1.jpg) and a JPEG header over garbage (b/0.jpg)."""
    for name, n in (("a", 0), ("a", 1), ("b", 0), ("b", 1)):
        (root / name).mkdir(exist_ok=True)
        body = encode_image(faces[n])
        if (name, n) == ("a", 1):
            body = body[: len(body) // 2]
        elif (name, n) == ("b", 0):
            body = b"\xff\xd8\xff" + bytes(range(256)) * 3
        (root / name / f"{n}.jpg").write_bytes(body)
    return root


def test_corrupt_and_truncated_jpegs_raise_naming_the_file(faces, tmp_path):
    dataset = open_face_images(_damaged_folders(faces, tmp_path))
    with pytest.raises(DataFormatError, match="not a decodable JPEG/PNG image") as caught:
        dataset[1]
    assert caught.value.path == str(tmp_path / "a" / "1.jpg")
    with pytest.raises(DataFormatError, match="not a decodable JPEG/PNG image") as caught:
        with loading(face_loader(dataset, [[0, 1, 2, 3]], workers=1)) as batches:
            list(batches)  # re-raised from the worker, still naming it
    assert str(tmp_path / "a" / "1.jpg") in str(caught.value)


def test_skip_and_report_crosses_workers(faces, tmp_path):
    dataset = open_face_images(_damaged_folders(faces, tmp_path), on_corrupt="skip")
    feed = open_feed(dataset, LoaderOptions(mode="stream", workers=2, on_corrupt="skip"), batch_size=2, seed=0)
    for epoch in range(2):
        batches = list(feed.epoch(epoch))
        assert sum(len(b.labels) for b in batches) == 2
        assert sorted(i for b in batches for i in b.indices.tolist()) == [0, 3]
    assert [(s.index, s.where) for s in feed.skipped()] == [(1, str(tmp_path / "a" / "1.jpg")),
                                                             (2, str(tmp_path / "b" / "0.jpg"))]
    assert all(s.problem.startswith("not a decodable JPEG/PNG image") for s in feed.skipped())
    decoded = decode_all(dataset, workers=2, batch_size=3)  # the in-memory feed's decoder reports the same
    assert decoded.decoded.tolist() == [True, False, False, True] and [s.index for s in decoded.skipped] == [1, 2]
    assert children_left() == []


def test_a_batch_with_no_decodable_image_is_an_error(faces, tmp_path):
    dataset = open_face_images(_damaged_folders(faces, tmp_path), on_corrupt="skip")
    feed = open_feed(dataset, LoaderOptions(mode="memory", workers=0, on_corrupt="skip"), batch_size=2, seed=0)
    feed.batches.batches = lambda epoch: [torch.tensor([1, 2])]  # the two corrupt images together
    with pytest.raises(DataFormatError, match="no image of a batch of epoch 0 decodes"):
        list(feed.epoch(0))


@pytest.fixture
def plain_rec(faces, tmp_path) -> Path:
    rec = tmp_path / "faces.rec"
    with RecordIOWriter(rec) as writer:
        for n in range(4):
            writer.add_image(n // 2, faces[n])
    return rec


def test_truncated_insightface_rec_is_refused_at_open(plain_rec):
    offsets = [int(line.split("\t")[1]) for line in plain_rec.with_suffix(".idx").read_text().splitlines()]
    os.truncate(plain_rec, offsets[3] + 20)  # inside image key 4; its identity records and header are gone
    with pytest.raises(DataFormatError, match="is past the end .*truncated") as caught:
        open_face_images(plain_rec, on_corrupt="skip")
    assert caught.value.path == str(plain_rec.with_suffix(".idx")) and caught.value.record == "line 5"


def test_truncated_image_record_is_refused_at_open_even_when_skipping(faces, tmp_path):
    rec = tmp_path / "list.rec"
    with RecordIOWriter(rec) as writer:  # a plain image list: the last record is an image
        for n in range(3):
            writer.write(n, 0.0, encode_image(faces[n]))
    size = rec.stat().st_size
    os.truncate(rec, size - 40)
    with pytest.raises(DataFormatError, match="truncated") as caught:
        open_face_images(rec, on_corrupt="skip")  # the labels are read from every record's header
    assert caught.value.record == "record key 2" and f"file ends at byte {size - 40}" in str(caught.value)


def test_idx_pointing_past_the_end_names_the_line(plain_rec):
    idx = plain_rec.with_suffix(".idx")
    lines = idx.read_text().splitlines()
    lines[1] = f"2\t{plain_rec.stat().st_size + 8}"
    idx.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match="past the end") as caught:
        open_face_images(plain_rec)
    assert (caught.value.path, caught.value.record) == (str(idx), "line 2")


def test_corrupt_image_in_a_rec_is_skipped_and_reported(faces, tmp_path):
    rec = tmp_path / "bad.rec"
    with RecordIOWriter(rec) as writer:
        writer.add_image(0, faces[0])
        writer.add_image(0, b"\xff\xd8\xff" + b"\x00" * 300)
        writer.add_image(1, faces[1])
    dataset = open_face_images(rec, on_corrupt="skip")
    batch = collate_faces([dataset[n] for n in range(3)])
    assert batch.indices.tolist() == [0, 2]
    assert [(s.index, s.where) for s in batch.skipped] == [(1, f"{rec}, record key 2")]
    with pytest.raises(DataFormatError, match="not a decodable") as caught:
        open_face_images(rec)[1]
    assert caught.value.record == "record key 2"


@pytest.mark.parametrize("row, message", [
    ("img/nope.png,1", "no such file"),
    ("../../etc/passwd,1", "leaves the dataset root"),
])
def test_bad_manifest_rows_are_refused_by_line(sets, tmp_path, row, message):
    root = tmp_path / "m"
    (root / "img").mkdir(parents=True)
    (root / "img" / "0.png").write_bytes((sets["manifest"] / "img" / "0.png").read_bytes())
    (root / "manifest.csv").write_text(f"path,identity\nimg/0.png,1\n{row}\n")
    with pytest.raises(DataFormatError, match=message) as caught:
        open_face_images(root)
    assert (caught.value.path, caught.value.record) == (str(root / "manifest.csv"), "line 3")


def test_empty_identity_folder_is_refused_by_name(sets, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "0.png").write_bytes((sets["manifest"] / "img" / "0.png").read_bytes())
    (tmp_path / "b").mkdir()
    with pytest.raises(DataFormatError, match="identity folder holds no image") as caught:
        open_face_images(tmp_path)
    assert caught.value.path == str(tmp_path / "b")


def test_mixed_image_sizes_need_an_image_size(faces, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "0.png").write_bytes(encode_image(faces[0], format="png"))
    (tmp_path / "a" / "1.png").write_bytes(encode_image(faces[1][:, :16, :16].contiguous(), format="png"))
    with pytest.raises(DataFormatError, match="16x16 but image 0 of the same batch is 32x32"):
        collate_faces([open_face_images(tmp_path)[n] for n in (0, 1)])
    batch = collate_faces([open_face_images(tmp_path, image_size=24)[n] for n in (0, 1)])
    assert batch.images.shape == (2, 3, 24, 24)


def test_a_folder_dataset_pickles_for_spawned_workers(sets):
    dataset = open_face_images(sets["manifest"], arrays={"y": str(sets["manifest"] / "embeddings.npy")})
    dataset[0]  # maps the array in this process
    clone = pickle.loads(pickle.dumps(dataset))
    assert clone.extras["y"]._array is None and torch.equal(clone[3].image, dataset[3].image)
    assert isinstance(clone, FolderImages)
