"""face-api's 68-point landmark network (FaceLandmark68Net) on 112×112 faces.

Architecture (face-api `src/faceFeatureExtractor/`, `src/faceLandmarkNet/`): (pixels - mean) / 255
→ four dense blocks (32, 64, 128, 256 channels; each halves the side: its first conv has stride 2,
a plain conv in the first block, separable in the others) → 7×7/2 'valid' average pool → fc 256→136:
68 (x, y) pairs relative to the (square) input, in the iBUG-300W order.
A dense block: out1 = relu(conv0(x)); out2 = sep1(out1); out3 = sep2(relu(out1 + out2));
out4 = sep3(relu(out1 + out2 + out3)); result relu(out1 + out2 + out3 + out4).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .age_net import load_conv, load_separable
from .layers import PixelNormalization, TfConv2d, TfDense, TfSeparableConv2d, check_all_used, take
from .weights import load_tfjs_weights

INPUT_SIZE = 112
MEAN_RGB = (122.782, 117.001, 104.298)
MANIFEST = "face_landmark_68_model"


class DenseBlock(nn.Module):
    def __init__(self, in_channels: int, channels: int, *, first: bool) -> None:
        super().__init__()
        self.first = first
        self.conv0 = TfConv2d(in_channels, channels, 3, stride=2) if first else TfSeparableConv2d(in_channels, channels, stride=2)
        self.convs = nn.ModuleList(TfSeparableConv2d(channels, channels) for _ in range(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = F.relu(self.conv0(x))  # out1
        total = total + self.convs[0](total)  # out1 + out2: the second conv sees out1 unactivated
        for conv in self.convs[1:]:
            total = total + conv(F.relu(total))
        return F.relu(total)

    def load_tf(self, weights: dict[str, torch.Tensor], prefix: str) -> None:
        (load_conv if self.first else load_separable)(self.conv0, weights, f"{prefix}/conv0")
        for i, conv in enumerate(self.convs, start=1):
            load_separable(conv, weights, f"{prefix}/conv{i}")


class FaceLandmark68Net(nn.Module):
    """(B, 3, 112, 112) RGB in [-1, 1] → (B, 68, 2) landmarks (x, y) as fractions of the input side."""

    def __init__(self) -> None:
        super().__init__()
        self.normalize = PixelNormalization(MEAN_RGB)
        self.blocks = nn.ModuleList([DenseBlock(3, 32, first=True), DenseBlock(32, 64, first=False),
                                     DenseBlock(64, 128, first=False), DenseBlock(128, 256, first=False)])
        self.fc = TfDense(256, 136)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.normalize(images)
        for block in self.blocks:
            x = block(x)
        return self.fc(F.avg_pool2d(x, 7, 2).flatten(1)).view(-1, 68, 2)

    @torch.no_grad()
    def load_tf(self, weights: dict[str, torch.Tensor]) -> "FaceLandmark68Net":
        weights = dict(weights)
        for i, block in enumerate(self.blocks):
            block.load_tf(weights, f"dense{i}")
        self.fc.load_tf(take(weights, "fc/weights", (256, 136)), take(weights, "fc/bias", (136,)))
        check_all_used(weights, MANIFEST)
        return self


def load_landmark_net(folder=None) -> FaceLandmark68Net:
    return FaceLandmark68Net().load_tf(load_tfjs_weights(MANIFEST, folder)).eval()
