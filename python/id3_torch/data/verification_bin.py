"""Verification pair files (insightface `.bin`: lfw, cfp_fp, cplfw, agedb_30, calfw), read and written.

A `.bin` is a pickle of `(bins, issame_list)`: 2N encoded images (JPEG/PNG), images 2i and 2i+1
forming pair i, and N booleans (same identity or not). insightface's pack scripts pickled file bytes
(Python 2 `str`, so Python 3 must load them with encoding='bytes') or the uint8 numpy arrays that
cv2.imencode returns, and `issame_list` as a list (sometimes an array) of bools.

A pickle can run any code it names, so loading goes through an unpickler that resolves only the
few harmless globals these files contain (numpy array/scalar reconstruction, latin-1 bytes) and
refuses every other one before it can be called.
"""

from __future__ import annotations

import codecs
import os
import pickle
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from ..files import write_bytes_atomic
from .errors import DataFormatError
from .folders import decode_image, encode_image, encoded_format, resize_image


def _latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    # Python 3 pickles bytes under protocol <= 2 as _codecs.encode(text, 'latin1'); only that codec is let through.
    if codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r}: only latin-1 appears in these files")
    return text.encode("latin-1", errors)


# The numpy reconstruction helpers, whatever module path this numpy version keeps them under.
_RECONSTRUCT = np.empty(0).__reduce__()[0]
_SCALAR = np.float32(0).__reduce__()[0]
_FROMBUFFER = np.empty(1, np.uint8).__reduce_ex__(5)[0]

# (module, name) as written in the pickle -> the object it may resolve to; numpy 2 moved numpy.core to numpy._core.
ALLOWED_GLOBALS = {
    ("_codecs", "encode"): _latin1_encode,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    **{(f"numpy.{core}.multiarray", "_reconstruct"): _RECONSTRUCT for core in ("core", "_core")},
    **{(f"numpy.{core}.multiarray", "scalar"): _SCALAR for core in ("core", "_core")},
    **{(f"numpy.{core}.numeric", "_frombuffer"): _FROMBUFFER for core in ("core", "_core")},
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, stream, *, path: Path):
        # encoding='bytes': Python 2 `str` (the encoded images) must come back as bytes, not text.
        super().__init__(stream, encoding="bytes")
        self.path = path

    def find_class(self, module: str, name: str):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise DataFormatError(f"refusing to load: the pickle names the global {module}.{name}, which a "
                                  f"verification .bin never contains", path=self.path, record="pickle") from None


def _encoded_bytes(item, *, path: Path, index: int) -> bytes:
    if isinstance(item, (bytes, bytearray)):
        return bytes(item)
    if isinstance(item, np.ndarray) and item.dtype == np.uint8 and item.ndim <= 2:
        return item.tobytes()  # cv2.imencode output, (L,) or (L, 1)
    raise DataFormatError(f"expected encoded image bytes, found {type(item).__name__}", path=path, record=f"image {index}")


def _issame_values(issame, *, path: Path) -> list[bool]:
    values = issame.tolist() if isinstance(issame, np.ndarray) else issame
    boolean = (bool, int, np.bool_, np.integer)  # numpy scalars: cv2/numpy-built lists hold np.bool_
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, boolean) and v in (0, 1) for v in values):
        raise DataFormatError("expected issame_list to be a list or array of booleans", path=path, record="issame_list")
    return [bool(v) for v in values]


def read_encoded_pairs(path: str | os.PathLike) -> tuple[list[bytes], list[bool]]:
    """A `.bin`'s encoded images (2N JPEG/PNG byte strings) and pair flags (N), nothing decoded."""
    path = Path(path)
    try:
        with open(path, "rb") as stream:
            content = _RestrictedUnpickler(stream, path=path).load()
    except DataFormatError:
        raise
    except OSError as error:
        raise DataFormatError(f"cannot read ({error.strerror})", path=path) from error
    except Exception as error:  # a damaged pickle fails in many ways (EOFError, UnpicklingError, ...)
        raise DataFormatError(f"not a readable pickle ({type(error).__name__}: {error})", path=path,
                              record="pickle") from error
    if not (isinstance(content, (tuple, list)) and len(content) == 2 and isinstance(content[0], (list, tuple))):
        found = f"a {len(content)}-element {type(content).__name__}" if isinstance(content, (tuple, list)) else (
            f"a {type(content).__name__}")
        raise DataFormatError(f"expected a pickled (images, issame_list) pair, found {found}", path=path, record="pickle")
    bins, issame = content
    encoded = [_encoded_bytes(item, path=path, index=n) for n, item in enumerate(bins)]
    same = _issame_values(issame, path=path)
    if len(encoded) != 2 * len(same):
        raise DataFormatError(f"expected 2 images per pair: {len(same)} pairs but {len(encoded)} images",
                              path=path, record="pickle")
    return encoded, same


def _fit(image: torch.Tensor, size: tuple[int, int] | None, *, path: Path, index: int,
         first: tuple[int, int]) -> torch.Tensor:
    """Resize to `size` (bilinear, as insightface's loaders rescale off-size faces); without a size,
    every image must match the first."""
    height_width = tuple(image.shape[1:])
    if size is None:
        if height_width != first:
            raise DataFormatError(f"image is {height_width[0]}x{height_width[1]} but image 0 is {first[0]}x{first[1]}; "
                                  f"pass image_size to resize", path=path, record=f"image {index}")
        return image
    return resize_image(image, size)


def load_verification_bin(path: str | os.PathLike, *,
                          image_size: int | tuple[int, int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Read a verification `.bin` -> (images (2N, 3, H, W) uint8 RGB, issame (N,) bool).

    Images 2i and 2i+1 are pair i. With image_size (H, W) (or one int for square), images of another
    size are resized; without it they must all share one size. Anything unexpected, including a
    pickle that names any other global, raises DataFormatError naming the file.
    """
    path = Path(path)
    encoded, same = read_encoded_pairs(path)
    size = (image_size, image_size) if isinstance(image_size, int) else (None if image_size is None else tuple(image_size))
    images = [decode_image(data, path=path, record=f"image {n}") for n, data in enumerate(encoded)]
    first = tuple(images[0].shape[1:]) if images else (0, 0)
    images = [_fit(image, size, path=path, index=n, first=first) for n, image in enumerate(images)]
    height, width = size if size is not None else first
    stacked = torch.stack(images) if images else torch.empty(0, 3, height, width, dtype=torch.uint8)
    return stacked, torch.tensor(same, dtype=torch.bool)


def _python2_pickle(bins: list[bytes], issame: list[bool]) -> bytes:
    """The opcodes Python 2's cPickle (protocol 2) writes for (list of str, list of bool).

    Python 3 cannot produce this itself: it writes bytes as _codecs.encode calls under protocol 2.
    """
    out = [b"\x80\x02", b"]"]  # PROTO 2, EMPTY_LIST
    for start in range(0, len(bins), 1000):  # cPickle appends in batches of 1000 (MARK ... APPENDS)
        out.append(b"(")
        for data in bins[start:start + 1000]:
            # SHORT_BINSTRING / BINSTRING: a Python 2 str, which is bytes.
            out.append(b"U" + struct.pack("<B", len(data)) if len(data) < 256 else b"T" + struct.pack("<I", len(data)))
            out.append(data)
        out.append(b"e")
    out.append(b"]")
    for start in range(0, len(issame), 1000):
        out.append(b"(" + b"".join(b"\x88" if value else b"\x89" for value in issame[start:start + 1000]) + b"e")
    out.append(b"\x86.")  # TUPLE2, STOP
    return b"".join(out)


def write_verification_bin(path: str | os.PathLike, images_or_encoded: torch.Tensor | Sequence[torch.Tensor | bytes],
                           issame: Sequence[bool] | torch.Tensor, *, format: Literal["jpeg", "png"] = "jpeg",
                           quality: int = 95, protocol: Literal[2, 4] = 4) -> None:
    """Write a verification `.bin`, atomically (temporary name, then rename).

    `images_or_encoded`: (2N, 3, H, W) uint8, or 2N items each a (3, H, W) uint8 tensor (encoded as
    `format`) or JPEG/PNG bytes (written unchanged); images 2i and 2i+1 are pair i, `issame[i]` says
    whether they share an identity. protocol=4: a Python 3 pickle; protocol=2: the bytes Python 2's
    pickle wrote for insightface's original files (readers need encoding='bytes', as insightface uses).
    """
    path = Path(path)
    same = [bool(value) for value in (issame.tolist() if isinstance(issame, torch.Tensor) else issame)]
    if len(images_or_encoded) != 2 * len(same):
        raise ValueError(f"{path}: expected 2 images per pair: {len(same)} pairs but {len(images_or_encoded)} images")
    bins = []
    for n, item in enumerate(images_or_encoded):
        if isinstance(item, (bytes, bytearray)):
            if encoded_format(item) is None:
                raise ValueError(f"{path}: image {n} is bytes but not JPEG/PNG")
            bins.append(bytes(item))
        else:
            bins.append(encode_image(item, format=format, quality=quality))
    if protocol == 2:
        content = _python2_pickle(bins, same)
    elif protocol == 4:
        content = pickle.dumps((bins, same), protocol=4)
    else:
        raise ValueError(f"protocol must be 2 (Python 2 layout) or 4, got {protocol!r}")
    write_bytes_atomic(path, content)
