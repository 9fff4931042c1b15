"""A training that diverged stops with an error instead of finishing as if it had trained.

Checked once a step, on values the loop already brings to the host (the logged loss terms, the
gradient norm), before the optimiser applies the step: the weights and the last checkpoint stay
those of the last good step. [ours]
"""
from __future__ import annotations

import math

import torch


class Diverged(RuntimeError):
    """A non-finite loss or gradient, or weights grown past their bound."""


def check_step(stage: str, step: int, values: dict[str, float], *, advice: str) -> None:
    """Raise Diverged naming the first non-finite value of step `step` (1-based, as the progress counts)."""
    for name, value in values.items():
        if not math.isfinite(value):
            shown = ", ".join(f"{k} {v:.4g}" for k, v in values.items())
            raise Diverged(f"{stage} diverged at step {step}: the {name} is {value} ({shown}). "
                           f"Nothing of this step was applied and the last checkpoint is kept; {advice}")


def parameter_norm(module: torch.nn.Module) -> torch.Tensor:
    """‖θ‖₂ over every parameter of `module`, as a 0-d tensor (no host sync)."""
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm([p.detach() for p in module.parameters()])))
