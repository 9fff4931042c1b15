"""The synthetic-dataset writer: N identities × m images, sharded by identity, whole or redone.

Shard s holds identities [s·S, (s+1)·S) (S = identities_per_shard), so torchrun ranks write
disjoint shards (`pending_shards(rank, world_size)`: s ≡ rank mod world_size). A shard is written
under `shards/.<s>.partial/` and becomes `shards/<s>/` by one rename once every image of it is in;
a rerun skips the complete shards (their files are never opened for writing again) and redoes the
others from scratch. `finalize()` (rank 0, once all shards are complete) joins them:

    <root>/layout.json                 the layout; a rerun with another one is refused
    <root>/images/<identity>/<j>.jpg   identity folders (format "folder"), each moved in whole
    <root>/train.rec, train.idx        insightface RecordIO (format "recordio"): images at keys
                                       1 + identity·m + j, identity records, header record 0
    <root>/manifest.csv                one row per image: path, identity, image, anchor, key,
                                       embedding (row of embeddings.npy), seed, attributes...
    <root>/embeddings.npy              (N·m, d) float32 condition embeddings y_ij, manifest-aligned
    <root>/attributes.npy              (N·m, A) float32 condition attributes s_ij, manifest-aligned
    <root>/card.md, card.json, card/   the dataset card (counts, histograms, the caller's statistics)
    <root>/dataset.json                written last: the dataset is complete

Images within a shard are added in order (identity by identity, images 0..m-1), so every file's
bytes depend on the images and conditions only, never on the batches they came in. The shards'
RecordIO parts are written with their final keys, so joining them is a byte copy with shifted
offsets; `shards/` is removed once the joined dataset is complete.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from ..files import atomic_path, write_text_atomic
from .attributes import ATTRIBUTE_NAMES
from .card import write_card
from .folders import encode_image, load_image
from .recordio import RecordIOReader, RecordIOWriter

FORMATS = ("folder", "recordio")
_FIXED_COLUMNS = ("path", "identity", "image", "anchor", "key", "embedding", "seed")


@dataclasses.dataclass(frozen=True)
class SyntheticLayout:
    """What a synthetic dataset holds and how it is written; fixed for the dataset's life."""
    identities: int  # N
    images_per_identity: int  # m
    identities_per_shard: int = 100  # S
    formats: tuple[str, ...] = FORMATS
    image_format: Literal["jpeg", "png"] = "jpeg"
    jpeg_quality: int = 95
    embedding_size: int = 512  # d of the condition embeddings
    attribute_names: tuple[str, ...] = ATTRIBUTE_NAMES

    def __post_init__(self) -> None:
        for name in ("identities", "images_per_identity", "identities_per_shard", "embedding_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"layout.{name}: expected a positive integer, got {value!r}")
        if not self.formats or any(f not in FORMATS for f in self.formats) or len(set(self.formats)) != len(self.formats):
            raise ValueError(f"layout.formats: expected distinct formats among {FORMATS}, got {self.formats!r}")
        if self.image_format not in ("jpeg", "png"):
            raise ValueError(f"layout.image_format: expected 'jpeg' or 'png', got {self.image_format!r}")
        if not 1 <= self.jpeg_quality <= 95:
            raise ValueError(f"layout.jpeg_quality: expected an integer from 1 to 95, got {self.jpeg_quality!r}")
        clash = [n for n in self.attribute_names if n in _FIXED_COLUMNS or not n]
        if clash or len(set(self.attribute_names)) != len(self.attribute_names):
            raise ValueError(f"layout.attribute_names: expected distinct names other than {', '.join(_FIXED_COLUMNS)}, "
                             f"got {list(self.attribute_names)}")

    @property
    def shards(self) -> int:
        return math.ceil(self.identities / self.identities_per_shard)

    @property
    def images(self) -> int:
        return self.identities * self.images_per_identity

    def shard_identities(self, shard: int) -> range:
        start = shard * self.identities_per_shard
        return range(start, min(start + self.identities_per_shard, self.identities))

    def image_key(self, identity: int, image: int) -> int:
        """The image's RecordIO key (insightface layout: images at 1, 2, ..., identity-major)."""
        return 1 + identity * self.images_per_identity + image

    def identity_folder(self, identity: int) -> str:
        return f"{identity:0{len(str(self.identities - 1))}d}"

    def image_path(self, identity: int, image: int) -> str:
        extension = "jpg" if self.image_format == "jpeg" else "png"
        return f"images/{self.identity_folder(identity)}/{image:0{len(str(self.images_per_identity - 1))}d}.{extension}"

    def as_json(self) -> dict:
        return dataclasses.asdict(self) | {"formats": list(self.formats), "attribute_names": list(self.attribute_names)}

    @staticmethod
    def from_json(value: dict) -> "SyntheticLayout":
        return SyntheticLayout(**{**value, "formats": tuple(value["formats"]),
                                  "attribute_names": tuple(value["attribute_names"])})


def _as_numpy(value, dtype, shape: tuple[int, ...], name: str) -> np.ndarray:
    array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    if array.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {array.shape}")
    return array.astype(dtype, copy=False)


class ShardWriter:
    """One shard in flight: `add` its images in order, then `commit` (or use it as a context manager:
    committed when the block ends normally, dropped when it raises)."""

    def __init__(self, dataset: SyntheticDatasetWriter, shard: int):
        self.dataset, self.layout, self.shard = dataset, dataset.layout, shard
        self.identities = self.layout.shard_identities(shard)
        self.partial = dataset.root / "shards" / f".{shard:05d}.partial"
        dataset.discard_shard(shard)
        (self.partial / "images").mkdir(parents=True)
        rows = len(self.identities) * self.layout.images_per_identity
        self.embeddings = np.zeros((rows, self.layout.embedding_size), dtype=np.float32)
        self.attributes = np.zeros((rows, len(self.layout.attribute_names)), dtype=np.float32)
        self.ids = np.zeros((rows, 2), dtype=np.int64)  # anchor, seed
        self.added = 0  # rows so far; row r is identity identities[r // m], image r % m
        self.records = RecordIOWriter(self.partial / "part.rec") if "recordio" in self.layout.formats else None

    def add(self, *, identity, image, images: torch.Tensor, anchor, embedding, attributes, seed) -> None:
        """Add B images: identity, image, anchor, seed (B,) integers; images (B, 3, H, W) uint8;
        embedding (B, d) the condition y_ij; attributes (B, A) the condition s_ij, in layout.attribute_names order.
        They must continue the shard in order: identity by identity, each one's images 0..m-1."""
        m, first = self.layout.images_per_identity, self.identities.start
        identity = _as_numpy(identity, np.int64, (len(images),), "identity")
        b = len(identity)
        if self.added + b > len(self.ids):
            raise ValueError(f"shard {self.shard}: {self.added} + {b} images exceed its {len(self.ids)} "
                             f"(identities {first}..{self.identities.stop - 1} × {m})")
        image = _as_numpy(image, np.int64, (b,), "image")
        rows = (identity - first) * m + image
        expected = np.arange(self.added, self.added + b)
        if not np.array_equal(rows, expected) or (image >= m).any() or (image < 0).any():
            bad = int(np.flatnonzero((rows != expected) | (image >= m) | (image < 0))[0])
            want = self.added + bad
            raise ValueError(f"shard {self.shard}: expected identity {first + want // m} image {want % m} next (a shard's "
                             f"images are added in order, m = {m}), got identity {identity[bad]} image {image[bad]}")
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images: expected (B, 3, H, W) uint8, got {tuple(images.shape)} {images.dtype}")
        self.embeddings[rows] = _as_numpy(embedding, np.float32, (b, self.layout.embedding_size), "embedding")
        self.attributes[rows] = _as_numpy(attributes, np.float32, (b, len(self.layout.attribute_names)), "attributes")
        self.ids[rows, 0] = _as_numpy(anchor, np.int64, (b,), "anchor")
        self.ids[rows, 1] = _as_numpy(seed, np.int64, (b,), "seed")
        for i, j, picture in zip(identity.tolist(), image.tolist(), images.cpu()):
            body = encode_image(picture, format=self.layout.image_format, quality=self.layout.jpeg_quality)
            if "folder" in self.layout.formats:
                file = self.partial / self.layout.image_path(i, j)
                file.parent.mkdir(exist_ok=True)
                file.write_bytes(body)
            if self.records is not None:
                self.records.write(self.layout.image_key(i, j), float(i), body)
        self.added += b

    def commit(self) -> None:
        """Every image is in: write the shard's arrays, move its identity folders in, then mark it complete."""
        if self.added != len(self.ids):
            raise ValueError(f"shard {self.shard}: {self.added} of its {len(self.ids)} images were added")
        for name, array in (("embeddings", self.embeddings), ("attributes", self.attributes), ("ids", self.ids)):
            with open(self.partial / f"{name}.npy", "wb") as stream:
                np.save(stream, array)
        if self.records is not None:
            self.records.close()
        if "folder" in self.layout.formats:
            images = self.dataset.root / "images"
            images.mkdir(exist_ok=True)
            for identity in self.identities:
                folder = self.layout.identity_folder(identity)
                os.rename(self.partial / "images" / folder, images / folder)
        (self.partial / "images").rmdir()
        os.rename(self.partial, self.dataset.shard_folder(self.shard))  # the shard is complete from here

    def abort(self) -> None:
        if self.records is not None:
            self.records.abort()
        self.dataset.discard_shard(self.shard)

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


class SyntheticDatasetWriter:
    """Writes a synthetic dataset under `root` in the layout given (see the module docstring).

        writer = SyntheticDatasetWriter(root, SyntheticLayout(identities=10_000, images_per_identity=50))
        for shard in writer.pending_shards(rank=rank, world_size=world_size):
            with writer.open_shard(shard) as out:
                out.add(identity=..., image=..., images=..., anchor=..., embedding=..., attributes=..., seed=...)
        # after a barrier, on rank 0:
        card = writer.finalize(statistics={...}, histograms={...})
    """

    def __init__(self, root: str | os.PathLike, layout: SyntheticLayout):
        self.root, self.layout = Path(root), layout
        (self.root / "shards").mkdir(parents=True, exist_ok=True)
        layout_file = self.root / "layout.json"
        if layout_file.exists():
            found = json.loads(layout_file.read_text(encoding="utf-8"))
            if found != layout.as_json():
                raise ValueError(f"{layout_file}: this folder holds a dataset of another layout ({found}); asked for "
                                 f"{layout.as_json()}: use another folder, or remove this one")
        else:
            write_text_atomic(layout_file, json.dumps(layout.as_json(), indent=2) + "\n")

    @property
    def complete(self) -> bool:
        return (self.root / "dataset.json").is_file()

    def shard_folder(self, shard: int) -> Path:
        return self.root / "shards" / f"{shard:05d}"

    def shard_done(self, shard: int) -> bool:
        return self.complete or self.shard_folder(shard).is_dir()

    def pending_shards(self, *, rank: int = 0, world_size: int = 1) -> list[int]:
        """This rank's shards (s ≡ rank mod world_size) that are not complete yet."""
        return [s for s in range(rank, self.layout.shards, world_size) if not self.shard_done(s)]

    def discard_shard(self, shard: int) -> None:
        """Remove what an unfinished attempt at `shard` left: its partial folder and identity folders."""
        if self.shard_done(shard):
            raise ValueError(f"shard {shard} of {self.root} is complete; pending_shards() lists the ones to write")
        shutil.rmtree(self.root / "shards" / f".{shard:05d}.partial", ignore_errors=True)
        for identity in self.layout.shard_identities(shard):
            shutil.rmtree(self.root / "images" / self.layout.identity_folder(identity), ignore_errors=True)

    def open_shard(self, shard: int) -> ShardWriter:
        if not 0 <= shard < self.layout.shards:
            raise ValueError(f"shard {shard}: expected 0..{self.layout.shards - 1}")
        return ShardWriter(self, shard)

    # -- joining the shards ------------------------------------------------------------------

    def finalize(self, *, statistics: dict | None = None, histograms: dict[str, np.ndarray] | None = None,
                 description: str = "", keep_shards: bool = False) -> dict:
        """Join the complete shards into the dataset and write its card; returns the card. Idempotent: a
        killed finalize is redone by the next call, and a finished dataset only gets its card rewritten."""
        if not self.complete:
            missing = [s for s in range(self.layout.shards) if not self.shard_done(s)]
            if missing:
                raise RuntimeError(f"{self.root}: shard(s) {', '.join(map(str, missing[:10]))}"
                                   f"{' ...' if len(missing) > 10 else ''} of {self.layout.shards} are not complete")
            self._join()
        card = self.write_card(statistics=statistics, histograms=histograms, description=description)
        if not self.complete:
            write_text_atomic(self.root / "dataset.json", json.dumps(
                {"layout": self.layout.as_json(), "identities": self.layout.identities, "images": self.layout.images,
                 "imageSize": card["imageSize"], "files": self.files()}, indent=2) + "\n")
        if not keep_shards:
            shutil.rmtree(self.root / "shards", ignore_errors=True)
        return card

    def files(self) -> list[str]:
        files = ["manifest.csv", "embeddings.npy", "attributes.npy"]
        if "folder" in self.layout.formats:
            files.append("images/")
        if "recordio" in self.layout.formats:
            files += ["train.rec", "train.idx"]
        return files + ["card.md", "card.json"]

    def _shard_arrays(self, name: str) -> Iterator[np.ndarray]:
        for shard in range(self.layout.shards):
            yield np.load(self.shard_folder(shard) / f"{name}.npy", allow_pickle=False)

    def _join(self) -> None:
        layout = self.layout
        if "recordio" in layout.formats:
            with RecordIOWriter(self.root / "train.rec") as records:
                for shard in range(layout.shards):
                    records.append_file(self.shard_folder(shard) / "part.rec")
                    records.add_identity_ranges([(layout.image_key(i, 0), layout.image_key(i, 0) + layout.images_per_identity)
                                                 for i in layout.shard_identities(shard)])
        for name, width in (("embeddings", layout.embedding_size), ("attributes", len(layout.attribute_names))):
            self._join_array(name, (layout.images, width), np.float32)
        self._write_manifest()

    def _join_array(self, name: str, shape: tuple[int, int], dtype) -> None:
        with atomic_path(self.root / f"{name}.npy") as temporary:
            joined = np.lib.format.open_memmap(temporary, mode="w+", dtype=dtype, shape=shape)
            row = 0
            for part in self._shard_arrays(name):
                joined[row:row + len(part)] = part
                row += len(part)
            joined.flush()
            del joined

    def _write_manifest(self) -> None:
        layout = self.layout
        folder, recordio = "folder" in layout.formats, "recordio" in layout.formats
        columns = (["path"] if folder else []) + ["identity", "image", "anchor"] + (["key"] if recordio else []) + \
            ["embedding", "seed", *layout.attribute_names]
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")  # the dialect csv-stringify writes
        writer.writerow(columns)
        row = 0
        for ids, attributes in zip(self._shard_arrays("ids"), self._shard_arrays("attributes")):
            for (anchor, seed), values in zip(ids.tolist(), attributes):
                identity, image = divmod(row, layout.images_per_identity)
                writer.writerow(([layout.image_path(identity, image)] if folder else []) + [identity, image, anchor] +
                                ([layout.image_key(identity, image)] if recordio else []) +
                                [row, seed, *(str(v) for v in values)])  # float32 values at their shortest
                row += 1
        write_text_atomic(self.root / "manifest.csv", text.getvalue())

    # -- the card -------------------------------------------------------------------------------

    def _image_size(self) -> tuple[int, int]:
        if "folder" in self.layout.formats:
            image = load_image(self.root / self.layout.image_path(0, 0))
        else:
            with RecordIOReader(self.root / "train.rec") as reader:
                image = reader.image(self.layout.image_key(0, 0))
        return int(image.shape[2]), int(image.shape[1])

    def write_card(self, *, statistics: dict | None = None, histograms: dict[str, np.ndarray] | None = None,
                   description: str = "") -> dict:
        """(Re)write card.md, card.json and its histograms from the joined dataset, with the caller's
        statistics (JSON values) and histograms (name -> values); returns the card."""
        layout = self.layout
        attributes = np.load(self.root / "attributes.npy", mmap_mode="r", allow_pickle=False)
        return write_card(
            self.root, name=self.root.name,
            description=description or f"Synthetic face-recognition dataset: {layout.identities:,} identities × "
                                       f"{layout.images_per_identity} images.",
            images_per_identity=np.full(layout.identities, layout.images_per_identity), image_size=self._image_size(),
            image_format=layout.image_format, formats=list(layout.formats), files=self.files(),
            embedding_size=layout.embedding_size,
            attributes={name: np.asarray(attributes[:, k]) for k, name in enumerate(layout.attribute_names)},
            statistics=statistics, histograms=histograms)

