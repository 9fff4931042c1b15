"""The order in which a training run visits its examples: a function of (seed, epoch) only.

Because the order never depends on a generator's history, a run resumed mid-epoch finds the
same batches again by skipping the ones it had done, and every rank of a distributed run takes
its own slice of the same permutation.
"""
from __future__ import annotations

import torch


def epoch_permutation(num_examples: int, *, seed: int, epoch: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(num_examples, generator=generator)


def rank_batches(num_examples: int, *, batch_size: int, seed: int, epoch: int, rank: int = 0,
                 world_size: int = 1) -> list[torch.Tensor]:
    """This rank's batches for one epoch. Every rank gets the same number of full batches (the
    tail that does not fill a global batch is dropped), so ranks never wait on each other."""
    order = epoch_permutation(num_examples, seed=seed, epoch=epoch)
    global_batch = batch_size * world_size
    batches = num_examples // global_batch
    if batches == 0:
        raise ValueError(f"{num_examples} examples do not fill one global batch of {global_batch} "
                         f"(batch {batch_size} × {world_size} processes)")
    order = order[: batches * global_batch].view(batches, world_size, batch_size)  # (steps, ranks, B)
    return list(order[:, rank])


def steps_per_epoch(num_examples: int, *, batch_size: int, world_size: int = 1) -> int:
    return num_examples // (batch_size * world_size)
