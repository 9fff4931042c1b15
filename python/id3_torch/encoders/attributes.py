"""Face attributes s of docs/method.md: age (years) and head pose (yaw, pitch, roll in
degrees), predicted from face crops with the networks face-api ships.

- age: face-api's age/gender net on the crop resized to 112 (the gender output is not used);
- pose: face-api's 68-landmark net on the crop, then a PnP fit (pose.py). For a raw photo the
  landmarks found there (faces.py) give the pose before alignment, which would rotate roll away.
"""
from __future__ import annotations

import numpy as np
import torch

from .faceapi.age_net import INPUT_SIZE as AGE_INPUT, AgeGenderNet, load_age_gender_net
from .faceapi.landmark_net import INPUT_SIZE as LANDMARK_INPUT, FaceLandmark68Net, load_landmark_net
from .input import resize
from .pose import head_pose


class AttributePredictor:
    def __init__(self, age_net: AgeGenderNet, landmark_net: FaceLandmark68Net) -> None:
        self.age_net, self.landmark_net = age_net, landmark_net

    @classmethod
    def from_package(cls, *, device: torch.device | str = "cpu") -> "AttributePredictor":
        return cls(load_age_gender_net().to(device), load_landmark_net().to(device))

    @property
    def device(self) -> torch.device:
        return next(self.age_net.parameters()).device

    @torch.no_grad()
    def crop_landmarks(self, crops: torch.Tensor) -> np.ndarray:
        """(B, 3, S, S) uint8 square crops → (B, 68, 2) landmarks in crop pixels."""
        x = resize(crops.to(self.device).float() / 127.5 - 1.0, LANDMARK_INPUT)
        return self.landmark_net(x).double().cpu().numpy() * crops.shape[-1]

    @torch.no_grad()
    def age(self, crops: torch.Tensor) -> np.ndarray:
        x = resize(crops.to(self.device).float() / 127.5 - 1.0, AGE_INPUT)
        return self.age_net(x)[0].double().cpu().numpy()

    def __call__(self, crops: torch.Tensor, landmarks: list[np.ndarray | None] | None = None,
                 sizes: list[tuple[int, int]] | None = None) -> dict[str, np.ndarray]:
        """(B, 3, S, S) uint8 crops → {age, yaw, pitch, roll} arrays (B,). Pose comes from
        `landmarks[i]` in an image of `sizes[i]` (width, height) where given, else from the crop."""
        ages = self.age(crops)
        own = self.crop_landmarks(crops)
        poses = []
        for i in range(len(crops)):
            if landmarks is not None and landmarks[i] is not None:
                poses.append(head_pose(landmarks[i], *sizes[i]))
            else:
                poses.append(head_pose(own[i], crops.shape[-1], crops.shape[-2]))
        yaw, pitch, roll = (np.array(v, dtype=np.float64) for v in zip(*poses)) if poses else (np.zeros(0),) * 3
        return {"age": ages, "yaw": yaw, "pitch": pitch, "roll": roll}
