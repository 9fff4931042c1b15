"""The datasets `prepare` reads besides the parametric set, as one ordered list of images.

- folders: `root/<identity>/<image>` (data.folders.index_identity_folders);
- manifest: `root/manifest.csv` with path and identity columns (data.folders.index_manifest);
- recordio: an insightface `.rec` + `.idx` (data.recordio.RecordIOReader), images in key order.
Labels are 0..K-1 in the data layer's identity order; `names[label]` is the dataset's own name.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ..data.folders import decode_image, encoded_format, index_identity_folders, index_manifest
from ..data.recordio import RecordIOReader


@dataclass
class ImageSource:
    kind: str
    labels: list[int]
    names: list[str]
    sources: list[str]  # per image: its path under the root, or "key <k>" in a .rec
    root: Path | None  # folder the sources are relative to (None for RecordIO)
    _container: Path | None  # the .rec (RecordIO only)
    _encoded: Callable[[int], bytes]

    def __len__(self) -> int:
        return len(self.labels)

    def encoded(self, i: int) -> bytes:
        """Image i's file bytes (JPEG or PNG) as stored."""
        return self._encoded(i)

    def decode(self, i: int, data: bytes) -> torch.Tensor:
        """Image i's bytes, decoded: (3, H, W) uint8 RGB; DataFormatError naming the file or record."""
        if self.root is not None:
            return decode_image(data, path=self.root / self.sources[i])
        return decode_image(data, path=self._container, record=self.sources[i])


def open_source(spec: dict) -> ImageSource:
    kind = spec["kind"]
    if kind in ("folders", "manifest"):
        root = Path(spec["path"])
        index = index_identity_folders(root) if kind == "folders" else index_manifest(root, manifest=spec.get("manifest", "manifest.csv"))
        read = lambda i: (index.root / index.paths[i]).read_bytes()
        return ImageSource(kind, index.labels.tolist(), list(index.identities), list(index.paths), index.root, None, read)
    if kind == "recordio":
        reader = RecordIOReader(spec["rec"], spec.get("idx"))
        keys = reader.image_keys.tolist()
        raw_labels = reader.labels.tolist()
        names = sorted(set(raw_labels))
        label_of = {name: label for label, name in enumerate(names)}
        return ImageSource(kind, [label_of[v] for v in raw_labels], [str(n) for n in names], [f"key {k}" for k in keys],
                           None, reader.rec_path, lambda i: reader.read(keys[i])[1])
    raise ValueError(f"dataset.kind: expected folders, manifest or recordio, got {kind!r}")


def extension_of(data: bytes) -> str:
    return ".png" if encoded_format(data) == "png" else ".jpg"


def split_of(label: int, count: int, val: int, test: int) -> str:
    """The last `test` identities test, the `val` before them val, the rest train (as the parametric set)."""
    if label >= count - test:
        return "test"
    return "val" if label >= count - test - val else "train"


def link_root(link: Path, target: Path) -> None:
    """`link` → `target`, replaced atomically (so that manifest paths resolve under the run folder)."""
    temporary = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    os.symlink(os.path.abspath(target), temporary)
    os.replace(temporary, link)
