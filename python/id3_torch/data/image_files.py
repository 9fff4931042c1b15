"""Image-file helpers: atomic PNG writes and sample grids from uint8 image tensors."""

from __future__ import annotations

import os

import torch
from PIL import Image

from ..files import atomic_path


def _to_pil(image: torch.Tensor) -> Image.Image:
    """(3, H, W) uint8 tensor -> RGB PIL image."""
    if image.dtype != torch.uint8 or image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"expected a (3, H, W) uint8 tensor, got {tuple(image.shape)} {image.dtype}")
    return Image.fromarray(image.permute(1, 2, 0).contiguous().numpy(), mode="RGB")


def write_png_atomic(path: str | os.PathLike, image: torch.Tensor) -> None:
    """Write a (3, H, W) uint8 image as PNG so readers never see a half-written file.

    (`files.atomic_path`: a temporary name in the same folder, renamed when complete.)
    """
    pil = _to_pil(image)
    with atomic_path(path) as temporary:
        pil.save(temporary, format="PNG")


def image_grid(images: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """(N, 3, H, W) uint8 with N <= rows*cols -> (3, rows*H, cols*W), row-major; empty cells black."""
    n, channels, height, width = images.shape
    if n > rows * cols:
        raise ValueError(f"{n} images do not fit a {rows}x{cols} grid")
    cells = torch.zeros(rows * cols, channels, height, width, dtype=images.dtype)
    cells[:n] = images
    grid = cells.view(rows, cols, channels, height, width).permute(2, 0, 3, 1, 4)  # (3, rows, H, cols, W)
    return grid.reshape(channels, rows * height, cols * width)


def write_grid_png(path: str | os.PathLike, images: torch.Tensor, rows: int, cols: int) -> None:
    """Save (N, 3, H, W) uint8 images as one rows x cols sample-grid PNG, atomically."""
    write_png_atomic(path, image_grid(images, rows, cols))
