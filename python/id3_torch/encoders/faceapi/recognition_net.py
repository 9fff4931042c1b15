"""dlib's ResNet face descriptor (dlib_face_recognition_resnet_model_v1), as face-api ships it.

Architecture (face-api `src/faceRecognitionNet/`): 150×150 RGB, (pixels - mean) / 255 →
conv 7×7/2 'valid' (32) → max-pool 3/2 'valid' → 3 residual(32) → down(64) + 3 residual(64) →
down(128) + 2 residual(128) → down(256) + 2 residual(256) → down(256) → global mean → fc 256→128.
Each convolution is conv + bias, then an affine "scale" layer (dlib's affine_ replacing batch norm).
A down block runs its first conv 3×3/2 'valid'; its shortcut is a 2×2/2 average pool, zero-padded
in channels, and its main path is zero-padded by one row and column (bottom, right) when the pool
comes out larger. The package's output is the fc output, not normalised (dlib's distance
threshold 0.6 applies to it; it is close to unit length).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .layers import PixelNormalization, TfConv2d, check_all_used, take
from .weights import load_tfjs_weights

INPUT_SIZE = 150
MEAN_RGB = (122.782, 117.001, 104.298)
MANIFEST = "face_recognition_model"


class ScaledConv(nn.Module):
    """conv + bias, then x·weights + biases per channel (face-api convLayer + scaleLayer)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, *, stride: int, padding: str) -> None:
        super().__init__()
        self.conv = TfConv2d(in_channels, out_channels, kernel, stride=stride, padding=padding)
        self.scale = nn.Parameter(torch.ones(out_channels))
        self.shift = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) * self.scale.view(1, -1, 1, 1) + self.shift.view(1, -1, 1, 1)

    def load_tf(self, weights: dict[str, torch.Tensor], prefix: str) -> None:
        c_in, c_out, k = self.conv.conv.in_channels, self.conv.conv.out_channels, self.conv.kernel
        self.conv.load_tf(take(weights, f"{prefix}/conv/filters", (k, k, c_in, c_out)),
                          take(weights, f"{prefix}/conv/bias", (c_out,)))
        self.scale.copy_(take(weights, f"{prefix}/scale/weights", (c_out,)))
        self.shift.copy_(take(weights, f"{prefix}/scale/biases", (c_out,)))


class Residual(nn.Module):
    def __init__(self, in_channels: int, channels: int, *, down: bool) -> None:
        super().__init__()
        self.down = down
        self.conv1 = ScaledConv(in_channels, channels, 3, stride=2 if down else 1, padding="valid" if down else "same")
        self.conv2 = ScaledConv(channels, channels, 3, stride=1, padding="same")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.conv1(x)))
        shortcut = x
        if self.down:
            shortcut = F.avg_pool2d(x, 2, 2)
            # 'valid' 3×3/2 gives floor((n-3)/2)+1, the pool floor(n/2): one less for even n.
            out = F.pad(out, (0, shortcut.shape[-1] - out.shape[-1], 0, shortcut.shape[-2] - out.shape[-2]))
            shortcut = F.pad(shortcut, (0, 0, 0, 0, 0, out.shape[1] - shortcut.shape[1]))
        return F.relu(out + shortcut)

    def load_tf(self, weights: dict[str, torch.Tensor], prefix: str) -> None:
        self.conv1.load_tf(weights, f"{prefix}/conv1")
        self.conv2.load_tf(weights, f"{prefix}/conv2")


# (name in the manifest, in channels, out channels, down-sampling)
_BLOCKS = [
    ("conv32_1", 32, 32, False), ("conv32_2", 32, 32, False), ("conv32_3", 32, 32, False),
    ("conv64_down", 32, 64, True), ("conv64_1", 64, 64, False), ("conv64_2", 64, 64, False), ("conv64_3", 64, 64, False),
    ("conv128_down", 64, 128, True), ("conv128_1", 128, 128, False), ("conv128_2", 128, 128, False),
    ("conv256_down", 128, 256, True), ("conv256_1", 256, 256, False), ("conv256_2", 256, 256, False),
    ("conv256_down_out", 256, 256, True),
]


class FaceRecognitionNet(nn.Module):
    """(B, 3, 150, 150) RGB in [-1, 1] → (B, 128) dlib face descriptors (the package's values)."""

    def __init__(self) -> None:
        super().__init__()
        self.normalize = PixelNormalization(MEAN_RGB)
        self.stem = ScaledConv(3, 32, 7, stride=2, padding="valid")
        self.blocks = nn.ModuleDict({name: Residual(c_in, c_out, down=down) for name, c_in, c_out, down in _BLOCKS})
        self.fc = nn.Linear(256, 128, bias=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.stem(self.normalize(images))), 3, 2)
        for block in self.blocks.values():
            x = block(x)
        return self.fc(x.mean(dim=(2, 3)))

    @torch.no_grad()
    def load_tf(self, weights: dict[str, torch.Tensor]) -> "FaceRecognitionNet":
        weights = dict(weights)
        self.stem.load_tf(weights, "conv32_down")
        for name, block in self.blocks.items():
            block.load_tf(weights, name)
        self.fc.weight.copy_(take(weights, "fc", (256, 128)).t())
        check_all_used(weights, MANIFEST)
        return self


def load_face_recognition_net(folder=None) -> FaceRecognitionNet:
    return FaceRecognitionNet().load_tf(load_tfjs_weights(MANIFEST, folder)).eval()
