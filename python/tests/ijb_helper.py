"""A small IJB-style release folder (the layout evaluation/ijb.py reads) built from rendered faces: for the
IJB tests in Python and TypeScript."""
import os

import cv2
import numpy as np
import torch
from PIL import Image

from id3_torch.data import parametric
from id3_torch.encoders.framing import ARCFACE_112


def photo_of(face: np.ndarray, rng: np.random.Generator, *, landmark_noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A 112-px crop (H, W, 3) placed in a larger photo by a random similarity, and its five points there
    (with a detector's error of `landmark_noise` pixels, standard deviation)."""
    angle, scale = rng.uniform(-0.35, 0.35), rng.uniform(0.8, 1.4)
    side = int(rng.integers(150, 200))
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shift = side / 2 - rotation @ np.array([55.5, 55.5]) + rng.uniform(-10, 10, 2)
    matrix = np.hstack([rotation, shift[:, None]])  # crop → photo pixels
    photo = cv2.warpAffine(face, matrix, (side, side), flags=cv2.INTER_LINEAR, borderValue=(90, 120, 60))
    points = ARCFACE_112.template @ rotation.T + shift + rng.normal(0, landmark_noise, (5, 2))
    return photo, points


def write_ijb_folder(root: str, *, subjects: int = 8, templates_each: int = 3, seed: int = 0) -> None:
    """IJB-C layout under `root`: `templates_each` templates per person of 1-3 media, each media 1-3
    images, saved as JPEG with noisy landmarks and detector scores; every template pair labelled, in
    shuffled order."""
    os.makedirs(os.path.join(root, "loose_crop"))
    os.makedirs(os.path.join(root, "meta"))
    rng = np.random.default_rng(seed)
    points_lines, media_lines = [], []
    image, media_id = 0, 1000
    template_subject = {}
    for subject in range(subjects):
        for k in range(templates_each):
            template = 10 * subject + k + 1  # sparse ids, as the release's
            template_subject[template] = subject
            for _ in range(int(rng.integers(1, 4))):
                media_id += 1
                for _ in range(int(rng.integers(1, 4))):
                    faces, _ = parametric.render_images(3, torch.tensor([subject]), torch.tensor([image]), 112)
                    photo, points = photo_of(np.ascontiguousarray(faces[0].permute(1, 2, 0).numpy()), rng)
                    name = f"{image + 1}.jpg"
                    Image.fromarray(photo).save(os.path.join(root, "loose_crop", name), quality=90)
                    coordinates = " ".join(f"{v:.3f}" for v in points.reshape(-1))
                    points_lines.append(f"{name} {coordinates} {rng.uniform(0.4, 1.0):.6f}")
                    media_lines.append(f"{name} {template} {media_id}")
                    image += 1
    templates = sorted(template_subject)
    pairs = [(a, b, int(template_subject[a] == template_subject[b])) for i, a in enumerate(templates) for b in templates[i + 1:]]
    pairs = [pairs[i] for i in rng.permutation(len(pairs))]
    meta = lambda kind: os.path.join(root, "meta", f"ijbc_{kind}.txt")
    with open(meta("name_5pts_score"), "w") as f:
        f.write("\n".join(points_lines) + "\n")
    with open(meta("face_tid_mid"), "w") as f:
        f.write("\n".join(media_lines) + "\n")
    with open(meta("template_pair_label"), "w") as f:
        f.write("".join(f"{a} {b} {s}\n" for a, b, s in pairs))
