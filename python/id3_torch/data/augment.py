"""Face-recognition training augmentations, applied to whole batches on the training device.

Workers only decode; the batch is augmented where it trains (on the GPU there), with every random
choice drawn from one generator seeded by hash(seed, rank, step). So a resumed run augments the
same images the same way, and the in-memory and streaming paths see identical batches.

The options are arcface_torch's (horizontal flip) and AdaFace's (Kim et al. 2022, each applied
with its own probability, 0.2 in their recipes):
- crop: torchvision RandomResizedCrop's box (area fraction in `crop_scale`, aspect ratio in
  [3/4, 4/3]) kept in place on a black canvas, so the face stays aligned where it is visible;
  a box larger than the image is clipped to it (torchvision retries instead);
- low resolution: resized by a side ratio r ~ U[low_resolution_scale] (r·H × r·W), and back (bilinear,
  antialiased; AdaFace picks an OpenCV interpolation at random);
- photometric: brightness, contrast, saturation factors ~ U[1 - s, 1 + s] (ColorJitter(s, s, s)),
  applied in that order (ColorJitter shuffles the order).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# ITU-R 601 luma, as torchvision's rgb_to_grayscale.
_LUMA = (0.2989, 0.587, 0.114)


@dataclass(frozen=True)
class AugmentOptions:
    """Mirrors the augmentation fields of the `trainFr` config section (src/config/train-fr.ts)."""
    flip: bool = True
    crop: float = 0.0  # probability
    crop_scale: tuple[float, float] = (0.2, 1.0)  # fraction of the image area kept
    low_resolution: float = 0.0  # probability
    low_resolution_scale: tuple[float, float] = (0.2, 1.0)  # side ratio
    photometric: float = 0.0  # probability
    photometric_strength: float = 0.5  # s of the factors U[1 - s, 1 + s]


def _chosen(probability: float, n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=generator) < probability


def _uniform(low: float, high: float, n: int, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)


def _grey(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1, H, W) luma."""
    r, g, b = images.unbind(1)
    return (_LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b)[:, None]


def crop_masks(n: int, height: int, width: int, scale: tuple[float, float], generator: torch.Generator,
               device: torch.device | str = "cpu") -> torch.Tensor:
    """(n, 1, H, W) bool on `device`: the kept box of each image (RandomResizedCrop's box, in place)."""
    area = _uniform(*scale, n, generator) * height * width
    ratio = torch.exp(_uniform(math.log(3 / 4), math.log(4 / 3), n, generator))  # w / h
    box_w = torch.sqrt(area * ratio).round().long().clamp(1, width)
    box_h = torch.sqrt(area / ratio).round().long().clamp(1, height)
    top = (torch.rand(n, generator=generator, dtype=torch.float64) * (height - box_h + 1)).long()
    left = (torch.rand(n, generator=generator, dtype=torch.float64) * (width - box_w + 1)).long()
    top, left, box_h, box_w = (v.to(device) for v in (top, left, box_h, box_w))
    rows, cols = torch.arange(height, device=device), torch.arange(width, device=device)
    inside_rows = (rows >= top[:, None]) & (rows < (top + box_h)[:, None])  # (n, H)
    inside_cols = (cols >= left[:, None]) & (cols < (left + box_w)[:, None])  # (n, W)
    return (inside_rows[:, :, None] & inside_cols[:, None, :])[:, None]


def _low_resolution(images: torch.Tensor, ratios: list[float]) -> torch.Tensor:
    """Each image resized by its side ratio and back to its size."""
    height, width = images.shape[-2:]
    out = []
    for image, ratio in zip(images, ratios):
        small_size = (max(1, int(ratio * height)), max(1, int(ratio * width)))
        small = F.interpolate(image[None], size=small_size, mode="bilinear", antialias=True, align_corners=False)
        out.append(F.interpolate(small, size=(height, width), mode="bilinear", align_corners=False)[0])
    return torch.stack(out).clamp(0, 1)


def _photometric(images: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """factors (B, 3): brightness, contrast, saturation, as torchvision's adjust_* functions."""
    brightness, contrast, saturation = (f.to(images)[:, None, None, None] for f in factors.unbind(1))
    images = (images * brightness).clamp(0, 1)
    mean = _grey(images).mean(dim=(1, 2, 3), keepdim=True)
    images = (mean + contrast * (images - mean)).clamp(0, 1)
    grey = _grey(images)
    return (grey + saturation * (images - grey)).clamp(0, 1)


def augment_batch(images: torch.Tensor, options: AugmentOptions, generator: torch.Generator) -> torch.Tensor:
    """(B, 3, H, W) float in [0, 1], on any device -> the same, augmented; random choices from `generator`.

    The flip mask is the generator's first draw, so a flip-only recipe mirrors exactly the images it
    did before the other options existed."""
    n, _, height, width = images.shape
    device = images.device
    if options.flip:
        images = torch.where(_chosen(0.5, n, generator).to(device)[:, None, None, None], images.flip(-1), images)
    if options.crop > 0:
        chosen = _chosen(options.crop, n, generator).to(device)[:, None, None, None]
        keep = crop_masks(n, height, width, options.crop_scale, generator, device) | ~chosen
        images = images * keep
    if options.low_resolution > 0:
        chosen = torch.flatten(torch.nonzero(_chosen(options.low_resolution, n, generator)))
        ratios = _uniform(*options.low_resolution_scale, len(chosen), generator)
        if len(chosen):
            images = images.clone()
            images[chosen.to(device)] = _low_resolution(images[chosen.to(device)], ratios.tolist())
    if options.photometric > 0:
        chosen = _chosen(options.photometric, n, generator)
        s = options.photometric_strength
        factors = _uniform(1 - s, 1 + s, 3 * n, generator).view(n, 3)
        factors[~chosen] = 1.0
        images = torch.where(chosen.to(device)[:, None, None, None], _photometric(images, factors), images)
    return images
