"""iResNet face-recognition backbones, state-dict compatible with insightface's arcface_torch.

The layout (parameter names, shapes, eps, layer order) follows arcface_torch
`recognition/arcface_torch/backbones/iresnet.py`, so its published `backbone.pth` files load with
`load_state_dict(strict=True)` and embed identically. One class covers the published depths
(iresnet18/34/50/100, widths 64-128-256-512) and narrow variants for CPU-scale runs on small images:
widths, blocks per stage and input size are parameters, and the fc layer is sized from the input
(four stride-2 stages: the final feature map is input/16 a side, 7x7 at 112 px).

Input: RGB float (B, 3, R, R) scaled as (x/255 - 0.5)/0.5 (`normalize_face_images`).
Output: (B, embedding_size), NOT L2-normalised, as in arcface_torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

BN_EPS = 1e-5  # arcface_torch uses 1e-5 everywhere (the older mxnet-era models used 2e-5)
ARCFACE_WIDTHS = (64, 128, 256, 512)
ARCFACE_LAYERS: dict[str, tuple[int, int, int, int]] = {
    "iresnet18": (2, 2, 2, 2),
    "iresnet34": (3, 4, 6, 3),
    "iresnet50": (3, 4, 14, 3),
    "iresnet100": (3, 13, 30, 3),
}
SMALL_NAME = "iresnet-small"
SMALL_WIDTHS = (16, 32, 64, 128)
SMALL_LAYERS = (2, 2, 2, 2)
BACKBONE_NAMES = (*ARCFACE_LAYERS, SMALL_NAME)


def _conv3x3(in_channels: int, out_channels: int, *, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)


class IBasicBlock(nn.Module):
    """Improved residual block: BN-conv3x3-BN-PReLU-conv3x3(stride)-BN, plus the shortcut.

    Unlike a ResNet block there is no activation after the sum, and the stride sits on the second
    conv. The shortcut is a conv1x1(stride)+BN whenever the shape changes.
    """

    def __init__(self, in_channels: int, channels: int, *, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels, eps=BN_EPS)
        self.conv1 = _conv3x3(in_channels, channels)
        self.bn2 = nn.BatchNorm2d(channels, eps=BN_EPS)
        self.prelu = nn.PReLU(channels)
        self.conv2 = _conv3x3(channels, channels, stride=stride)
        self.bn3 = nn.BatchNorm2d(channels, eps=BN_EPS)
        self.downsample = (
            nn.Sequential(
                nn.Conv2d(in_channels, channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(channels, eps=BN_EPS),
            )
            if stride != 1 or in_channels != channels
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        shortcut = x if self.downsample is None else self.downsample(x)
        return residual + shortcut


def _stage(in_channels: int, channels: int, blocks: int) -> nn.Sequential:
    """`blocks` IBasicBlocks; the first halves the spatial size."""
    first = IBasicBlock(in_channels, channels, stride=2)
    rest = [IBasicBlock(channels, channels, stride=1) for _ in range(blocks - 1)]
    return nn.Sequential(first, *rest)


def final_feature_size(input_size: int) -> int:
    """Side of the last feature map: each of the 4 stages is a padded stride-2 conv, ceil(n/2)."""
    side = input_size
    for _ in range(4):
        side = (side + 1) // 2
    return side


class IResNet(nn.Module):
    """Stem conv3x3-BN-PReLU, four stages of IBasicBlocks, then BN-flatten-fc-BN1d (the embedding).

    arcface_torch also has a Dropout before the fc; it holds no state and every arcface_torch
    training config sets p=0, so it is left out.

    `features` is a BatchNorm1d whose scale is frozen at 1 (only its shift learns), as arcface_torch
    does. The fc and the embedding BN run in the fc's dtype even under autocast, as arcface_torch's
    fp16 mode does, so mixed precision only touches the convolutional trunk.
    """

    def __init__(
        self,
        widths: Sequence[int],
        layers: Sequence[int],
        *,
        input_size: int,
        embedding_size: int,
    ) -> None:
        super().__init__()
        if len(widths) != 4 or len(layers) != 4:
            raise ValueError(f"IResNet: widths and layers need 4 entries each, got {tuple(widths)} and {tuple(layers)}")
        if min(layers) < 1 or min(widths) < 1:
            raise ValueError(f"IResNet: widths and layers must be positive, got {tuple(widths)} and {tuple(layers)}")
        if input_size < 16:
            raise ValueError(f"IResNet: input_size must be at least 16 px, got {input_size}")
        self.input_size = input_size
        self.conv1 = _conv3x3(3, widths[0])
        self.bn1 = nn.BatchNorm2d(widths[0], eps=BN_EPS)
        self.prelu = nn.PReLU(widths[0])
        self.layer1 = _stage(widths[0], widths[0], layers[0])
        self.layer2 = _stage(widths[0], widths[1], layers[1])
        self.layer3 = _stage(widths[1], widths[2], layers[2])
        self.layer4 = _stage(widths[2], widths[3], layers[3])
        self.bn2 = nn.BatchNorm2d(widths[3], eps=BN_EPS)
        self.fc = nn.Linear(widths[3] * final_feature_size(input_size) ** 2, embedding_size)
        self.features = nn.BatchNorm1d(embedding_size, eps=BN_EPS)
        nn.init.constant_(self.features.weight, 1.0)
        self.features.weight.requires_grad = False
        # arcface_torch's init: N(0, 0.1) convs, unit BNs; fc and PReLU keep PyTorch's defaults.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, 0.0, 0.1)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.constant_(module.weight, 1.0)
                nn.init.constant_(module.bias, 0.0)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1:] != (3, self.input_size, self.input_size):
            raise ValueError(
                f"IResNet: expected images of shape (B, 3, {self.input_size}, {self.input_size}), "
                f"got {tuple(images.shape)}"
            )
        x = self.prelu(self.bn1(self.conv1(images)))  # (B, w0, R, R)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # (B, w3, R/16, R/16)
        x = torch.flatten(self.bn2(x), 1)  # (B, w3 * (R/16)^2)
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self.features(self.fc(x.to(self.fc.weight.dtype)))  # (B, E)


def build_backbone(
    name: str,
    *,
    input_size: int = 112,
    embedding_size: int = 512,
    widths: Sequence[int] | None = None,
    layers: Sequence[int] | None = None,
) -> IResNet:
    """An iResNet by name: "iresnet18/34/50/100" (arcface_torch layouts) or "iresnet-small".

    The published depths have fixed widths and blocks; "iresnet-small" defaults to widths
    (16, 32, 64, 128) and blocks (2, 2, 2, 2), both overridable.
    """
    if name in ARCFACE_LAYERS:
        if widths is not None or layers is not None:
            raise ValueError(
                f"build_backbone: {name!r} has fixed widths and layers; use {SMALL_NAME!r} to choose them"
            )
        widths, layers = ARCFACE_WIDTHS, ARCFACE_LAYERS[name]
    elif name == SMALL_NAME:
        widths = SMALL_WIDTHS if widths is None else tuple(widths)
        layers = SMALL_LAYERS if layers is None else tuple(layers)
    else:
        raise ValueError(f"build_backbone: unknown backbone {name!r}, expected one of {BACKBONE_NAMES}")
    return IResNet(widths, layers, input_size=input_size, embedding_size=embedding_size)


def normalize_face_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 RGB (B, 3, R, R) -> float32 in [-1, 1]: (x/255 - 0.5)/0.5, arcface_torch's input scaling."""
    if images.dtype != torch.uint8:
        raise ValueError(f"normalize_face_images: expected uint8 images, got {images.dtype}")
    return (images.float() / 255.0 - 0.5) / 0.5
