"""From the caller's images to a network's input, inside the graph (differentiable).

The caller hands (B, 3, S, S) RGB in [-1, 1], any S, in some framing; a network wants its own
side and framing. `NetworkInput` resizes (bilinear, antialiased when shrinking) when the framings
agree, else warps by the fixed similarity between them (`framing.conversion`), first shrinking
the images (antialiased) when the warp would shrink them; `bgr` flips the channel order for
networks trained on OpenCV's BGR (AdaFace).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .framing import FRAMINGS, conversion, reframe, rescaled


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", antialias=images.shape[-1] > size,
                         align_corners=False)


class NetworkInput(nn.Module):
    def __init__(self, size: int, *, framing: str | None = None, network_framing: str | None = None,
                 bgr: bool = False) -> None:
        """`framing`: the caller's; `network_framing`: the network's (None: no reframing, resize only)."""
        super().__init__()
        self.size, self.bgr = size, bgr
        self.source = FRAMINGS[framing] if framing is not None and framing != network_framing else None
        self.matrix = conversion(framing, network_framing) if self.source is not None else None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.source is None:
            x = resize(images, self.size)
        else:
            # Network pixels per nominal source pixel; shrink first so that the warp never shrinks.
            scale = math.sqrt(abs(np.linalg.det(self.matrix[:, :2])))
            side = min(images.shape[-1], math.ceil(scale * self.source.size))
            x = resize(images, side)
            x = reframe(x, rescaled(self.matrix, side, self.source.size), self.size)
        return x.flip(1) if self.bgr else x
