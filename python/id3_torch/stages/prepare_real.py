"""prepare, Python half, for datasets of real faces (folders, manifest, RecordIO): align if asked,
embed with the configured encoder, predict the attributes s (age, yaw, pitch, roll), and write

    images/…           the aligned crops (align), the RecordIO's images as files, or a link to the
                       dataset's own folder (pre-aligned folders and manifests: nothing is copied)
    manifest.csv       path, identity, image, split, age, yaw, pitch, roll, name, source: one row per
                       face kept, identity = label 0..K-1, name = the dataset's identity, source = the input
    embeddings.npy     (rows, d) float32 unit embeddings, row i ↔ manifest row i (with an encoder)
    embeddings.json    the encoder's spec and declared metadata
    not-found.csv      source, identity, reason: every input left out (no face found, unreadable)

Work goes in batches of consecutive inputs; each finished batch is one file `parts/<start>.npz`,
written whole or not at all, so a killed prepare resumes at the first batch with no part and
never redoes one. The final files are assembled from the parts at the end.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..bridge.jobs import Progress
from ..data.errors import DataFormatError
from ..data.image_files import write_png_atomic
from ..encoders import load_identity_encoder
from ..data.attributes import ATTRIBUTE_NAMES
from ..encoders.attributes import AttributePredictor
from ..encoders.faces import FaceFinder
from ..encoders.framing import FRAMINGS, warp_to_framing
from ..files import atomic_path, write_bytes_atomic, write_text_atomic
from ..training.distributed import Distributed
from .real_sources import ImageSource, extension_of, link_root, open_source, split_of

MANIFEST_COLUMNS = ("path", "identity", "image", "split", *ATTRIBUTE_NAMES, "name", "source")


@dataclass(frozen=True)
class PrepareOptions:
    """How a real set is prepared: aligned (detected, warped to `framing` at resolution²) or read as the crops it
    holds, embedded with `encoder` (an encoder spec, load_identity_encoder's; None: no embeddings), split by
    identity (split_of)."""

    align: bool
    framing: str  # a name in encoders/framing.py FRAMINGS
    resolution: int
    min_confidence: float
    encoder: dict | None
    val_identities: int
    test_identities: int
    batch_size: int
    device: str  # "auto", "cpu" or "cuda"


class Preparer:
    """One batch at a time: inputs → (kept, image path, embedding, attributes, reason)."""

    def __init__(self, options: PrepareOptions, source: ImageSource, out_dir: Path) -> None:
        device = Distributed.from_environment(options.device).device
        self.options, self.source, self.out_dir = options, source, out_dir
        self.framing = FRAMINGS.get(options.framing)  # None: "dataset", crops as some trained encoder wants
        if options.align and self.framing is None:
            raise ValueError(f"dataset.framing: expected one of {', '.join(FRAMINGS)} to align to, "
                             f"got {options.framing!r}")
        self.finder = (FaceFinder.from_package(min_confidence=options.min_confidence, device=device) if options.align
                       else None)
        self.attributes = AttributePredictor.from_package(device=device)
        self.encoder = load_identity_encoder(options.encoder, device=device) if options.encoder is not None else None
        # A trained folder's framing is "dataset": whatever its training images were.
        if self.encoder is not None and self.encoder.framing in FRAMINGS and self.encoder.framing != options.framing:
            raise ValueError(f"encoder.framing: expected the dataset's framing {options.framing!r} (the encoder reads "
                             f"the prepared images), got {self.encoder.framing!r}")
        self.device = device

    def _load(self, i: int) -> tuple[bytes, torch.Tensor] | str:
        """Input i → (its bytes, decoded), or the reason it cannot be read."""
        try:
            data = self.source.encoded(i)
            return data, self.source.decode(i, data)
        except (DataFormatError, OSError) as error:
            return f"unreadable: {error}"

    def _aligned(self, i: int, image: torch.Tensor, faces: list) -> tuple:
        """Photo i and its faces → (crop, manifest path, photo landmarks, photo (width, height), reason)."""
        if not faces:
            return None, "", None, None, "no face found"
        crop = warp_to_framing(image, faces[0].landmarks, self.framing, self.options.resolution)
        relative = f"images/{self.source.labels[i]}/{i}.png"
        (self.out_dir / relative).parent.mkdir(exist_ok=True)
        write_png_atomic(self.out_dir / relative, crop)
        return crop, relative, faces[0].landmarks, (image.shape[2], image.shape[1]), ""

    def _pre_aligned(self, i: int, data: bytes, image: torch.Tensor) -> tuple:
        if image.shape[1] != image.shape[2]:
            return None, "", None, None, (f"not a square aligned crop ({image.shape[2]}×{image.shape[1]}); "
                                          "set dataset.align to detect and align raw photos")
        if self.source.root is None:  # RecordIO: the image leaves the .rec as its own file, bytes as stored
            relative = f"images/{self.source.labels[i]}/{i}{extension_of(data)}"
            (self.out_dir / relative).parent.mkdir(exist_ok=True)
            write_bytes_atomic(self.out_dir / relative, data)
        else:
            relative = f"images/{self.source.sources[i]}"
        return image, relative, None, None, ""

    def _crops(self, start: int, end: int) -> list[tuple]:
        """Inputs start..end-1 → (crop or None, manifest path, photo landmarks, photo size, reason) each."""
        loaded = {i: self._load(i) for i in range(start, end)}
        readable = [i for i, item in loaded.items() if not isinstance(item, str)]
        out = {i: (None, "", None, None, item) for i, item in loaded.items() if isinstance(item, str)}
        if self.finder is not None:
            faces = self.finder([loaded[i][1] for i in readable]) if readable else []  # one detector pass a batch
            out.update({i: self._aligned(i, loaded[i][1], found) for i, found in zip(readable, faces)})
        else:
            out.update({i: self._pre_aligned(i, *loaded[i]) for i in readable})
        return [out[i] for i in range(start, end)]

    @torch.no_grad()
    def batch(self, start: int, end: int) -> dict[str, np.ndarray]:
        crops, paths, landmarks, sizes, reasons = zip(*self._crops(start, end))
        kept = [k for k, crop in enumerate(crops) if crop is not None]
        dim = self.encoder.embedding_size if self.encoder is not None else 0
        embeddings = np.zeros((end - start, dim), np.float32)
        attributes = np.full((end - start, len(ATTRIBUTE_NAMES)), np.nan)
        for side in sorted({crops[k].shape[-1] for k in kept}):  # inputs of one size per forward pass
            group = [k for k in kept if crops[k].shape[-1] == side]
            images = torch.stack([crops[k] for k in group])
            if self.encoder is not None:
                embeddings[group] = self.encoder(images.to(self.device).float() / 127.5 - 1.0).cpu().numpy()
            predicted = self.attributes(images, [landmarks[k] for k in group], [sizes[k] for k in group])
            attributes[group] = np.stack([predicted[name] for name in ATTRIBUTE_NAMES], axis=1)
        encoder = json.dumps(self.encoder.describe() if self.encoder is not None else None)
        return {"kept": np.array([c is not None for c in crops]), "paths": np.array(paths, dtype=str),
                "reasons": np.array(reasons, dtype=str), "embeddings": embeddings, "attributes": attributes,
                "encoder": np.array(encoder)}


def _save_part(path: Path, part: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **part)
    write_bytes_atomic(path, buffer.getvalue())


def _parts(parts_dir: Path) -> dict[int, Path]:
    return {int(p.stem): p for p in parts_dir.glob("*.npz") if p.stem.isdigit()}


def prepare_real(dataset: dict, out_dir: str | Path, options: PrepareOptions, progress: Progress) -> dict:
    """Prepare the real set `dataset` (a source spec, open_source's) into out_dir; the summary of what was written
    ({manifest, notFound, embeddings: paths inside out_dir; inputs, images, missing; identities per split})."""
    out_dir = Path(out_dir)
    parts_dir = out_dir / "parts"
    parts_dir.mkdir(parents=True, exist_ok=True)
    source = open_source(dataset)
    if options.align or source.root is None:
        (out_dir / "images").mkdir(exist_ok=True)
        for leftover in (out_dir / "images").glob("*/.*.tmp"):  # what a killed writer left
            leftover.unlink()
    else:
        link_root(out_dir / "images", source.root)
    total = len(source)
    for leftover in parts_dir.glob(".*.tmp"):
        leftover.unlink()
    existing = _parts(parts_dir)
    done = sum(len(np.load(existing[s])["kept"]) for s in existing)
    progress.begin(total, label="prepare", unit="img", step=min(done, total))

    preparer: Preparer | None = None  # the networks load only when a batch is left to do
    position, batch_size = 0, options.batch_size
    while position < total:
        if position in existing:
            position += len(np.load(existing[position])["kept"])
            continue
        following = min([s for s in existing if s > position], default=total)
        end = min(position + batch_size, following, total)
        preparer = preparer or Preparer(options, source, out_dir)
        _save_part(parts_dir / f"{position}.npz", preparer.batch(position, end))
        progress.advance(end - position)
        position = end
    return _assemble(options, source, out_dir, parts_dir)


def _assemble(options: PrepareOptions, source: ImageSource, out_dir: Path, parts_dir: Path) -> dict:
    """manifest.csv, embeddings.npy/json and not-found.csv from the parts, in input order."""
    parts = [dict(np.load(path)) for _, path in sorted(_parts(parts_dir).items())]
    kept = np.concatenate([p["kept"] for p in parts])
    paths, reasons = np.concatenate([p["paths"] for p in parts]), np.concatenate([p["reasons"] for p in parts])
    attributes = np.concatenate([p["attributes"] for p in parts])
    count = len(source.names)
    split = [split_of(label, count, options.val_identities, options.test_identities) for label in range(count)]
    per_identity = [0] * count
    rows, missing = [], []
    for i, label in enumerate(source.labels):
        name = source.names[label]
        if not kept[i]:
            missing.append((source.sources[i], name, str(reasons[i])))
            continue
        rows.append((str(paths[i]), label, per_identity[label], split[label],
                     *(round(float(v), 3) for v in attributes[i]), name, source.sources[i]))
        per_identity[label] += 1
    _write_csv(out_dir / "manifest.csv", MANIFEST_COLUMNS, rows)
    _write_csv(out_dir / "not-found.csv", ("source", "name", "reason"), missing)
    identities = {s: sum(1 for label in range(count) if split[label] == s and per_identity[label]) for s in ("train", "val", "test")}
    summary = {"manifest": "manifest.csv", "notFound": "not-found.csv", "inputs": len(source), "images": len(rows),
               "missing": len(missing), "identities": identities, "embeddings": None}
    if options.encoder is not None:
        embeddings = np.concatenate([p["embeddings"] for p in parts])[kept].astype(np.float32)  # (rows, d)
        with atomic_path(out_dir / "embeddings.npy") as temporary, open(temporary, "wb") as stream:
            np.save(stream, embeddings)
        card = {"spec": options.encoder, "rows": len(rows), **json.loads(str(parts[0]["encoder"]))}
        write_text_atomic(out_dir / "embeddings.json", json.dumps(card, indent=2) + "\n")
        summary["embeddings"] = "embeddings.npy"
    return summary


def _write_csv(path: Path, header: tuple[str, ...], rows: list[tuple]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text_atomic(path, buffer.getvalue())
