"""An exponential moving average of a model's weights: the weights ID³ samples with."""
from __future__ import annotations

import copy

import torch
from torch import nn


class EMA(nn.Module):
    """θ_ema ← d·θ_ema + (1 - d)·θ after each step, d = min(decay, (1 + n)/(10 + n)) after n updates.

    The warm-up (as in TensorFlow's ExponentialMovingAverage with num_updates) lets short runs
    average over what they trained instead of over the random initialisation. Buffers are copied.
    The shadow is a module of its own, so that a checkpoint saves it like the model.
    """

    def __init__(self, model: nn.Module, *, decay: float) -> None:
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"diffusion.training.emaDecay: expected a number in [0, 1), got {decay}")
        self.decay = decay
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)

    def rate(self, updates: int) -> float:
        return min(self.decay, (1.0 + updates) / (10.0 + updates))

    @torch.no_grad()
    def update(self, model: nn.Module, *, updates: int) -> None:
        """`updates`: how many updates came before this one (the training step, so resume is exact)."""
        d = self.rate(updates)
        ema_params = list(self.shadow.parameters())
        params = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(ema_params, params, 1.0 - d)
        for ema_buffer, buffer in zip(self.shadow.buffers(), model.buffers()):
            ema_buffer.copy_(buffer)
