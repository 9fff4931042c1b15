"""`id3 data convert <src> <dst>`: a face dataset between image folders and insightface RecordIO.

Any dataset `open_face_images` reads (identity folders, a manifest and its splits, a `.rec`) becomes
- `<dst>.rec` + `<dst>.idx` when dst ends in `.rec`: the insightface layout (images grouped by
  identity 0..K-1, identity records, header record 0), what arcface_torch and MXNet read;
- identity folders `<dst>/<identity>/<n>.<jpg|png>` otherwise (integer identity names zero-padded,
  so that folder order is label order).
Each image's bytes are copied as stored (no re-encoding, no loss) once they are checked to decode;
`image_format` re-encodes instead. The destination must not exist: it is written under a temporary
name and appears, renamed, only when whole, so an interrupted convert leaves nothing that passes for
a dataset and never touches an existing one.
"""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Literal

import torch

from ..bridge.jobs import Progress
from .batches import face_loader, loading
from .datasets import FaceImages, OnCorrupt, SkippedImage, open_face_images
from .errors import DataFormatError
from .folders import encode_image, encoded_format
from .recordio import RecordIOWriter

_EXTENSIONS = {"jpeg": "jpg", "png": "png"}


class _Encoded(torch.utils.data.Dataset):
    """(index, label, bytes to write, skipped) per example: decoded in the worker to check it, re-encoded if asked."""

    def __init__(self, images: FaceImages, image_format: Literal["jpeg", "png"] | None, quality: int):
        self.images, self.image_format, self.quality = images, image_format, quality

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, n: int):
        data = self.images.encoded(n)
        try:
            image = self.images.decode(n, data)
        except DataFormatError as error:
            if self.images.on_corrupt == "raise":
                raise
            return n, None, SkippedImage.from_error(n, error)
        if self.image_format is not None:
            data = encode_image(image, format=self.image_format, quality=self.quality)
        return n, data, None


def _folder_names(identities: tuple[str, ...]) -> list[str]:
    """Identity folder names: integers zero-padded to one width; other names as they are, if they are
    one safe path component."""
    if all(name.isdigit() for name in identities):
        width = max(len(name.lstrip("0") or "0") for name in identities)
        return [str(int(name)).zfill(width) for name in identities]
    for name in identities:
        if not name or name.startswith(".") or os.sep in name or (os.altsep and os.altsep in name):
            raise DataFormatError(f"identity {name!r} cannot be a folder name (expected one path component not "
                                  f"starting with '.')")
    return list(identities)


def _refuse_existing(paths: list[Path]) -> None:
    for path in paths:
        if os.path.lexists(path):
            raise FileExistsError(f"{path}: already exists; convert writes a new dataset and never over one "
                                  f"(choose another destination, or remove it)")


def _remove_stale_temporaries(dst: Path) -> None:
    """What an interrupted convert to the same destination left: its hidden `.<name>.<random>.tmp` files."""
    for name in (dst.name, dst.with_suffix(".idx").name):
        for stale in dst.parent.glob(f".{name}.*.tmp"):
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()


def convert_dataset(src: str | Path, dst: str | Path, *, progress: Progress, splits: list[str] | None = None,
                    on_corrupt: OnCorrupt = "raise", image_format: str | None = None, quality: int = 95,
                    workers: int = 2, batch_size: int = 64) -> dict:
    """src as dst; `image_format` (jpeg | png) re-encodes at `quality`, None keeps each image's bytes."""
    src, dst = Path(src), Path(dst)
    if image_format not in (None, "jpeg", "png"):
        raise ValueError(f"imageFormat must be 'jpeg', 'png' or null (bytes as stored), got {image_format!r}")
    to_recordio = dst.suffix == ".rec"
    _refuse_existing([dst, dst.with_suffix(".idx")] if to_recordio else [dst])
    if not dst.parent.is_dir():
        raise FileNotFoundError(f"{dst.parent}: no such folder for the destination")
    _remove_stale_temporaries(dst)
    images = open_face_images(src, splits=None if splits is None else tuple(splits), on_corrupt=on_corrupt)
    order = torch.argsort(images.labels, stable=True)  # grouped by identity, source order within
    batches = [order[i:i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    loader = face_loader(_Encoded(images, image_format, quality), batches, workers=workers, collate=list)
    progress.begin(len(images), label="convert", unit="image")
    write = _RecordIOSink(dst) if to_recordio else _FolderSink(dst, _folder_names(images.identities))
    skipped: list[SkippedImage] = []
    try:
        with loading(loader) as batches:
            for batch in batches:
                for n, data, problem in batch:
                    if problem is not None:
                        skipped.append(problem)
                    else:
                        write(int(images.labels[n]), data)
                progress.advance(len(batch))
        written = write.close()
    except BaseException:
        write.abort()
        raise
    return {"src": str(src), "dst": str(dst), "format": "recordio" if to_recordio else "folders",
            "images": written["images"], "identities": written["identities"], "skippedImages": len(skipped),
            "skipped": [s.as_json() for s in skipped[:100]]}


class _RecordIOSink:
    """Images in identity order -> insightface layout; identities renumbered 0.. over those that have images."""

    def __init__(self, dst: Path):
        self.writer = RecordIOWriter(dst)
        self.last_label, self.identities, self.images = None, 0, 0

    def __call__(self, label: int, data: bytes) -> None:
        if label != self.last_label:
            self.last_label, self.identities = label, self.identities + 1
        self.writer.add_image(self.identities - 1, data)
        self.images += 1

    def close(self) -> dict:
        if self.images == 0:
            raise DataFormatError("no image to write: every image was skipped")
        self.writer.close()
        return {"images": self.images, "identities": self.identities}

    def abort(self) -> None:
        self.writer.abort()


class _FolderSink:
    """Images -> `<temporary>/<identity>/<n>.<ext>`, the temporary folder renamed to dst when whole."""

    def __init__(self, dst: Path, names: list[str]):
        self.dst, self.names = dst, names
        self.temporary = dst.with_name(f".{dst.name}.{uuid.uuid4().hex}.tmp")
        self.temporary.mkdir()
        self.per_identity: dict[int, int] = {}

    def __call__(self, label: int, data: bytes) -> None:
        folder = self.temporary / self.names[label]
        if label not in self.per_identity:
            folder.mkdir()
            self.per_identity[label] = 0
        number = self.per_identity[label]
        (folder / f"{number:06d}.{_EXTENSIONS[encoded_format(data)]}").write_bytes(data)
        self.per_identity[label] = number + 1

    def close(self) -> dict:
        if not self.per_identity:
            raise DataFormatError("no image to write: every image was skipped")
        os.rename(self.temporary, self.dst)  # fails rather than merge if dst appeared meanwhile
        return {"images": sum(self.per_identity.values()), "identities": len(self.per_identity)}

    def abort(self) -> None:
        shutil.rmtree(self.temporary, ignore_errors=True)
