"""face-api's age and gender network: a tiny Xception on 112×112 faces, then two linear heads.

Architecture (face-api `src/xception/TinyXception.ts`, `src/ageGenderNet/AgeGenderNet.ts`):
(pixels - mean) / 255 → conv 3×3/2 + relu → reduction block (no input relu) → reduction block →
2 main blocks → reduction block → separable conv + relu (a 7×7 map at 112 px) → 7×7/2 'valid'
average pool → fc 512→1 (age in years) and fc 512→2 (softmax: male, female).
A reduction block: [relu] sepconv → relu → sepconv → max-pool 3×3/2 'same', plus a 1×1/2 conv
shortcut of its input. A main block: three (relu → sepconv), plus its input.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .layers import PixelNormalization, TfConv2d, TfDense, TfSeparableConv2d, check_all_used, max_pool_same, take
from .weights import load_tfjs_weights

INPUT_SIZE = 112
MEAN_RGB = (122.782, 117.001, 104.298)
MANIFEST = "age_gender_model"


def load_separable(conv: TfSeparableConv2d, weights: dict[str, torch.Tensor], prefix: str) -> None:
    c_in, c_out = conv.depthwise.in_channels, conv.pointwise.out_channels
    conv.load_tf(take(weights, f"{prefix}/depthwise_filter", (3, 3, c_in, 1)),
                 take(weights, f"{prefix}/pointwise_filter", (1, 1, c_in, c_out)),
                 take(weights, f"{prefix}/bias", (c_out,)))


def load_conv(conv: TfConv2d, weights: dict[str, torch.Tensor], prefix: str) -> None:
    c_in, c_out, k = conv.conv.in_channels, conv.conv.out_channels, conv.kernel
    conv.load_tf(take(weights, f"{prefix}/filters", (k, k, c_in, c_out)), take(weights, f"{prefix}/bias", (c_out,)))


class ReductionBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, *, activate_input: bool) -> None:
        super().__init__()
        self.activate_input = activate_input
        self.separable_conv0 = TfSeparableConv2d(in_channels, out_channels)
        self.separable_conv1 = TfSeparableConv2d(out_channels, out_channels)
        self.expansion_conv = TfConv2d(in_channels, out_channels, 1, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(x) if self.activate_input else x
        out = self.separable_conv1(F.relu(self.separable_conv0(out)))
        return max_pool_same(out, 3, 2) + self.expansion_conv(x)

    def load_tf(self, weights: dict[str, torch.Tensor], prefix: str) -> None:
        load_separable(self.separable_conv0, weights, f"{prefix}/separable_conv0")
        load_separable(self.separable_conv1, weights, f"{prefix}/separable_conv1")
        load_conv(self.expansion_conv, weights, f"{prefix}/expansion_conv")


class MainBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(TfSeparableConv2d(channels, channels) for _ in range(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for conv in self.convs:
            out = conv(F.relu(out))
        return out + x

    def load_tf(self, weights: dict[str, torch.Tensor], prefix: str) -> None:
        for i, conv in enumerate(self.convs):
            load_separable(conv, weights, f"{prefix}/separable_conv{i}")


class AgeGenderNet(nn.Module):
    """(B, 3, 112, 112) RGB in [-1, 1] → age (B,) in years, gender (B, 2) probabilities (male, female)."""

    def __init__(self, main_blocks: int = 2) -> None:
        super().__init__()
        self.normalize = PixelNormalization(MEAN_RGB)
        self.conv_in = TfConv2d(3, 32, 3, stride=2)
        self.entry0 = ReductionBlock(32, 64, activate_input=False)
        self.entry1 = ReductionBlock(64, 128, activate_input=True)
        self.middle = nn.ModuleList(MainBlock(128) for _ in range(main_blocks))
        self.exit = ReductionBlock(128, 256, activate_input=True)
        self.exit_conv = TfSeparableConv2d(256, 512)
        self.age = TfDense(512, 1)
        self.gender = TfDense(512, 2)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv_in(self.normalize(images)))
        x = self.entry1(self.entry0(x))
        for block in self.middle:
            x = block(x)
        x = F.relu(self.exit_conv(self.exit(x)))  # (B, 512, 7, 7) at 112 px
        return F.avg_pool2d(x, 7, 2).flatten(1)  # the package's 7×7/2 'valid' pool: (B, 512)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = self.features(images)
        return self.age(pooled).squeeze(1), torch.softmax(self.gender(pooled), dim=1)

    @torch.no_grad()
    def load_tf(self, weights: dict[str, torch.Tensor]) -> "AgeGenderNet":
        weights = dict(weights)
        load_conv(self.conv_in, weights, "entry_flow/conv_in")
        self.entry0.load_tf(weights, "entry_flow/reduction_block_0")
        self.entry1.load_tf(weights, "entry_flow/reduction_block_1")
        for i, block in enumerate(self.middle):
            block.load_tf(weights, f"middle_flow/main_block_{i}")
        self.exit.load_tf(weights, "exit_flow/reduction_block")
        load_separable(self.exit_conv, weights, "exit_flow/separable_conv")
        for head, name, width in ((self.age, "age", 1), (self.gender, "gender", 2)):
            head.load_tf(take(weights, f"fc/{name}/weights", (512, width)), take(weights, f"fc/{name}/bias", (width,)))
        check_all_used(weights, MANIFEST)
        return self


def load_age_gender_net(folder=None) -> AgeGenderNet:
    return AgeGenderNet().load_tf(load_tfjs_weights(MANIFEST, folder)).eval()
