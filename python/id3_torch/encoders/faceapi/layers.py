"""TensorFlow's layer conventions in PyTorch, so that the ports compute what the TFJS graphs compute.

- 'same' padding (tf.nn): total = max((ceil(n/s) - 1)·s + k - n, 0) per side pair, the smaller
  half before, the larger after (asymmetric for even sizes at stride 2, unlike PyTorch's padding);
  max-pooling pads with -inf (padding never wins), average pooling here is always 'valid'.
- Kernels: TF conv filters are (kh, kw, in, out), depthwise (kh, kw, in, multiplier), pointwise
  (1, 1, in, out); PyTorch wants (out, in/groups, kh, kw).
- Pixels: the package subtracts a per-channel mean from 0..255 RGB and divides by 255.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pad_same(x: torch.Tensor, kernel: int, stride: int, value: float = 0.0) -> torch.Tensor:
    top, bottom = same_padding(x.shape[-2], kernel, stride)
    left, right = same_padding(x.shape[-1], kernel, stride)
    if top == bottom == left == right == 0:
        return x
    return F.pad(x, (left, right, top, bottom), value=value)


def max_pool_same(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    return F.max_pool2d(pad_same(x, kernel, stride, value=float("-inf")), kernel, stride)


class TfConv2d(nn.Module):
    """tf.conv2d(x, filters, stride, padding) + bias."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, *, stride: int = 1,
                 padding: str = "same", bias: bool = True) -> None:
        super().__init__()
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride=stride, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.padding == "same":
            x = pad_same(x, self.kernel, self.stride)
        return self.conv(x)

    def load_tf(self, filters: torch.Tensor, bias: torch.Tensor | None = None) -> None:
        self.conv.weight.copy_(filters.permute(3, 2, 0, 1))
        if bias is not None:
            self.conv.bias.copy_(bias)


class TfSeparableConv2d(nn.Module):
    """tf.separableConv2d(x, depthwise, pointwise, stride, padding) + bias: a per-channel kxk
    convolution (no bias) followed by a 1x1 convolution with the bias."""

    def __init__(self, in_channels: int, out_channels: int, *, stride: int = 1, kernel: int = 3,
                 padding: str = "same") -> None:
        super().__init__()
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel, stride=stride, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.padding == "same":
            x = pad_same(x, self.kernel, self.stride)
        return self.pointwise(self.depthwise(x))

    def load_tf(self, depthwise: torch.Tensor, pointwise: torch.Tensor, bias: torch.Tensor) -> None:
        self.depthwise.weight.copy_(depthwise.permute(2, 3, 0, 1))  # (k, k, C, 1) -> (C, 1, k, k)
        self.pointwise.weight.copy_(pointwise.permute(3, 2, 0, 1))
        self.pointwise.bias.copy_(bias)


class TfDense(nn.Linear):
    """tf.matMul(x, weights) + bias, weights (in, out)."""

    def load_tf(self, weights: torch.Tensor, bias: torch.Tensor | None = None) -> None:
        self.weight.copy_(weights.t())
        if bias is not None:
            self.bias.copy_(bias)


class PixelNormalization(nn.Module):
    """[-1, 1] RGB (our image convention) → (255·RGB01 - mean) / 255, the package's input convention."""

    def __init__(self, mean_rgb: tuple[float, float, float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean_rgb).view(1, 3, 1, 1) / 255.0, persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (images + 1.0) * 0.5 - self.mean


def take(weights: dict[str, torch.Tensor], name: str, shape: tuple[int, ...] | None = None) -> torch.Tensor:
    """weights[name], checked: a missing or misshapen entry names the weight and what was expected."""
    if name not in weights:
        raise KeyError(f"face-api weights: no tensor {name!r} (found {len(weights)} tensors)")
    tensor = weights.pop(name)
    if shape is not None and tuple(tensor.shape) != shape:
        raise ValueError(f"face-api weights: {name} has shape {tuple(tensor.shape)}, expected {shape}")
    return tensor


def check_all_used(weights: dict[str, torch.Tensor], net: str) -> None:
    if weights:
        raise ValueError(f"face-api {net}: unused weights {sorted(weights)[:5]}: the port and the manifest disagree")


def resize_bilinear_tf(images: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """tf.image.resizeBilinear(x, [height, width], alignCorners=false, halfPixelCenters=false), as
    the package resizes its inputs: source = destination · (in / out), no antialiasing."""
    in_h, in_w = images.shape[-2:]
    if (in_h, in_w) == (height, width):
        return images

    def axis(n_in: int, n_out: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        source = torch.arange(n_out, dtype=torch.float64, device=images.device) * (n_in / n_out)
        low = source.floor().clamp(min=0)
        high = torch.minimum(source.ceil(), torch.tensor(n_in - 1.0, dtype=torch.float64, device=images.device))
        return low.long(), high.long(), (source - low).to(images.dtype)

    top, bottom, fy = axis(in_h, height)
    left, right, fx = axis(in_w, width)
    fx = fx.view(1, 1, 1, -1)
    rows_top = images[..., top, :]
    rows_bottom = images[..., bottom, :]
    upper = rows_top[..., left] + (rows_top[..., right] - rows_top[..., left]) * fx
    lower = rows_bottom[..., left] + (rows_bottom[..., right] - rows_bottom[..., left]) * fx
    return upper + (lower - upper) * fy.view(1, 1, -1, 1)


def pad_to_square(images: torch.Tensor, *, centered: bool) -> torch.Tensor:
    """face-api padToSquare: zeros after the shorter side (round(diff/2) after, the rest before
    when centred)."""
    height, width = images.shape[-2:]
    diff = abs(height - width)
    if diff == 0:
        return images
    after = int(math.floor(diff * 0.5 + 0.5)) if centered else diff  # JavaScript's Math.round
    before = diff - after
    return F.pad(images, (before, after, 0, 0) if width < height else (0, 0, before, after))
