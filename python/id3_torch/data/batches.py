"""Batches of a face dataset: stacking examples, an epoch's batches in a seeded order, the DataLoader.

`collate_faces` stacks the decoded examples and keeps the skipped ones' reports in `FaceBatch.skipped`,
which is how a report crosses from DataLoader workers to the caller. `EpochBatches` is a batch sampler
whose order is a function of (seed, epoch, rank) only (`training/order.py`), so a resumed run gets the
same batches. Workers are forked: inside the bridge, `__main__` is pythonia's loop, which a spawned
worker would run again.
"""
from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Iterator, Sequence

import torch

from ..training.order import Sampling, epoch_order, split_batches
from .datasets import FaceExample, FaceImages, SkippedImage
from .errors import DataFormatError


@dataclasses.dataclass
class FaceBatch:
    images: torch.Tensor  # (B, 3, H, W) uint8
    labels: torch.Tensor  # (B,) int64
    indices: torch.Tensor  # (B,) int64 example indices
    skipped: tuple[SkippedImage, ...]  # images of this batch left out (on_corrupt="skip")
    extras: dict[str, torch.Tensor]  # (B, ...) each

    def pin_memory(self) -> FaceBatch:  # called by DataLoader(pin_memory=True) in its pinning thread
        return dataclasses.replace(self, images=self.images.pin_memory(), labels=self.labels.pin_memory(),
                                   extras={k: v.pin_memory() for k, v in self.extras.items()})


def collate_faces(examples: Sequence[FaceExample]) -> FaceBatch:
    """Stack the decoded examples; skipped ones are reported, not stacked."""
    kept = [e for e in examples if e.image is not None]
    skipped = tuple(e.skipped for e in examples if e.skipped is not None)
    if kept:
        size = kept[0].image.shape
        for e in kept[1:]:
            if e.image.shape != size:
                raise DataFormatError(f"image {e.index} is {e.image.shape[1]}x{e.image.shape[2]} but image {kept[0].index} "
                                      f"of the same batch is {size[1]}x{size[2]}; give the dataset an image_size to "
                                      f"resize to", record=f"example {e.index}")
        # default_collate stacks straight into shared memory inside a worker: one copy fewer on the way out.
        images = torch.utils.data.default_collate([e.image for e in kept])
    else:
        images = torch.empty(0, 3, 0, 0, dtype=torch.uint8)
    extras = {name: torch.utils.data.default_collate([e.extras[name] for e in kept]) if kept else torch.empty(0)
              for name in (examples[0].extras if examples else {})}
    return FaceBatch(images, torch.tensor([e.label for e in kept], dtype=torch.int64),
                     torch.tensor([e.index for e in kept], dtype=torch.int64), skipped, extras)


class EpochBatches(torch.utils.data.Sampler):
    """This rank's batches of one epoch as index lists (a DataLoader `batch_sampler`), in an order that is
    a function of (seed, epoch, rank) only; `set_epoch(epoch, start)` picks the epoch and the first batch."""

    def __init__(self, labels: torch.Tensor, *, batch_size: int, seed: int, rank: int = 0, world_size: int = 1,
                 sampling: Sampling = "uniform"):
        self.labels, self.batch_size, self.seed = labels, batch_size, seed
        self.rank, self.world_size, self.sampling = rank, world_size, sampling
        self.epoch, self.start = 0, 0

    def batches(self, epoch: int) -> list[torch.Tensor]:
        order = epoch_order(self.labels, seed=self.seed, epoch=epoch, sampling=self.sampling)
        return split_batches(order, batch_size=self.batch_size, rank=self.rank, world_size=self.world_size)

    @property
    def per_epoch(self) -> int:
        return self.labels.numel() // (self.batch_size * self.world_size)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def __len__(self) -> int:
        return self.per_epoch - self.start

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batches(self.epoch)[self.start:]:
            yield batch.tolist()


def face_loader(dataset: torch.utils.data.Dataset, batch_sampler: Sequence[Sequence[int]] | torch.utils.data.Sampler, *,
                workers: int = 2, pin_memory: bool = False, prefetch: int = 4,
                collate=collate_faces) -> torch.utils.data.DataLoader:
    """A DataLoader of `FaceBatch`es (or what `collate` makes) over `dataset`, batches as the sampler lists
    them, decoded by `workers` forked processes (0: in this process)."""
    return torch.utils.data.DataLoader(
        dataset, batch_sampler=batch_sampler, num_workers=workers, collate_fn=collate, pin_memory=pin_memory,
        prefetch_factor=prefetch if workers > 0 else None,
        multiprocessing_context="fork" if workers > 0 else None)


@contextlib.contextmanager
def loading(loader: Iterable) -> Iterator[Iterator]:
    """The loader's iterator, its worker processes shut down when the block ends, however it ends. (Left
    to reference counting, an iterator that an exception's traceback still reaches would keep them
    running until the garbage collector breaks the cycle.)"""
    iterator = iter(loader)
    try:
        yield iterator
    finally:
        shutdown = getattr(iterator, "_shutdown_workers", None)  # multiprocessing iterators only
        if shutdown is not None:
            shutdown()


def sequential_batches(num_examples: int, batch_size: int) -> list[list[int]]:
    """Examples in index order, `batch_size` at a time (the last batch may be short)."""
    return [list(range(start, min(start + batch_size, num_examples))) for start in range(0, num_examples, batch_size)]


@dataclasses.dataclass(frozen=True)
class DecodedImages:
    """A dataset decoded into memory (for CPU-scale training and evaluation)."""
    images: torch.Tensor  # (N, 3, H, W) uint8; zeros where an image was skipped
    decoded: torch.Tensor  # (N,) bool: False where an image was skipped
    skipped: tuple[SkippedImage, ...]


def decode_all(dataset: FaceImages, *, workers: int = 0, batch_size: int = 256) -> DecodedImages:
    """Every image of `dataset`, in index order, decoded by `workers` processes."""
    images: torch.Tensor | None = None
    decoded = torch.zeros(len(dataset), dtype=torch.bool)
    skipped: list[SkippedImage] = []
    with loading(face_loader(dataset, sequential_batches(len(dataset), batch_size), workers=workers)) as batches:
        for batch in batches:
            if images is None and len(batch.indices):
                images = torch.zeros(len(dataset), *batch.images.shape[1:], dtype=torch.uint8)
            if len(batch.indices):
                if batch.images.shape[1:] != images.shape[1:]:
                    first = int(batch.indices[0])
                    path, record = dataset.where(first)
                    raise DataFormatError(f"image is {batch.images.shape[2]}x{batch.images.shape[3]} but the dataset's first "
                                          f"is {images.shape[2]}x{images.shape[3]}; give an image_size to resize to",
                                          path=path, record=record)
                images[batch.indices] = batch.images
                decoded[batch.indices] = True
            skipped += batch.skipped
    if images is None:
        raise DataFormatError(f"none of the {len(dataset)} images decodes", path=dataset.where(0)[0])
    return DecodedImages(images, decoded, tuple(skipped))
