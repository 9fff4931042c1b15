"""`id3 data inspect`: what a dataset holds, read from its index and a sample of its images.

Counts (images, identities, images per identity) come from the index alone (a `.rec`'s record
headers, a folder listing, a manifest), so a 500k-image set is inspected in seconds; image sizes
and encodings from `sample` images spread evenly over the set, each decoded, so that a corrupt
one among them is reported. Problems that do not stop a reader (an empty identity folder, a
corrupt sampled image) are listed rather than raised; anything a reader would refuse raises.
"""
from __future__ import annotations

import collections
import io
import statistics
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .datasets import FaceImages, FolderImages, RecordIOImages, detect_format
from .folders import encoded_format, index_identity_folders, index_manifest
from .recordio import RecordIOReader
from .verification_bin import read_encoded_pairs


def _spread(n: int, sample: int) -> list[int]:
    """`sample` indices spread evenly over 0..n-1 (all of them when sample is 0 or at least n)."""
    if sample <= 0 or sample >= n:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, sample).round().astype(int).tolist()))


def _sizes(encoded: list[tuple[str, bytes]]) -> tuple[list[dict], dict[str, int], list[str]]:
    """(image sizes with counts, encodings with counts, problems) of (where, bytes) samples."""
    sizes: collections.Counter = collections.Counter()
    encodings: collections.Counter = collections.Counter()
    problems = []
    for where, data in encoded:
        encodings[encoded_format(data) or "other"] += 1
        try:
            with Image.open(io.BytesIO(data), formats=("JPEG", "PNG")) as pil:
                pil.load()
                sizes[pil.size] += 1
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            problems.append(f"{where}: not a decodable JPEG/PNG image ({error})")
    return ([{"width": w, "height": h, "count": c} for (w, h), c in sorted(sizes.items(), key=lambda kv: -kv[1])],
            dict(encodings), problems)


def _per_identity(labels: torch.Tensor) -> dict:
    counts = torch.bincount(labels).tolist()
    return {"min": min(counts), "median": statistics.median(counts), "max": max(counts),
            "mean": sum(counts) / len(counts)}


def _aligned_arrays(folder: Path, rows: int) -> list[dict]:
    """`.npy` files beside a manifest and whether they have one row per manifest row."""
    arrays = []
    for file in sorted(folder.glob("*.npy")):
        try:
            array = np.load(file, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            arrays.append({"file": file.name, "shape": None, "dtype": None, "aligned": False})
            continue
        arrays.append({"file": file.name, "shape": list(array.shape), "dtype": str(array.dtype),
                       "aligned": array.ndim > 0 and array.shape[0] == rows})
    return arrays


def _image_set(dataset: FaceImages, sample: int) -> dict:
    picked = _spread(len(dataset), sample)
    encoded = []
    for n in picked:
        path, record = dataset.where(n)
        encoded.append((", ".join(p for p in (path, record) if p), dataset.encoded(n)))
    sizes, encodings, problems = _sizes(encoded)
    return {"images": len(dataset), "identities": dataset.num_classes, "imagesPerIdentity": _per_identity(dataset.labels),
            "imageSizes": sizes, "encodings": encodings, "checked": len(picked), "problems": problems}


def inspect_dataset(path: str, sample: int = 256) -> dict:
    """The report `id3 data inspect` prints (JSON): format, counts, images per identity, image sizes."""
    target = Path(path)
    if target.is_file() and target.suffix == ".bin":
        return _inspect_verification_bin(target, sample)
    format, target = detect_format(target)
    report: dict = {"path": str(target.resolve()), "format": format}
    if format == "recordio":
        reader = RecordIOReader(target)
        header = reader.header()
        report["layout"] = "insightface" if header is not None and header.flag > 0 else "image list"
        report.update(_image_set(RecordIOImages(reader), sample))
        reader.close()
    elif format == "folders":
        index = index_identity_folders(target, on_empty="skip")
        report.update(_image_set(FolderImages(index, format="folders"), sample))
        report["problems"] = [f"{target / name}: identity folder holds no image" for name in index.skipped] + report["problems"]
    else:
        index = index_manifest(target.parent, manifest=target.name)
        report.update(_image_set(FolderImages(index, format="manifest"), sample))
        report["columns"] = {"numeric": sorted(index.attributes), "text": sorted(index.text_columns)}
        if "split" in index.text_columns:
            report["splits"] = dict(collections.Counter(index.text_columns["split"]))
        report["arrays"] = _aligned_arrays(target.parent, len(index))
    return report


def _inspect_verification_bin(path: Path, sample: int) -> dict:
    encoded, same = read_encoded_pairs(path)
    picked = _spread(len(encoded), sample)
    sizes, encodings, problems = _sizes([(f"{path}, image {n}", encoded[n]) for n in picked])
    return {"path": str(path.resolve()), "format": "verification-bin", "images": len(encoded), "pairs": len(same),
            "samePairs": sum(same), "imageSizes": sizes, "encodings": encodings, "checked": len(picked),
            "problems": problems}

