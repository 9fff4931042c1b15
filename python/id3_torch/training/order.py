"""The order in which a training run visits its examples: a function of (seed, epoch) only.

Because the order never depends on a generator's history, a run resumed mid-epoch finds the
same batches again by skipping the ones it had done, and every rank of a distributed run takes
its own slice of the same permutation. Two orders:
- uniform: a permutation of the examples (each one once an epoch);
- identity-balanced: as many draws as examples, each draw an identity chosen uniformly, then that
  identity's next image in a shuffled cycle through its images. Every identity is drawn about
  equally often whatever its image count, and an identity's images take turns.
"""
from __future__ import annotations

from typing import Literal

import torch

Sampling = Literal["uniform", "balanced"]


def _generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def epoch_permutation(num_examples: int, *, seed: int, epoch: int) -> torch.Tensor:
    return torch.randperm(num_examples, generator=_generator(seed, epoch))


def balanced_order(labels: torch.Tensor, *, seed: int, epoch: int) -> torch.Tensor:
    """(N,) example indices for one identity-balanced epoch of N draws (see the module docstring)."""
    labels = labels.long()
    n = labels.numel()
    generator = _generator(seed, epoch)
    classes, per_class = torch.unique(labels, return_counts=True)  # (K,), (K,)
    drawn = torch.randint(len(classes), (n,), generator=generator)  # (N,) class positions, uniform
    # Each class's images in a shuffled order: a random permutation, then a stable sort by class.
    shuffled = torch.randperm(n, generator=generator)
    class_position = torch.searchsorted(classes, labels)  # (N,) each example's class, as a position in classes
    by_class = shuffled[torch.argsort(class_position[shuffled], stable=True)]  # class-major, shuffled within
    first = torch.cumsum(per_class, 0) - per_class  # (K,) where each class starts in by_class
    # The r-th draw of class k takes its image r mod n_k: r counts the earlier draws of class k.
    draws_by_class = torch.argsort(drawn, stable=True)
    drawn_counts = torch.bincount(drawn, minlength=len(classes))
    occurrence = torch.empty(n, dtype=torch.long)
    occurrence[draws_by_class] = torch.arange(n) - torch.repeat_interleave(torch.cumsum(drawn_counts, 0) - drawn_counts,
                                                                           drawn_counts)
    return by_class[first[drawn] + occurrence % per_class[drawn]]


def epoch_order(labels: torch.Tensor, *, seed: int, epoch: int, sampling: Sampling = "uniform") -> torch.Tensor:
    """(N,) example indices in the order epoch `epoch` visits them."""
    if sampling == "uniform":
        return epoch_permutation(labels.numel(), seed=seed, epoch=epoch)
    if sampling == "balanced":
        return balanced_order(labels, seed=seed, epoch=epoch)
    raise ValueError(f"sampling must be 'uniform' or 'balanced', got {sampling!r}")


def split_batches(order: torch.Tensor, *, batch_size: int, rank: int = 0, world_size: int = 1) -> list[torch.Tensor]:
    """This rank's batches of an epoch's order. Every rank gets the same number of full batches (the
    tail that does not fill a global batch is dropped), so ranks never wait on each other."""
    global_batch = batch_size * world_size
    batches = order.numel() // global_batch
    if batches == 0:
        raise ValueError(f"{order.numel()} examples do not fill one global batch of {global_batch} "
                         f"(batch {batch_size} × {world_size} processes)")
    order = order[: batches * global_batch].view(batches, world_size, batch_size)  # (steps, ranks, B)
    return list(order[:, rank])


def rank_batches(num_examples: int, *, batch_size: int, seed: int, epoch: int, rank: int = 0,
                 world_size: int = 1) -> list[torch.Tensor]:
    """This rank's batches for one uniform epoch (`split_batches` of `epoch_permutation`)."""
    return split_batches(epoch_permutation(num_examples, seed=seed, epoch=epoch), batch_size=batch_size, rank=rank,
                         world_size=world_size)


def steps_per_epoch(num_examples: int, *, batch_size: int, world_size: int = 1) -> int:
    return num_examples // (batch_size * world_size)
