"""Streaming PyTorch Datasets over the face-data formats (batched and loaded by `batches.py`).

One example per image, decoded when asked (nothing held in memory but the index):
- `FolderImages`: identity folders (`root/<identity>/<image>`) or a manifest folder (`root/manifest.csv`,
  optionally only some splits), through the checked indexes of `folders.py`;
- `RecordIOImages`: an insightface `.rec/.idx` pair through `recordio.RecordIOReader`.
`open_face_images(path)` picks the format from what the path holds.

Labels are class indices 0..K-1 (`identities[k]` is class k's name in the source). An example is
(image uint8 (3, H, W), label, index, skipped, extras). With on_corrupt="skip" an image whose bytes
do not decode comes back as None with a `SkippedImage` saying where and why (`batches.collate_faces`
carries the report out of the DataLoader workers). A damaged container (a truncated `.rec`, an `.idx`
past the end, a manifest row naming a missing file) always raises: it is not one bad image but an
untrustworthy file.
"""
from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import torch

from .errors import DataFormatError
from .folders import ImageIndex, decode_image, index_identity_folders, index_manifest, resize_image
from .recordio import RecordIOReader

OnCorrupt = Literal["raise", "skip"]
Format = Literal["folders", "manifest", "recordio"]


@dataclasses.dataclass(frozen=True)
class SkippedImage:
    """An image left out because its bytes do not decode: example index, file (and record), problem."""
    index: int
    where: str
    problem: str

    @staticmethod
    def from_error(index: int, error: DataFormatError) -> "SkippedImage":
        return SkippedImage(index, ", ".join(p for p in (error.path, error.record) if p), error.problem)

    def as_json(self) -> dict:
        return {"index": self.index, "where": self.where, "problem": self.problem}


class FaceExample(NamedTuple):
    image: torch.Tensor | None  # (3, H, W) uint8; None when skipped
    label: int
    index: int
    skipped: SkippedImage | None
    extras: dict[str, torch.Tensor]  # per-example rows of the aligned arrays and manifest columns


class AlignedArray:
    """A `.npy` array with one row per source row (manifest row, folder image, `.rec` image), memory-mapped
    lazily in each process (a map made before workers fork is not shared by them)."""

    def __init__(self, path: str | os.PathLike, *, rows: int, name: str):
        self.path, self.name = Path(path), name
        self._array: np.ndarray | None = None
        self._pid: int | None = None
        length = len(self._open())
        if length != rows:
            raise DataFormatError(f"{name} array has {length} rows, expected {rows} (one per dataset row)",
                                  path=self.path)

    def _open(self) -> np.ndarray:
        if self._array is None or self._pid != os.getpid():
            try:
                self._array = np.load(self.path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as error:
                raise DataFormatError(f"expected a .npy array ({error})", path=self.path) from error
            self._pid = os.getpid()
            if self._array.ndim == 0:
                raise DataFormatError("expected an array with one row per dataset row, found a scalar", path=self.path)
        return self._array

    def row(self, n: int) -> torch.Tensor:
        return torch.from_numpy(np.array(self._open()[n]))

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_array": None, "_pid": None}


class FaceImages(torch.utils.data.Dataset):
    """Base of the format datasets: labels, skip-and-report, resizing, extras. Subclasses say where
    example n's encoded bytes are (`encoded`, `where`) and which source row it is (`source_row`)."""

    format: Format

    def __init__(self, labels: torch.Tensor, identities: Sequence[str], *, on_corrupt: OnCorrupt = "raise",
                 image_size: int | tuple[int, int] | None = None):
        if on_corrupt not in ("raise", "skip"):
            raise ValueError(f"on_corrupt must be 'raise' or 'skip', got {on_corrupt!r}")
        self.labels, self.identities = labels, tuple(identities)
        self.on_corrupt = on_corrupt
        self.image_size = (image_size, image_size) if isinstance(image_size, int) else image_size
        self.extras: dict[str, AlignedArray | torch.Tensor] = {}

    @property
    def num_classes(self) -> int:
        return len(self.identities)

    def __len__(self) -> int:
        return self.labels.numel()

    def encoded(self, n: int) -> bytes:
        """Example n's stored JPEG/PNG bytes (a damaged container raises DataFormatError)."""
        raise NotImplementedError

    def where(self, n: int) -> tuple[str, str | None]:
        """(file, record) of example n, as its errors name them."""
        raise NotImplementedError

    def source_row(self, n: int) -> int:
        """Example n's row in the source (what aligned arrays are indexed by)."""
        return n

    def add_array(self, name: str, path: str | os.PathLike, *, rows: int) -> None:
        self.extras[name] = AlignedArray(path, rows=rows, name=name)

    def decode(self, n: int, data: bytes) -> torch.Tensor:
        """Example n's encoded bytes -> (3, H, W) uint8 (resized to image_size if set)."""
        path, record = self.where(n)
        image = decode_image(data, path=path, record=record)
        return image if self.image_size is None else resize_image(image, self.image_size)

    def image(self, n: int) -> torch.Tensor:
        """Decode example n -> (3, H, W) uint8 (resized to image_size if set); raises on a corrupt image."""
        return self.decode(n, self.encoded(n))

    def __getitem__(self, n: int) -> FaceExample:
        n = int(n)
        row = self.source_row(n)
        extras = {name: column[row] if isinstance(column, torch.Tensor) else column.row(row)
                  for name, column in self.extras.items()}
        data = self.encoded(n)  # a container fault raises here, whatever on_corrupt says
        try:
            image, skipped = self.decode(n, data), None
        except DataFormatError as error:
            if self.on_corrupt == "raise":
                raise
            image, skipped = None, SkippedImage.from_error(n, error)
        return FaceExample(image, int(self.labels[n]), n, skipped, extras)


def _class_indices(labels: torch.Tensor, names: Sequence[str]) -> tuple[torch.Tensor, tuple[str, ...]]:
    """Labels of a subset -> 0..K-1 over the classes present, in the source's class order."""
    kept = labels.unique()  # sorted
    return torch.searchsorted(kept, labels), tuple(names[k] for k in kept.tolist())


class FolderImages(FaceImages):
    """Identity folders or a manifest folder (`folders.ImageIndex`), optionally a subset of its rows."""

    def __init__(self, index: ImageIndex, *, format: Literal["folders", "manifest"], rows: torch.Tensor | None = None,
                 on_corrupt: OnCorrupt = "raise", image_size: int | tuple[int, int] | None = None):
        self.index, self.format = index, format
        self.rows = torch.arange(len(index)) if rows is None else rows
        labels, identities = _class_indices(index.labels[self.rows], index.identities)
        super().__init__(labels, identities, on_corrupt=on_corrupt, image_size=image_size)

    def encoded(self, n: int) -> bytes:
        path = self.index.file(int(self.rows[n]))
        try:
            return path.read_bytes()
        except OSError as error:
            raise DataFormatError(f"cannot read the image ({error.strerror})", path=path) from error

    def where(self, n: int) -> tuple[str, str | None]:
        return str(self.index.file(int(self.rows[n]))), None

    def source_row(self, n: int) -> int:
        return int(self.rows[n])

    def add_columns(self, names: Sequence[str]) -> None:
        """Numeric manifest columns as extras (float32, NaN where empty)."""
        for name in names:
            if name not in self.index.attributes:
                raise DataFormatError(f"expected a numeric column {name!r}; numeric columns: "
                                      f"{', '.join(self.index.attributes) or 'none'}", path=self.index.root / "manifest.csv")
            self.extras[name] = self.index.attributes[name]


class RecordIOImages(FaceImages):
    """The images of an insightface `.rec/.idx` pair (or a plain image list), in the reader's order."""

    format = "recordio"

    def __init__(self, reader: RecordIOReader, *, on_corrupt: OnCorrupt = "raise",
                 image_size: int | tuple[int, int] | None = None):
        self.reader = reader
        values, labels = torch.unique(reader.labels, return_inverse=True)
        super().__init__(labels, [str(v) for v in values.tolist()], on_corrupt=on_corrupt, image_size=image_size)

    def encoded(self, n: int) -> bytes:
        key = int(self.reader.image_keys[n])
        return self.reader.read(key)[1]

    def where(self, n: int) -> tuple[str, str | None]:
        return str(self.reader.rec_path), f"record key {int(self.reader.image_keys[n])}"


def _lists_paths(manifest: Path) -> bool:
    with open(manifest, newline="", encoding="utf-8-sig") as stream:
        return "path" in next(csv.reader(stream), [])


def detect_format(path: str | os.PathLike) -> tuple[Format, Path]:
    """(format, the file or folder to open) for a `.rec` file, a manifest `.csv`, or a folder holding a
    manifest.csv with a path column (first), a train.rec (insightface's layout), or identity folders."""
    path = Path(path)
    if path.is_file() and path.suffix == ".rec":
        return "recordio", path
    if path.is_file() and path.suffix == ".csv":
        return "manifest", path
    if path.is_dir():
        manifest, rec = path / "manifest.csv", path / "train.rec"
        if manifest.is_file() and (_lists_paths(manifest) or not rec.is_file()):
            return "manifest", manifest
        if rec.is_file():
            return "recordio", rec
        return "folders", path
    if not path.exists():
        raise DataFormatError("no such file or folder", path=path)
    raise DataFormatError("expected a .rec file, a manifest .csv, or a folder (identity folders, manifest.csv or "
                          "train.rec inside)", path=path)


def _first_identities(labels: torch.Tensor, rows: torch.Tensor | None, count: int, *, path: Path) -> torch.Tensor:
    """The rows (of `rows`, or all) whose identity is among the first `count` to appear."""
    rows = torch.arange(len(labels)) if rows is None else rows
    first = list(dict.fromkeys(labels[rows].tolist()))
    if len(first) < count:
        raise DataFormatError(f"expected at least {count} identities in the selected rows, found {len(first)}", path=path)
    return rows[torch.isin(labels[rows], torch.tensor(first[:count]))]


def open_face_images(path: str | os.PathLike, *, splits: Sequence[str] | None = None, on_corrupt: OnCorrupt = "raise",
                     image_size: int | tuple[int, int] | None = None, arrays: dict[str, str] | None = None,
                     columns: Sequence[str] = (), identities: int | None = None) -> FaceImages:
    """The dataset at `path` (see `detect_format`), streamed.

    splits: only the manifest rows whose `split` column is one of these (manifests only).
    identities: only the rows of the first this many identities, in manifest order (manifests only): a
    real training set the size of a synthetic one.
    arrays: name -> `.npy` with one row per source row (a manifest's rows, before the split filter),
    returned per example in `extras`; columns: numeric manifest columns returned the same way.
    """
    format, target = detect_format(path)
    if format != "manifest" and (splits is not None or columns or identities is not None):
        raise ValueError(f"{path}: splits, columns and identities select manifest rows; a {format} dataset has no manifest")
    if format == "recordio":
        dataset: FaceImages = RecordIOImages(RecordIOReader(target), on_corrupt=on_corrupt, image_size=image_size)
        rows = len(dataset)
    elif format == "folders":
        index = index_identity_folders(target)
        dataset, rows = FolderImages(index, format="folders", on_corrupt=on_corrupt, image_size=image_size), len(index)
    else:
        index = index_manifest(target.parent, manifest=target.name)
        selected = None
        if splits is not None:
            if "split" not in index.text_columns:
                raise DataFormatError("expected a 'split' column to select splits from", path=target)
            selected = torch.tensor([n for n, s in enumerate(index.text_columns["split"]) if s in splits],
                                    dtype=torch.int64)
            if selected.numel() == 0:
                raise DataFormatError(f"no rows in split(s) {', '.join(splits)}", path=target)
        if identities is not None:
            selected = _first_identities(index.labels, selected, identities, path=target)
        dataset = FolderImages(index, format="manifest", rows=selected, on_corrupt=on_corrupt, image_size=image_size)
        dataset.add_columns(columns)
        rows = len(index)
    for name, array_path in (arrays or {}).items():
        dataset.add_array(name, array_path, rows=rows)
    return dataset
