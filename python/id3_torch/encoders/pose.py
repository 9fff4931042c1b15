"""Head pose (yaw, pitch, roll in degrees) from 68 landmarks: a PnP fit (OpenCV `solvePnP`) of a
generic 3-D face to six of them (nose tip 30, chin 8, outer eye corners 36 and 45, mouth corners
48 and 54), with a pinhole camera whose focal length is the image width, centred, no distortion.

Conventions (those of the parametric face set's ground truth): yaw > 0 turns the face towards image
right, pitch > 0 looks up, roll > 0 rotates the face counter-clockwise in the image. Camera axes:
x right, y down, z away from the camera; the rotation taking the model into the camera is
R = Rz(roll) · Ry(yaw) · Rx(pitch).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

POSE_LANDMARKS = (30, 8, 36, 45, 48, 54)
# The generic face (arbitrary units, camera axes, nose tip at the origin): the widely used model
# of six points (chin, eye corners and mouth corners behind the nose tip).
GENERIC_FACE = np.array([
    [0.0, 0.0, 0.0],         # nose tip
    [0.0, 330.0, 65.0],      # chin
    [-225.0, -170.0, 135.0], # outer corner of the image-left eye
    [225.0, -170.0, 135.0],  # outer corner of the image-right eye
    [-150.0, 150.0, 125.0],  # image-left mouth corner
    [150.0, 150.0, 125.0],   # image-right mouth corner
])


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    a, b, c = (math.radians(v) for v in (pitch, yaw, roll))
    rx = np.array([[1, 0, 0], [0, math.cos(a), math.sin(a)], [0, -math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, -math.sin(b)], [0, 1, 0], [math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(c), math.sin(c), 0], [-math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def euler_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """The inverse of `rotation_matrix`: (yaw, pitch, roll) in degrees."""
    yaw = math.asin(max(-1.0, min(1.0, rotation[2, 0])))
    pitch = math.atan2(-rotation[2, 1], rotation[2, 2])
    roll = math.atan2(-rotation[1, 0], rotation[0, 0])
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


def camera_matrix(width: int, height: int) -> np.ndarray:
    return np.array([[width, 0, width / 2], [0, width, height / 2], [0, 0, 1]], dtype=np.float64)


def head_pose(landmarks: np.ndarray, width: int, height: int) -> tuple[float, float, float]:
    """(68, 2) landmarks in an image of width × height pixels → (yaw, pitch, roll) in degrees.

    The fit starts from a frontal face at the distance its eye-corner span implies (nose tip at the
    landmark), so that Levenberg-Marquardt settles on the facing solution, not its mirror image
    behind the camera's view of the head (six points leave that ambiguity open)."""
    image_points = np.ascontiguousarray(landmarks[list(POSE_LANDMARKS)], dtype=np.float64)
    camera = camera_matrix(width, height)
    span = max(np.linalg.norm(image_points[3] - image_points[2]), 1e-6)
    depth = camera[0, 0] * np.linalg.norm(GENERIC_FACE[3] - GENERIC_FACE[2]) / span
    nose = (image_points[0] - camera[:2, 2]) * depth / camera[0, 0]
    rvec, tvec = np.zeros((3, 1)), np.array([[nose[0]], [nose[1]], [depth]])
    ok, rvec, _ = cv2.solvePnP(GENERIC_FACE, image_points, camera, np.zeros(4), rvec, tvec, useExtrinsicGuess=True,
                               flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        raise ValueError("head pose: solvePnP found no solution for these landmarks")
    rotation, _ = cv2.Rodrigues(rvec)
    return euler_angles(rotation)
