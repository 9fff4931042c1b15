"""Per-step random streams: a generator that is a function of (purpose, seed, rank, step) only.

A resumed run draws the same numbers at step n as an uninterrupted one, without saving any
generator's state, and no two (seed, rank, step) share a stream: the key is hashed (seed·c + step
would give seed s, step t + c the stream of seed s + 1, step t).
"""
from __future__ import annotations

import hashlib

import torch


def step_seed(purpose: str, *, seed: int, rank: int, step: int) -> int:
    digest = hashlib.blake2b(f"{purpose}/{seed}/{rank}/{step}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1  # 63 bits: a valid manual_seed


def step_generator(purpose: str, *, seed: int, rank: int, step: int) -> torch.Generator:
    """A CPU generator for this step (CPU, so that a run draws the same numbers on any device)."""
    return torch.Generator().manual_seed(step_seed(purpose, seed=seed, rank=rank, step=step))
