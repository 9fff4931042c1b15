"""Learning-rate schedules as plain functions of the step."""
from __future__ import annotations

from bisect import bisect_right


def step_decay(step: int, *, base_lr: float, steps_per_epoch: int, decay_epochs: list[int],
               factor: float = 0.1, warmup_epochs: float = 0.0) -> float:
    """lr = base · factor^(number of decay epochs passed), after a linear warm-up from 0.

    The recipe of the field (ArcFace, and the ID³ evaluation): lr 0.1 divided by 10 at set epochs.
    """
    epoch = step / steps_per_epoch
    warmup_steps = warmup_epochs * steps_per_epoch
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    return base_lr * factor ** bisect_right(decay_epochs, epoch)


def warmup_constant(step: int, *, base_lr: float, warmup_steps: int) -> float:
    """lr = base after a linear warm-up from 0 over `warmup_steps` (the diffusion peers' schedule)."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    return base_lr
