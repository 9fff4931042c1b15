"""Images with identity labels, decoded once into memory: the CPU-scale training and test sets.

A manifest row names an image by a path relative to the manifest's folder; identities are
remapped to class indices 0..K-1 in sorted order, and the original identity ids are kept.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image


@dataclass(frozen=True)
class LabelledImages:
    images: torch.Tensor  # (N, 3, H, W) uint8
    labels: torch.Tensor  # (N,) int64 class index in 0..K-1
    identities: list[int]  # class index -> the manifest's identity id

    @property
    def num_classes(self) -> int:
        return len(self.identities)

    def __len__(self) -> int:
        return self.labels.numel()

    @staticmethod
    def from_manifest(manifest: str, *, splits: tuple[str, ...]) -> "LabelledImages":
        rows = [row for row in _read_rows(manifest) if row["split"] in splits]
        if not rows:
            raise ValueError(f"{manifest}: no rows in split(s) {', '.join(splits)}")
        root = os.path.dirname(os.path.abspath(manifest))
        identities = sorted({int(row["identity"]) for row in rows})
        class_of = {identity: index for index, identity in enumerate(identities)}
        images = torch.stack([_load(manifest, root, n, row["path"]) for n, row in enumerate(rows)])
        labels = torch.tensor([class_of[int(row["identity"])] for row in rows])
        return LabelledImages(images, labels, identities)


def _read_rows(manifest: str) -> list[dict[str, str]]:
    with open(manifest, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for column in ("path", "identity", "split"):
        if rows and column not in rows[0]:
            raise ValueError(f"{manifest}: expected a column {column!r}, found {', '.join(rows[0])}")
    return rows


def _load(manifest: str, root: str, row: int, relative: str) -> torch.Tensor:
    path = os.path.realpath(os.path.join(root, relative))
    if os.path.commonpath([path, os.path.realpath(root)]) != os.path.realpath(root):
        raise ValueError(f"{manifest}: row {row + 1}: path {relative!r} leaves the dataset folder")
    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{manifest}: row {row + 1}: cannot read image {relative!r}: {exc}") from None
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1)  # (3, H, W)
