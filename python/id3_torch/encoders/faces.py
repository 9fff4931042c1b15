"""Faces in raw photos: detection (face-api's SSD MobileNetV1) and 68 landmarks (its landmark net),
as the package's `detectAllFaces(image).withFaceLandmarks()` computes them.

The landmark net sees the detection box cut from the photo (clipped to the photo, corners floored),
zero-padded to a square around its centre and resized bilinearly to 112 (TF's rule); its relative
outputs are mapped back through that padding into photo pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .faceapi.detector import FaceBox, FaceDetector, load_face_detector
from .faceapi.landmark_net import INPUT_SIZE as LANDMARK_INPUT, FaceLandmark68Net, load_landmark_net
from .faceapi.layers import pad_to_square, resize_bilinear_tf


@dataclass(frozen=True)
class FoundFace:
    box: FaceBox
    landmarks: np.ndarray  # (68, 2) photo pixels (x, y), iBUG order


def landmark_input(crop: torch.Tensor) -> torch.Tensor:
    """(3, h, w) uint8 → (1, 3, 112, 112) float in [-1, 1], framed as the package frames it."""
    square = pad_to_square(crop[None].float(), centered=True)
    return resize_bilinear_tf(square, LANDMARK_INPUT, LANDMARK_INPUT) / 127.5 - 1.0


def landmarks_in_crop(relative: torch.Tensor, height: int, width: int) -> np.ndarray:
    """The package's postProcess: (68, 2) outputs relative to the padded square → crop pixels."""
    side = max(height, width)
    pad = np.array([(side - width) / 2, (side - height) / 2])
    return (relative.double().cpu().numpy() * side - pad)


class FaceFinder:
    """Photo → faces with landmarks, best first. (The package shifts the landmarks by the unclipped
    detection corner; here they are shifted by the crop's own corner, which is where they are.)"""

    def __init__(self, detector: FaceDetector, landmark_net: FaceLandmark68Net) -> None:
        self.detector, self.landmark_net = detector, landmark_net

    @classmethod
    def from_package(cls, *, min_confidence: float = 0.5, device: torch.device | str = "cpu") -> "FaceFinder":
        detector = load_face_detector(min_confidence=min_confidence).to(device)
        return cls(detector, load_landmark_net().to(device))

    @staticmethod
    def crop_box(image: torch.Tensor, box: FaceBox) -> tuple[torch.Tensor, int, int]:
        """The package's Box.clipAtImageBorders, then floor of corner and size → (crop, left, top)."""
        height, width = image.shape[-2:]
        x, y = max(box.x, 0.0), max(box.y, 0.0)
        crop_width = int(np.floor(min(box.x + box.width - x, width - x)))
        crop_height = int(np.floor(min(box.y + box.height - y, height - y)))
        left, top = int(np.floor(x)), int(np.floor(y))
        return image[:, top:top + crop_height, left:left + crop_width], left, top

    @torch.no_grad()
    def __call__(self, images: list[torch.Tensor]) -> list[list[FoundFace]]:
        """(3, H, W) uint8 RGB photos → each one's faces (possibly none), by falling detection score."""
        detections = self.detector(images)
        crops = [(self.crop_box(image, box), box, n) for n, (image, boxes) in enumerate(zip(images, detections)) for box in boxes]
        found: list[list[FoundFace]] = [[] for _ in images]
        if crops:
            device = next(self.landmark_net.parameters()).device
            relative = self.landmark_net(torch.cat([landmark_input(crop) for (crop, _, _), _, _ in crops]).to(device))
            for ((crop, left, top), box, n), points in zip(crops, relative):
                landmarks = landmarks_in_crop(points, crop.shape[1], crop.shape[2]) + np.array([left, top])
                found[n].append(FoundFace(box, landmarks))
        return found
