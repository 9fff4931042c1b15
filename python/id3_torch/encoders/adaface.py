"""AdaFace's IR-50 / IR-101 backbones (Kim et al., CVPR 2022), state-dict compatible with the
authors' `net.py` (github mk-minchul/AdaFace), so that their published checkpoints load strictly.

Not insightface's iResNet, although close: the stem has a stride-1 conv with no extra stage; each
block is BN → conv3×3 → BN → PReLU → conv3×3(stride) → BN (`res_layer.0..5`), its shortcut a
1×1 max-pool (identity, or stride-2 subsampling) when the widths agree, else conv1×1 + BN
(`shortcut_layer.0..1`); the head is BN2d → dropout → flatten → linear(512·7·7 → 512) → BN1d
without affine (`output_layer.0, 3, 4`). BatchNorm eps is PyTorch's default 1e-5.

Input convention (the authors' `inference.py`): BGR, (x/255 - 0.5)/0.5, 112×112 crops aligned to
the ArcFace template. The authors' forward returns (x/|x|, |x|); here `forward` returns x (the
IdentityEncoder normalises it, and |x| is the image-quality proxy AdaFace's margin uses).
"""
from __future__ import annotations

import torch
from torch import nn

# Blocks per stage (widths 64, 128, 256, 512; the first block of each stage has stride 2).
ADAFACE_LAYERS: dict[str, tuple[int, int, int, int]] = {
    "ir18": (2, 2, 2, 2),
    "ir34": (3, 4, 6, 3),
    "ir50": (3, 4, 14, 3),
    "ir101": (3, 13, 30, 3),
}
WIDTHS = (64, 128, 256, 512)


class BasicBlockIR(nn.Module):
    def __init__(self, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        if in_channels == channels:
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride, bias=False),
                                                nn.BatchNorm2d(channels))
        self.res_layer = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.Conv2d(in_channels, channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.PReLU(channels),
            nn.Conv2d(channels, channels, 3, stride, 1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_layer(x) + self.shortcut_layer(x)


class AdaFaceIR(nn.Module):
    """(B, 3, 112, 112) BGR in [-1, 1] → (B, 512) embeddings, not normalised."""

    def __init__(self, name: str = "ir50") -> None:
        super().__init__()
        if name not in ADAFACE_LAYERS:
            raise ValueError(f"adaface backbone: expected one of {', '.join(ADAFACE_LAYERS)}, got {name!r}")
        self.input_layer = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.PReLU(64))
        # Declared before the body, as the authors do, so that state dicts list keys in their order.
        self.output_layer = nn.Sequential(nn.BatchNorm2d(512), nn.Dropout(0.4), nn.Flatten(),
                                          nn.Linear(512 * 7 * 7, 512), nn.BatchNorm1d(512, affine=False))
        blocks, in_channels = [], 64
        for channels, count in zip(WIDTHS, ADAFACE_LAYERS[name]):
            for i in range(count):
                blocks.append(BasicBlockIR(in_channels, channels, 2 if i == 0 else 1))
                in_channels = channels
        self.body = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output_layer(self.body(self.input_layer(x)))
