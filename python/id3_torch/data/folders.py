"""Image-folder datasets as light indexes (paths + labels), and the JPEG/PNG codec every reader shares.

Two layouts:
- identity folders: `root/<identity>/<image>.{jpg,jpeg,png}`; sorted folder names get labels 0..K-1
  (as torchvision's ImageFolder does), so the same tree always gives the same labels;
- manifest: any tree under `root` plus `root/manifest.csv` with at least `path` and `identity`
  columns (the project's own manifests qualify); other columns are kept, numeric ones as floats.

An index holds no pixels; `load_image` decodes one file when a Dataset asks for it.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .errors import DataFormatError
from .image_files import _to_pil

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
# Pillow is asked to parse only these: a payload claiming another format is refused, not probed.
DECODED_FORMATS = ("JPEG", "PNG")
MANIFEST_REQUIRED_COLUMNS = ("path", "identity")

_JPEG_SIGNATURE = b"\xff\xd8\xff"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def encoded_format(data: bytes) -> Literal["jpeg", "png"] | None:
    """'jpeg' or 'png' from the leading signature bytes; None for anything else."""
    if data.startswith(_JPEG_SIGNATURE):
        return "jpeg"
    if data.startswith(_PNG_SIGNATURE):
        return "png"
    return None


def encode_image(image: torch.Tensor, *, format: Literal["jpeg", "png"] = "jpeg", quality: int = 95) -> bytes:
    """(3, H, W) uint8 -> JPEG (at `quality`, 1..95) or PNG (lossless) file bytes."""
    stream = io.BytesIO()
    if format == "jpeg":
        _to_pil(image).save(stream, format="JPEG", quality=quality)
    elif format == "png":
        _to_pil(image).save(stream, format="PNG")
    else:
        raise ValueError(f"image format must be 'jpeg' or 'png', got {format!r}")
    return stream.getvalue()


def decode_image(data: bytes, *, path: str | os.PathLike, record: str | None = None) -> torch.Tensor:
    """JPEG/PNG bytes -> (3, H, W) uint8 RGB; DataFormatError naming path/record when they do not decode."""
    try:
        with Image.open(io.BytesIO(data), formats=DECODED_FORMATS) as pil:
            pil.load()  # decodes now: a truncated or corrupt body fails here, not later in a worker
            rgb = np.asarray(pil if pil.mode == "RGB" else pil.convert("RGB"))  # (H, W, 3)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise DataFormatError(f"not a decodable JPEG/PNG image ({error})", path=path, record=record) from error
    return torch.from_numpy(rgb.transpose(2, 0, 1).copy())  # (3, H, W); the copy is writable and contiguous


def resize_image(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(3, H, W) uint8 -> (3, *size) uint8, bilinear and antialiased (as insightface's loaders rescale
    off-size faces); unchanged when it has that size already."""
    if tuple(image.shape[1:]) == tuple(size):
        return image
    resized = F.interpolate(image[None].float(), size=tuple(size), mode="bilinear", align_corners=False, antialias=True)
    return resized[0].round().clamp(0, 255).to(torch.uint8)


def load_image(path: str | os.PathLike) -> torch.Tensor:
    """Decode one JPEG/PNG file -> (3, H, W) uint8 RGB."""
    with open(path, "rb") as stream:
        return decode_image(stream.read(), path=path)


@dataclasses.dataclass(frozen=True)
class ImageIndex:
    """The images of a folder dataset: where each one is, whose it is, and its manifest columns."""

    root: Path
    paths: tuple[str, ...]  # relative to root
    labels: torch.Tensor  # (N,) int64 in 0..K-1
    identities: tuple[str, ...]  # label -> identity name (folder name, or the manifest's identity value)
    attributes: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)  # column -> (N,) float32, NaN if empty
    text_columns: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)  # non-numeric columns
    skipped: tuple[str, ...] = ()  # identity folders left out because they hold no image

    def __len__(self) -> int:
        return len(self.paths)

    def file(self, index: int) -> Path:
        return self.root / self.paths[index]

    def image(self, index: int) -> torch.Tensor:
        """(3, H, W) uint8 of image `index`."""
        return load_image(self.file(index))


def _is_image_file(entry: os.DirEntry) -> bool:
    # Hidden files are skipped: atomic writers leave `.name.tmp` files behind when killed.
    return entry.is_file() and not entry.name.startswith(".") and entry.name.lower().endswith(IMAGE_EXTENSIONS)


def _refuse_links_out(root: Path, path: Path) -> None:
    if path.is_symlink() and not _inside(root, path):
        raise DataFormatError(f"is a link to {os.path.realpath(path)}, outside the dataset root; expected a file or "
                              "folder under it", path=path)


def index_identity_folders(root: str | os.PathLike, *, on_empty: Literal["raise", "skip"] = "raise") -> ImageIndex:
    """Index `root/<identity>/<image>`: sorted identity folders -> labels 0..K-1, sorted files within each.

    An identity folder without images raises DataFormatError naming it, or with on_empty="skip" is
    left out (no label) and listed in `skipped`.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataFormatError("expected a folder with one sub-folder per identity", path=root)
    folders = sorted(entry.name for entry in os.scandir(root) if entry.is_dir() and not entry.name.startswith("."))
    for name in folders:
        _refuse_links_out(root, root / name)
    paths: list[str] = []
    labels: list[int] = []
    identities: list[str] = []
    skipped: list[str] = []
    for name in folders:
        entries = [entry for entry in os.scandir(root / name) if _is_image_file(entry)]
        for entry in entries:
            if entry.is_symlink():
                _refuse_links_out(root, Path(entry.path))
        files = sorted(entry.name for entry in entries)
        if not files:
            if on_empty == "raise":
                raise DataFormatError(f"identity folder holds no image ({', '.join(IMAGE_EXTENSIONS)})", path=root / name)
            skipped.append(name)
            continue
        paths += [f"{name}/{file}" for file in files]
        labels += [len(identities)] * len(files)
        identities.append(name)
    if not identities:
        raise DataFormatError("no identity sub-folder with images", path=root)
    return ImageIndex(root, tuple(paths), torch.tensor(labels, dtype=torch.int64), tuple(identities), skipped=tuple(skipped))


def _checked_relative_path(root: Path, value: str, *, manifest: Path, line: int) -> str:
    """The row's path, normalised, once it is relative, stays under root and names an existing file."""
    def reject(problem: str) -> DataFormatError:
        return DataFormatError(f"path {value!r}: {problem}", path=manifest, record=f"line {line}")

    if not value or "\x00" in value:
        raise reject("expected a non-empty file path")
    if os.path.isabs(value):
        raise reject("absolute paths are refused; expected a path relative to the dataset root")
    normal = os.path.normpath(value)
    if normal == os.curdir or normal == os.pardir or normal.startswith(os.pardir + os.sep):
        raise reject("leaves the dataset root; expected a file under it")
    if not (root / normal).is_file():
        raise reject(f"no such file {root / normal}")
    if not _inside(root, root / normal):
        raise reject(f"is a link to {os.path.realpath(root / normal)}, outside the dataset root; expected a file under it")
    return normal


def _inside(root: Path, path: Path) -> bool:
    """Whether `path`, links resolved, is under `root` (links resolved): a link inside a dataset must not
    lead a reader elsewhere on the machine."""
    return os.path.commonpath([os.path.realpath(root), os.path.realpath(path)]) == os.path.realpath(root)


def _identity_order(names: set[str]) -> list[str]:
    """Integer identity names sort as numbers (2 before 10), any others as text."""
    try:
        return sorted(names, key=int)
    except ValueError:
        return sorted(names)


def _as_float(value: str) -> float | None:
    if value == "":
        return math.nan
    try:
        return float(value)
    except ValueError:
        return None


def _split_columns(columns: dict[str, list[str]]) -> tuple[dict[str, torch.Tensor], dict[str, tuple[str, ...]]]:
    """Columns whose every value parses as a number -> float32 tensors; the rest stay text."""
    attributes, text = {}, {}
    for name, values in columns.items():
        numbers = [_as_float(value) for value in values]
        if all(number is not None for number in numbers):
            attributes[name] = torch.tensor(numbers, dtype=torch.float32)
        else:
            text[name] = tuple(values)
    return attributes, text


def index_manifest(root: str | os.PathLike, *, manifest: str = "manifest.csv") -> ImageIndex:
    """Index the images listed in `root/manifest` (CSV with a header row, at least `path` and `identity`).

    Every row must name an existing file under root (absolute paths and `..` escapes are refused);
    a bad row raises DataFormatError naming the manifest and its line. Labels are the sorted distinct
    identity values -> 0..K-1 (numerically when they are all integers).
    """
    root = Path(root)
    manifest_path = root / manifest
    try:
        stream = open(manifest_path, newline="", encoding="utf-8-sig")
    except OSError as error:
        raise DataFormatError(f"cannot open the manifest ({error.strerror})", path=manifest_path) from error
    with stream:
        reader = csv.reader(stream)
        header = next(reader, [])
        missing = [name for name in MANIFEST_REQUIRED_COLUMNS if name not in header]
        if missing or len(set(header)) != len(header):
            raise DataFormatError(
                f"expected a header row with distinct names including {', '.join(MANIFEST_REQUIRED_COLUMNS)}; "
                f"found {header}", path=manifest_path, record="line 1")
        columns: dict[str, list[str]] = {name: [] for name in header}
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise DataFormatError(f"expected {len(header)} fields, found {len(row)}",
                                      path=manifest_path, record=f"line {reader.line_num}")
            values = dict(zip(header, row))
            values["path"] = _checked_relative_path(root, values["path"], manifest=manifest_path, line=reader.line_num)
            if not values["identity"]:
                raise DataFormatError("empty identity", path=manifest_path, record=f"line {reader.line_num}")
            for name, value in values.items():
                columns[name].append(value)
    if not columns["path"]:
        raise DataFormatError("the manifest lists no image", path=manifest_path)
    identities = _identity_order(set(columns["identity"]))
    label_of = {name: label for label, name in enumerate(identities)}
    labels = torch.tensor([label_of[name] for name in columns["identity"]], dtype=torch.int64)
    extra = {name: values for name, values in columns.items() if name not in MANIFEST_REQUIRED_COLUMNS}
    attributes, text = _split_columns(extra)
    return ImageIndex(root, tuple(columns["path"]), labels, tuple(identities), attributes, text)
