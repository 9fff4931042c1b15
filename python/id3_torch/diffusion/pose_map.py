"""The head-pose map [ours]: yaw, pitch and roll drawn as a picture that the U-Net reads beside x_t.

Inside c = MLP([y ; s]) the pose is 3 of 132 numbers, and a convolutional network has to learn from
them where a turned face's eyes, nose and mouth go. At CPU scale it never does: shuffling s changes
the trained proof model's x̂0 error by 0.0003 at t = 700 (shuffling y: 0.126), and its samples keep
one pose whatever yaw is asked (docs/diffusion.md, "Attributes"). The map states the pose where the
network works, per pixel: every pixel inside a head ellipse gets the point of the head it shows, in
the head's own frame,

    (h_x, h_y) = R(−roll) (p − centre) / halfAxes,   h_z = sqrt(1 − h_x² − h_y²)     (a visible unit sphere)
    (X, Y, Z) = R_pitch⁻¹ R_yaw⁻¹ (h_x, h_y, h_z)                                     (camera → head frame)

with x to the image's right, y up and z towards the camera; Z = 1 is the face's front, X its right
side as seen, Y its top. Pixels outside the ellipse are 0. + yaw turns the face towards the image's
right, + pitch up, + roll counter-clockwise: the attribute convention of data/attributes.py (the
parametric renderer's). The ellipse is the head's usual place in the dataset's framing, a config field.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..data.attributes import ATTRIBUTE_NAMES

POSE_MAP_CHANNELS = 3  # X, Y, Z
_YAW, _PITCH, _ROLL = (ATTRIBUTE_NAMES.index(n) for n in ("yaw", "pitch", "roll"))


@dataclass(frozen=True)
class PoseMapSpec:
    """Where the head sits in the frame, in image units ([-1, 1] across, y up)."""
    centre: tuple[float, float]
    half_axes: tuple[float, float]  # (half-width, half-height)

    def __post_init__(self) -> None:
        if not all(math.isfinite(v) for v in (*self.centre, *self.half_axes)) or min(self.half_axes) <= 0:
            raise ValueError(f"conditioning.poseMap: expected a finite centre and positive halfAxes, got {self}")

    def to_json(self) -> dict:
        return {"centre": list(self.centre), "halfAxes": list(self.half_axes)}

    @staticmethod
    def from_json(d: dict | None) -> "PoseMapSpec | None":
        return None if d is None else PoseMapSpec(tuple(d["centre"]), tuple(d["halfAxes"]))


def head_pose_map(s: torch.Tensor, resolution: int, spec: PoseMapSpec) -> torch.Tensor:
    """(B, 4) attributes (years, degrees) → (B, 3, R, R) head-frame coordinates (X, Y, Z), 0 off the head."""
    yaw, pitch, roll = (torch.deg2rad(s[:, k].float())[:, None, None] for k in (_YAW, _PITCH, _ROLL))
    centres = (torch.arange(resolution, device=s.device, dtype=torch.float32) + 0.5) * (2.0 / resolution) - 1.0
    x, y = centres[None, None, :], -centres[None, :, None]  # columns left → right; rows top → bottom, y up
    dx, dy = x - spec.centre[0], y - spec.centre[1]
    hx = (roll.cos() * dx + roll.sin() * dy) / spec.half_axes[0]  # (B, R, R)
    hy = (roll.cos() * dy - roll.sin() * dx) / spec.half_axes[1]
    r2 = hx * hx + hy * hy
    hz = (1.0 - r2).clamp(min=0.0).sqrt()
    # Undo the yaw (about y), then the pitch (about x).
    x1 = hx * yaw.cos() - hz * yaw.sin()
    z1 = hx * yaw.sin() + hz * yaw.cos()
    head = torch.stack([x1, hy * pitch.cos() - z1 * pitch.sin(), hy * pitch.sin() + z1 * pitch.cos()], dim=1)
    return head * (r2 < 1.0)[:, None].to(head.dtype)
