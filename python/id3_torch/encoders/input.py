"""From the caller's images to a network's input, inside the graph (differentiable).

The caller hands (B, 3, S, S) RGB in [-1, 1], any S, in some framing; a network wants its own
size, framing and pixel convention. `NetworkInput` resizes (bilinear, antialiased when shrinking)
to the framing's side, or, when the caller's framing is not the network's, warps by the fixed
similarity between the two templates (`framing.reframe`); `bgr` flips the channel order for
networks trained on OpenCV's BGR (AdaFace).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .framing import reframe


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", antialias=images.shape[-1] > size,
                         align_corners=False)


class NetworkInput(nn.Module):
    def __init__(self, size: int, *, reframe_from: tuple[int, np.ndarray] | None = None, bgr: bool = False) -> None:
        """`reframe_from` = (side of the caller's framing, 2×3 matrix from its pixels to the network's)."""
        super().__init__()
        self.size, self.reframe_from, self.bgr = size, reframe_from, bgr

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.reframe_from is None:
            x = resize(images, self.size)
        else:
            side, matrix = self.reframe_from
            x = reframe(resize(images, side), matrix, side, self.size)
        return x.flip(1) if self.bgr else x

