"""The Inception-v3 feature extractor of FID, our own implementation, loading the weights that
pytorch-fid uses (`pt_inception-2015-12-05-6726825d.pth`, TensorFlow's 2015-12-05 Inception ported
to PyTorch). The user supplies that file; nothing is downloaded here.

The network is torchvision's inception_v3 (stem, Mixed_5b…Mixed_7c) with pytorch-fid's patches,
which make it compute what TensorFlow's FID graph computes:
- the 3×3 average pools of the A, C and first E blocks (Mixed_5b-d, 6b-e, 7b) average over the
  pixels inside the image only (count_include_pad=False), as TensorFlow's pooling does;
- the last E block (Mixed_7c) max-pools in its pool branch, where the paper average-pools: the
  published graph does so, and FID is defined by that graph.
Every convolution is BasicConv2d: a convolution without bias, BatchNorm (eps 0.001), ReLU.

Images: uint8 (N, 3, H, W) → x / 255 in [0, 1] → bilinear resize to 299 × 299 (align_corners=False)
→ 2x − 1 in [−1, 1] → the network → the 2048-d output of the final adaptive average pool ("pool3").

Parameter and buffer names are torchvision's (Conv2d_1a_3x3.conv.weight, Mixed_5b.branch1x1.bn.running_mean,
…), the keys of pytorch-fid's file. The file also holds the 1008-class logits layer (fc.weight, fc.bias)
that FID does not read: exactly those two keys are ignored, any other mismatch is refused.
"""
from __future__ import annotations

import os
import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

INPUT_SIZE = 299
FEATURES = 2048
WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
# The logits layer the file holds beside the network: FID reads the pool before it.
IGNORED_KEYS = frozenset({"fc.weight", "fc.bias"})


# The three pools that differ between the FID graph and torchvision's network, one place each (the
# tests swap them for the wrong ones to show that a change is seen).

def _tf_average_pool(x: torch.Tensor) -> torch.Tensor:
    """3×3 stride-1 average over the pixels inside the image: a border pixel averages 6 (a corner 4)
    values, not 9 with zeros, as TensorFlow pools."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


def _last_block_pool(x: torch.Tensor) -> torch.Tensor:
    """Mixed_7c's pool branch: a 3×3 stride-1 max pool in the FID graph."""
    return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


def _to_network_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, H, W) → float (N, 3, 299, 299) in [−1, 1]: x/255, bilinear resize, 2x − 1."""
    x = images.float() / 255.0
    x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
    return 2.0 * x - 1.0


class BasicConv2d(nn.Module):
    """ReLU(BN(conv(x))), the conv without bias, BN with TensorFlow's eps 0.001."""

    def __init__(self, in_channels: int, out_channels: int, **conv: object) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **conv)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class InceptionA(nn.Module):
    """Mixed_5b-d (35×35): 1×1 | 1×1→5×5 | 1×1→3×3→3×3 | TF avg pool→1×1."""

    def __init__(self, in_channels: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_tf_average_pool(x)),
        ], 1)


class InceptionB(nn.Module):
    """Mixed_6a (35→17): 3×3/2 | 1×1→3×3→3×3/2 | max pool/2."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, kernel_size=3, stride=2),
        ], 1)


class InceptionC(nn.Module):
    """Mixed_6b-e (17×17): 1×1 | 1×1→1×7→7×1 | 1×1→7×1→1×7→7×1→1×7 | TF avg pool→1×1."""

    def __init__(self, in_channels: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seven = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        double = self.branch7x7dbl_1(x)
        for conv in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            double = conv(double)
        return torch.cat([self.branch1x1(x), seven, double, self.branch_pool(_tf_average_pool(x))], 1)


class InceptionD(nn.Module):
    """Mixed_7a (17→8): 1×1→3×3/2 | 1×1→1×7→7×1→3×3/2 | max pool/2."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch3x3_2(self.branch3x3_1(x)),
            self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x)))),
            F.max_pool2d(x, kernel_size=3, stride=2),
        ], 1)


class InceptionE(nn.Module):
    """Mixed_7b, 7c (8×8): 1×1 | 1×1→(1×3, 3×1) | 1×1→3×3→(1×3, 3×1) | pool→1×1, where the pool is
    TensorFlow's average in Mixed_7b (`last=False`) and the max in Mixed_7c (`last=True`)."""

    def __init__(self, in_channels: int, *, last: bool) -> None:
        super().__init__()
        self.last = last
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        three = self.branch3x3_1(x)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = _last_block_pool(x) if self.last else _tf_average_pool(x)
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(three), self.branch3x3_2b(three),
            self.branch3x3dbl_3a(double), self.branch3x3dbl_3b(double),
            self.branch_pool(pooled),
        ], 1)


class FIDInceptionV3(nn.Module):
    """uint8 images (N, 3, H, W) → (N, 2048) float32 pool3 features (see the module's docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)    # 299 → 149
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)             # → 147
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)  # → 147, max pool → 73
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)            # → 71, max pool → 35
        self.Mixed_5b = InceptionA(192, pool_features=32)                   # 256 channels
        self.Mixed_5c = InceptionA(256, pool_features=64)                   # 288
        self.Mixed_5d = InceptionA(288, pool_features=64)                   # 288
        self.Mixed_6a = InceptionB(288)                                     # 768 at 17×17
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)                                     # 1280 at 8×8
        self.Mixed_7b = InceptionE(1280, last=False)                        # 2048
        self.Mixed_7c = InceptionE(2048, last=True)                         # 2048

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"FID Inception: expected uint8 images (N, 3, H, W), got {images.dtype} {tuple(images.shape)}")
        x = _to_network_input(images)
        x = F.max_pool2d(self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x))), kernel_size=3, stride=2)
        x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), kernel_size=3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        return F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)  # (N, 2048): pool3


def _unpickler_reason(error: pickle.UnpicklingError) -> str:
    """The line of torch.load's weights-only message that says what it met ("Unsupported operand 110" for
    a text file, "Unsupported global: ..." for a pickled object), not its advice to load unsafely."""
    message = str(error)
    found = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", message)
    reason = found.group(1) if found else next((line.strip() for line in message.splitlines() if line.strip()), "unreadable")
    return reason.split(". ")[0][:300]


def _read_state_dict(path: Path) -> Mapping[str, torch.Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (the FID Inception weights: pytorch-fid's {WEIGHTS_FILE}, "
                                "which you supply; id3 never downloads it)")
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as error:
        raise ValueError(f"{path}: not a PyTorch file of tensors that the weights-only loader reads "
                         f"({_unpickler_reason(error)}); expected pytorch-fid's {WEIGHTS_FILE}, a state dict") from error
    except (RuntimeError, EOFError, OSError) as error:
        raise ValueError(f"{path}: not a PyTorch file ({str(error).splitlines()[0][:300]}); expected pytorch-fid's "
                         f"{WEIGHTS_FILE}, a state dict") from error
    if not isinstance(state, Mapping) or not state or \
            not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise ValueError(f"{path}: expected a state dict (names → tensors) like pytorch-fid's {WEIGHTS_FILE}, "
                         f"got {type(state).__name__}")
    return state


def _listed(keys: list[str], limit: int = 10) -> str:
    shown = ", ".join(keys[:limit])
    return f"{shown} and {len(keys) - limit} more" if len(keys) > limit else shown


def load_fid_inception(path: str | os.PathLike, *, device: torch.device | str = "cpu") -> FIDInceptionV3:
    """The FID Inception with the weights of `path` (pytorch-fid's file layout), in eval mode, frozen.

    Refused, naming the file and the keys: a key the network has that the file lacks, a key the file
    has that the network lacks (but fc.weight and fc.bias, the unused logits), a shape that differs.
    BatchNorm's num_batches_tracked counters may be absent (files saved before PyTorch 0.4.1 have
    none, and load_state_dict itself accepts such files): eval-mode BatchNorm never reads them.
    """
    path = Path(path)
    state = _read_state_dict(path)
    model = FIDInceptionV3()
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith(".num_batches_tracked")]
    unexpected = [k for k in state if k not in expected and k not in IGNORED_KEYS]
    if missing or unexpected:
        problems = ([f"missing keys: {_listed(missing)}"] if missing else []) + \
                   ([f"unexpected keys: {_listed(unexpected)}"] if unexpected else [])
        raise ValueError(f"{path}: not pytorch-fid's FID Inception state dict ({WEIGHTS_FILE}): {'; '.join(problems)}")
    wrong = [f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})" for k, v in expected.items()
             if k in state and state[k].shape != v.shape]
    if wrong:
        raise ValueError(f"{path}: not pytorch-fid's FID Inception state dict ({WEIGHTS_FILE}): shapes differ: {_listed(wrong)}")
    model.load_state_dict({k: v for k, v in state.items() if k in expected}, strict=False)
    return model.eval().requires_grad_(False).to(device)


@torch.no_grad()
def inception_features(model: FIDInceptionV3, images: torch.Tensor, *, batch_size: int = 50,
                       device: torch.device | str | None = None) -> torch.Tensor:
    """uint8 (N, 3, H, W) images → (N, 2048) float32 pool3 features on the CPU, `batch_size` at a time
    (pytorch-fid's default 50: at 299 px a batch's activations, not the weights, take the memory)."""
    device = device if device is not None else next(model.parameters()).device
    rows = [model(images[start:start + batch_size].to(device)).cpu() for start in range(0, len(images), batch_size)]
    return torch.cat(rows) if rows else torch.zeros(0, FEATURES)
