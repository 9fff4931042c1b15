"""face-api's face detector, SSD MobileNetV1 (its most accurate one), on 512×512 inputs.

Architecture (face-api `src/ssdMobilenetv1/`): the image is padded to a square (zeros bottom or
right), resized bilinearly to 512 and scaled to [-1, 1]; MobileNetV1 (conv 3×3/2, then 13 depthwise
+ pointwise pairs, stride 2 at pairs 2, 4, 6, 12; batch norm eps 1e-3 on the depthwise convs,
biases on the pointwise ones, relu6 everywhere) → 8 extra convs; box predictors on pair 11's
output (3 anchors a cell) and on the last output and every second extra conv (6 anchors a cell):
5118 anchors. Boxes decode against the shipped anchors (`Output/extra_dim`, [ymin, xmin, ymax,
xmax]) with scales 10 (centres) and 5 (sizes); the face score is sigmoid of the second class
logit. Greedy non-maximum suppression (IoU 0.5) keeps faces scoring above `min_confidence`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .layers import TfConv2d, check_all_used, pad_same, pad_to_square, resize_bilinear_tf, take
from .weights import load_tfjs_weights

INPUT_SIZE = 512
MANIFEST = "ssd_mobilenetv1_model"
BN_EPS = 0.0010000000474974513
_STRIDE2_PAIRS = (2, 4, 6, 12)
_MOBILENET_WIDTHS = (32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024)
# (out channels, kernel, stride) of Prediction/Conv2d_i_pointwise
_EXTRA = ((256, 1, 1), (512, 3, 2), (128, 1, 1), (256, 3, 2), (128, 1, 1), (256, 3, 2), (64, 1, 1), (128, 3, 2))
# Graph constants of the exported TF graph (shapes, slice bounds, the preprocessing scalars), not weights.
_GRAPH_CONSTANTS = ("Postprocessor/", "Preprocessor/", "concat", "Prediction/BoxPredictor_0/strided_slice")


@dataclass(frozen=True)
class FaceBox:
    """A detected face in image pixels: (x, y) its top-left corner."""

    score: float
    x: float
    y: float
    width: float
    height: float


class PointwiseConv(nn.Module):
    """conv (TF 'same') + offset, relu6: face-api's pointwiseConvLayer (any kernel, despite the name)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 1, stride: int = 1) -> None:
        super().__init__()
        self.conv = TfConv2d(in_channels, out_channels, kernel, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(self.conv(x))

    def load_tf(self, weights: dict[str, torch.Tensor], prefix: str) -> None:
        c_in, c_out, k = self.conv.conv.in_channels, self.conv.conv.out_channels, self.conv.kernel
        self.conv.load_tf(take(weights, f"{prefix}/weights", (k, k, c_in, c_out)),
                          take(weights, f"{prefix}/convolution_bn_offset", (c_out,)))


class DepthwiseConv(nn.Module):
    """depthwise 3×3 (TF 'same') + batch norm (moving statistics), relu6."""

    def __init__(self, channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(channels, channels, 3, stride=stride, groups=channels, bias=False)
        self.bn = nn.BatchNorm2d(channels, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(self.bn(self.conv(pad_same(x, 3, self.stride))))

    def load_tf(self, weights: dict[str, torch.Tensor], prefix: str) -> None:
        c = self.conv.in_channels
        self.conv.weight.copy_(take(weights, f"{prefix}/depthwise_weights", (3, 3, c, 1)).permute(2, 3, 0, 1))
        for name, target in (("gamma", self.bn.weight), ("beta", self.bn.bias),
                             ("moving_mean", self.bn.running_mean), ("moving_variance", self.bn.running_var)):
            target.copy_(take(weights, f"{prefix}/BatchNorm/{name}", (c,)))


class BoxPredictor(nn.Module):
    def __init__(self, channels: int, anchors: int) -> None:
        super().__init__()
        self.box = TfConv2d(channels, anchors * 4, 1)
        self.cls = TfConv2d(channels, anchors * 3, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch = x.shape[0]
        # The package reshapes NHWC outputs: cell-major, then anchor.
        return (self.box(x).permute(0, 2, 3, 1).reshape(batch, -1, 4),
                self.cls(x).permute(0, 2, 3, 1).reshape(batch, -1, 3))

    def load_tf(self, weights: dict[str, torch.Tensor], prefix: str) -> None:
        for conv, name in ((self.box, "BoxEncodingPredictor"), (self.cls, "ClassPredictor")):
            c_in, c_out = conv.conv.in_channels, conv.conv.out_channels
            conv.load_tf(take(weights, f"{prefix}/{name}/weights", (1, 1, c_in, c_out)),
                         take(weights, f"{prefix}/{name}/biases", (c_out,)))


class SsdMobilenetV1(nn.Module):
    """(B, 3, 512, 512) in [-1, 1] → boxes (B, 5118, 4) [ymin, xmin, ymax, xmax] relative, scores (B, 5118)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_0 = PointwiseConv(3, _MOBILENET_WIDTHS[0], 3, 2)
        self.depthwise = nn.ModuleList(
            DepthwiseConv(_MOBILENET_WIDTHS[i - 1], 2 if i in _STRIDE2_PAIRS else 1) for i in range(1, 14))
        self.pointwise = nn.ModuleList(PointwiseConv(_MOBILENET_WIDTHS[i - 1], _MOBILENET_WIDTHS[i]) for i in range(1, 14))
        extra_in = (1024,) + tuple(c for c, _, _ in _EXTRA[:-1])
        self.extra = nn.ModuleList(PointwiseConv(c_in, c, k, s) for c_in, (c, k, s) in zip(extra_in, _EXTRA))
        self.predictors = nn.ModuleList([BoxPredictor(512, 3), BoxPredictor(1024, 6)] +
                                        [BoxPredictor(_EXTRA[i][0], 6) for i in (1, 3, 5, 7)])
        self.register_buffer("anchors", torch.zeros(5118, 4))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.conv_0(x)
        for i, (depthwise, pointwise) in enumerate(zip(self.depthwise, self.pointwise), start=1):
            x = pointwise(depthwise(x))
            if i == 11:
                conv11 = x
        maps = [conv11, x]
        for i, conv in enumerate(self.extra):
            x = conv(x)
            if i % 2 == 1:
                maps.append(x)
        encodings, classes = zip(*(predictor(m) for predictor, m in zip(self.predictors, maps)))
        return self.decode(torch.cat(encodings, 1)), torch.sigmoid(torch.cat(classes, 1)[..., 1])

    def decode(self, encodings: torch.Tensor) -> torch.Tensor:
        size = self.anchors[:, 2:] - self.anchors[:, :2]  # (A, 2): height, width
        centre = self.anchors[:, :2] + size / 2
        half = torch.exp(encodings[..., 2:] / 5) * size / 2
        middle = encodings[..., :2] / 10 * size + centre
        return torch.cat([middle - half, middle + half], dim=-1)

    @torch.no_grad()
    def load_tf(self, weights: dict[str, torch.Tensor]) -> "SsdMobilenetV1":
        weights = {k: v for k, v in weights.items() if not (k.startswith(_GRAPH_CONSTANTS) or "/stack" in k)}
        self.conv_0.load_tf(weights, "MobilenetV1/Conv2d_0_pointwise")
        for i, (depthwise, pointwise) in enumerate(zip(self.depthwise, self.pointwise), start=1):
            depthwise.load_tf(weights, f"MobilenetV1/Conv2d_{i}_depthwise")
            pointwise.load_tf(weights, f"MobilenetV1/Conv2d_{i}_pointwise")
        for i, conv in enumerate(self.extra):
            conv.load_tf(weights, f"Prediction/Conv2d_{i}_pointwise")
        for i, predictor in enumerate(self.predictors):
            predictor.load_tf(weights, f"Prediction/BoxPredictor_{i}")
        self.anchors.copy_(take(weights, "Output/extra_dim", (1, 5118, 4))[0])
        check_all_used(weights, MANIFEST)
        return self


def _iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of box a (4,) with boxes b (K, 4), [ymin, xmin, ymax, xmax] (either corner order)."""
    a_lo, a_hi = torch.minimum(a[:2], a[2:]), torch.maximum(a[:2], a[2:])
    b_lo, b_hi = torch.minimum(b[:, :2], b[:, 2:]), torch.maximum(b[:, :2], b[:, 2:])
    area_a, area_b = (a_hi - a_lo).prod(), (b_hi - b_lo).prod(dim=1)
    inter = (torch.minimum(a_hi, b_hi) - torch.maximum(a_lo, b_lo)).clamp(min=0).prod(dim=1)
    iou = inter / (area_a + area_b - inter)
    return torch.where((area_a <= 0) | (area_b <= 0), torch.zeros_like(iou), iou)


def non_max_suppression(boxes: torch.Tensor, scores: torch.Tensor, *, iou_threshold: float = 0.5,
                        min_confidence: float = 0.5, max_results: int = 100) -> list[int]:
    """The package's greedy NMS: by falling score, keep a box unless it overlaps a kept one by > iou_threshold."""
    order = [int(i) for i in torch.argsort(scores, descending=True, stable=True) if scores[i] > min_confidence]
    kept: list[int] = []
    for index in order:
        if len(kept) >= max_results:
            break
        if not kept or bool((_iou(boxes[index], boxes[kept]) <= iou_threshold).all()):
            kept.append(index)
    return kept


class FaceDetector(nn.Module):
    """Whole photos → faces, as face-api's `detectAllFaces(image, SsdMobilenetv1Options)` finds them."""

    def __init__(self, net: SsdMobilenetV1, *, min_confidence: float = 0.5, max_results: int = 100) -> None:
        super().__init__()
        self.net, self.min_confidence, self.max_results = net, min_confidence, max_results

    @torch.no_grad()
    def forward(self, images: list[torch.Tensor]) -> list[list[FaceBox]]:
        """(3, H, W) uint8 RGB photos (any sizes) → each one's faces by falling score, in its pixels."""
        device = next(self.net.parameters()).device
        # One photo a pass on the CPU (measured: a batch of 8 took twice as long as 8 single passes,
        # the 512² activations outgrow the caches); the whole batch at once on a GPU.
        chunk = len(images) if device.type == "cuda" else 1
        faces = []
        for start in range(0, len(images), chunk):
            part = images[start:start + chunk]
            batch = torch.cat([resize_bilinear_tf(pad_to_square(image[None].float(), centered=False), INPUT_SIZE, INPUT_SIZE)
                               for image in part]) / 127.5 - 1.0  # (b, 3, 512, 512)
            boxes, scores = self.net(batch.to(device))
            faces += [self._faces(b.double().cpu(), s.double().cpu(), *image.shape[-2:]) for b, s, image in zip(boxes, scores, part)]
        return faces

    def _faces(self, boxes: torch.Tensor, scores: torch.Tensor, height: int, width: int) -> list[FaceBox]:
        kept = non_max_suppression(boxes, scores, min_confidence=self.min_confidence, max_results=self.max_results)
        # Relative to the padded square → relative to the image (the package's padX/padY), then pixels.
        scale = INPUT_SIZE / max(height, width)
        pad_y, pad_x = INPUT_SIZE / _js_round(height * scale), INPUT_SIZE / _js_round(width * scale)
        faces = []
        for i in kept:
            top, bottom = max(0.0, float(boxes[i, 0])) * pad_y, min(1.0, float(boxes[i, 2])) * pad_y
            left, right = max(0.0, float(boxes[i, 1])) * pad_x, min(1.0, float(boxes[i, 3])) * pad_x
            faces.append(FaceBox(float(scores[i]), left * width, top * height, (right - left) * width, (bottom - top) * height))
        return faces


def _js_round(value: float) -> int:
    return int(value + 0.5) if value >= 0 else -int(-value + 0.5)


def load_face_detector(folder=None, *, min_confidence: float = 0.5) -> FaceDetector:
    return FaceDetector(SsdMobilenetV1().load_tf(load_tfjs_weights(MANIFEST, folder)).eval(), min_confidence=min_confidence)
