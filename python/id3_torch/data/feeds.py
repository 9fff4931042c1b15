"""What a training loop iterates: a dataset's batches for (epoch, first batch), from memory or streamed.

- memory: every image decoded once (by the DataLoader workers), batches gathered from one tensor;
  fastest when the decoded set fits in memory (CPU scale).
- stream: a DataLoader whose workers decode each batch as it is needed; for datasets that do not fit
  (500k images at 112 px are 19 GB decoded).
Both take their batches from the same `EpochBatches`, so they yield the same batches; a skipped
(undecodable) image is left out of its batch on both, and reported once by `skipped()`.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from ..training.order import Sampling
from .batches import DecodedImages, EpochBatches, FaceBatch, decode_all, face_loader, loading
from .datasets import FaceImages, OnCorrupt, SkippedImage
from .errors import DataFormatError

FeedKind = Literal["memory", "stream"]
# How many of the first images auto mode may try to decode to learn the image size.
_SIZE_PROBES = 16


@dataclass(frozen=True)
class LoaderOptions:
    """Mirrors `trainFr.loader` in the config schema (src/config/train-fr.ts)."""
    mode: Literal["auto", "memory", "stream"] = "auto"
    workers: int = 2  # DataLoader worker processes (0: decode in the training process)
    memory_gib: float = 4.0  # auto: decoded into memory when the images take at most this
    sampling: Sampling = "uniform"
    on_corrupt: OnCorrupt = "raise"


def decoded_bytes(dataset: FaceImages) -> int:
    """What the whole dataset takes decoded, from the size of its first decodable image."""
    for n in range(min(len(dataset), _SIZE_PROBES)):
        try:
            image = dataset.image(n)
        except DataFormatError:
            if dataset.on_corrupt == "raise":
                raise
            continue
        return len(dataset) * image.numel()
    raise DataFormatError(f"none of the first {_SIZE_PROBES} images decodes", path=dataset.where(0)[0])


def _nonempty(batch: FaceBatch, epoch: int) -> FaceBatch:
    if len(batch.labels) == 0:
        where = "; ".join(f"{s.where}: {s.problem}" for s in batch.skipped[:3])
        raise DataFormatError(f"no image of a batch of epoch {epoch} decodes (first: {where})")
    return batch


class MemoryFeed:
    kind: FeedKind = "memory"

    def __init__(self, dataset: FaceImages, batches: EpochBatches, decoded: DecodedImages):
        self.dataset, self.batches, self.decoded = dataset, batches, decoded

    @property
    def steps_per_epoch(self) -> int:
        return self.batches.per_epoch

    def epoch(self, epoch: int, *, start: int = 0) -> Iterator[FaceBatch]:
        for indices in self.batches.batches(epoch)[start:]:
            kept = indices[self.decoded.decoded[indices]]
            yield _nonempty(FaceBatch(self.decoded.images[kept], self.dataset.labels[kept], kept, (), {}), epoch)

    def skipped(self) -> tuple[SkippedImage, ...]:
        return self.decoded.skipped


class StreamFeed:
    kind: FeedKind = "stream"

    def __init__(self, dataset: FaceImages, batches: EpochBatches, *, workers: int, pin_memory: bool):
        self.batches = batches
        self.loader = face_loader(dataset, batches, workers=workers, pin_memory=pin_memory)
        self._skipped: dict[int, SkippedImage] = {}

    @property
    def steps_per_epoch(self) -> int:
        return self.batches.per_epoch

    def epoch(self, epoch: int, *, start: int = 0) -> Iterator[FaceBatch]:
        self.batches.set_epoch(epoch, start)
        with loading(self.loader) as batches:  # a cancelled job leaves no worker behind
            for batch in batches:
                self._skipped.update((s.index, s) for s in batch.skipped)
                yield _nonempty(batch, epoch)

    def skipped(self) -> tuple[SkippedImage, ...]:
        return tuple(self._skipped[n] for n in sorted(self._skipped))


def open_feed(dataset: FaceImages, options: LoaderOptions, *, batch_size: int, seed: int, rank: int = 0,
              world_size: int = 1, pin_memory: bool = False) -> MemoryFeed | StreamFeed:
    """The feed `options.mode` asks for (auto: memory when the decoded images fit in options.memory_gib)."""
    if options.mode not in ("auto", "memory", "stream"):
        raise ValueError(f"loader mode must be 'auto', 'memory' or 'stream', got {options.mode!r}")
    batches = EpochBatches(dataset.labels, batch_size=batch_size, seed=seed, rank=rank, world_size=world_size,
                           sampling=options.sampling)
    batches.batches(0)  # a set too small for one global batch fails here, before any decoding
    mode = options.mode
    if mode == "auto":
        mode = "memory" if decoded_bytes(dataset) <= options.memory_gib * 2**30 else "stream"
    if mode == "memory":
        return MemoryFeed(dataset, batches, decode_all(dataset, workers=options.workers))
    return StreamFeed(dataset, batches, workers=options.workers, pin_memory=pin_memory)

