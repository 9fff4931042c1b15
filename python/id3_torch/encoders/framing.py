"""Face framings: where the eyes, nose and mouth go in an encoder's input, and the warps there.

- "arcface-112": insightface's 5-point template for 112×112 crops (arcface_torch, `utils/face_align.py`
  `arcface_dst`): eye centres, nose tip, mouth corners. Every insightface-aligned set (MS1MV2,
  CASIA-WebFace .rec files, LFW/CFP/AgeDB .bin files) is framed this way.
- "dlib-150": dlib's `get_face_chip_details(shape, 150, 0.25)`, the chips dlib's ResNet descriptor
  was trained on: its 5-point template (eye corners, nose base) on the unit square, padded by 0.25.

A framing's points come from the 68 iBUG landmarks (the package's landmark net); the warp is the
least-squares similarity (Umeyama 1991, as skimage's SimilarityTransform, which insightface uses)
taking them onto the template, applied with OpenCV (bilinear, black outside the photo, as
insightface's `norm_crop`).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch.nn import functional as F


@dataclass(frozen=True)
class Framing:
    name: str
    size: int
    template: np.ndarray  # (5, 2) pixel positions in the size×size crop

    def points_from_68(self, landmarks: np.ndarray) -> np.ndarray:
        """(68, 2) iBUG landmarks → this framing's (5, 2) points."""
        return np.stack([landmarks[list(group)].mean(axis=0) for group in _POINTS_FROM_68[self.name]])


ARCFACE_112 = Framing("arcface-112", 112, np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]))

_DLIB_PADDING = 0.25
_DLIB_UNIT = np.array([[0.8595674595992, 0.2134981538014], [0.6460604764104, 0.2289674387677],
                       [0.1205750620789, 0.2137274526848], [0.3340850613712, 0.2290642403242],
                       [0.4901123135679, 0.6277975316475]])
DLIB_150 = Framing("dlib-150", 150, (_DLIB_PADDING + _DLIB_UNIT) / (2 * _DLIB_PADDING + 1) * 150)

# iBUG-68 indices (0-based) behind each template point, in the template's order. ArcFace: the
# image-left eye's centre (36-41), the other eye's (42-47), nose tip 30, mouth corners 48, 54.
# dlib: the image-right eye's outer and inner corners 45, 42, the image-left eye's 36, 39, nose base 33.
_POINTS_FROM_68 = {
    "arcface-112": (range(36, 42), range(42, 48), (30,), (48,), (54,)),
    "dlib-150": ((45,), (42,), (36,), (39,), (33,)),
}
FRAMINGS = {f.name: f for f in (ARCFACE_112, DLIB_150)}


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2×3 similarity (rotation, uniform scale, translation) minimising Σ|M·source - target|²
    (Umeyama's closed form, no reflection)."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    mu_s, mu_t = source.mean(0), target.mean(0)
    s, t = source - mu_s, target - mu_t
    covariance = t.T @ s / len(source)
    u, d, vt = np.linalg.svd(covariance)
    sign = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(d) @ sign) / s.var(0).sum()
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = mu_t - scale * rotation @ mu_s
    return matrix


def warp_to_framing(image: torch.Tensor, landmarks: np.ndarray, framing: Framing) -> torch.Tensor:
    """(3, H, W) uint8 photo + its (68, 2) landmarks → (3, size, size) uint8 crop in `framing`."""
    matrix = similarity_transform(framing.points_from_68(landmarks), framing.template)
    pixels = np.ascontiguousarray(image.permute(1, 2, 0).numpy())
    crop = cv2.warpAffine(pixels, matrix, (framing.size, framing.size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return torch.from_numpy(crop).permute(2, 0, 1).contiguous()


def reframe(images: torch.Tensor, matrix: np.ndarray | torch.Tensor, source_size: int, size: int) -> torch.Tensor:
    """Differentiable warp of (B, C, S, S) images in one framing into another: `matrix` (2×3) maps
    source pixels to target pixels (size×size); bilinear, zeros outside, in the graph."""
    m = torch.as_tensor(matrix, dtype=torch.float64)
    inverse = torch.linalg.inv(torch.cat([m, torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)]))[:2]
    # Pixel centres at integer coordinates, as cv2.warpAffine; affine_grid (align_corners=False)
    # works in [-1, 1]: pixel p ↔ (2p + 1)/n - 1.
    to_unit = lambda n: torch.tensor([[2.0 / n, 0, 1.0 / n - 1], [0, 2.0 / n, 1.0 / n - 1], [0, 0, 1]], dtype=torch.float64)
    theta = (to_unit(source_size) @ torch.cat([inverse, torch.tensor([[0.0, 0, 1]], dtype=torch.float64)])
             @ torch.linalg.inv(to_unit(size)))[:2]
    grid = F.affine_grid(theta.to(images).expand(len(images), 2, 3), [len(images), images.shape[1], size, size],
                         align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
