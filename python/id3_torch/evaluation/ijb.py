"""IJB-B / IJB-C 1:1 template verification, the protocol papers report (insightface's `eval_ijbc`).

The folder is insightface's IJB release as distributed (IJB_release/IJBB or IJB_release/IJBC):

    loose_crop/<name>                      the face photos, loosely cropped
    meta/<p>_name_5pts_score.txt           "<name> x1 y1 ... x5 y5 <detector score>", one line per image
    meta/<p>_face_tid_mid.txt              "<name> <template id> <media id>", the same images in the same order
    meta/<p>_template_pair_label.txt       "<template id> <template id> <1 same | 0 different>"

with <p> = ijbb or ijbc. The protocol, step by step:

1. Each photo is warped onto ArcFace's 112×112 five-point template by the least-squares similarity
   from its five landmarks (bilinear, black outside), read as OpenCV reads it (BGR) and turned RGB.
2. Image feature: the network's raw embedding of the crop plus that of its mirror image (flip-sum).
   Insightface's default keeps that feature's norm ("norm score", N1) and multiplies it by the
   detector's score ("detector score", D1): a blurred or doubtful face weighs less in its template.
   Either can be switched off (the image features are then L2-normalised, resp. unweighted).
3. Media pooling: a template's images from the same media (frames of one video) are averaged;
   template feature: the sum of its media features, L2-normalised.
4. A pair's score: the cosine of its two template features.
5. ROC as scikit-learn's `roc_curve` draws it (one point per distinct score, collinear points
   dropped, (0, 0) first); TAR at a FAR target is the TPR of the ROC point whose FPR is nearest the
   target, the highest such TPR on ties. Nearest, not "at most": at FAR 1e-6 on IJB-C's 15.3M
   different pairs the point may admit a few more than 15 impostors; `far` records the FPR used.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np
import torch

from ..encoders.base import IdentityEncoder
from ..encoders.framing import ARCFACE_112, similarity_transform

FAR_TARGETS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)  # the columns papers print
PREFIXES = ("ijbb", "ijbc")
# ArcFace's template as eval_ijbc builds it: the 96-px template in float32, then shifted 8 px. Its rounding
# (7.6e-6 px from ARCFACE_112's) changes a pixel of the crop by one level in about 40 % of photos.
PROTOCOL_TEMPLATE = (ARCFACE_112.template - [8.0, 0.0]).astype(np.float32) + np.float32([8.0, 0.0])
PROTOCOL = "IJB 1:1 templates: 5-point ArcFace crops, flip-sum, media mean, template sum, cosine"


@dataclass(frozen=True)
class IjbFolder:
    """An IJB release folder, read as distributed (no image is opened here)."""

    root: str
    prefix: str  # "ijbb" | "ijbc"
    names: list[str]  # (N,) image file names under loose_crop/
    landmarks: np.ndarray  # (N, 5, 2) float32 photo pixels: eyes, nose tip, mouth corners (image left first)
    detector_scores: np.ndarray  # (N,) float32
    templates: np.ndarray  # (N,) int64 template of each image
    media: np.ndarray  # (N,) int64 media (photo or video) of each image
    t1: np.ndarray  # (P,) int64 first template of each pair
    t2: np.ndarray  # (P,) int64 second template
    same: np.ndarray  # (P,) bool

    def meta(self, kind: str) -> str:
        return os.path.join(self.root, "meta", f"{self.prefix}_{kind}.txt")

    def image_path(self, i: int) -> str:
        return os.path.join(self.root, "loose_crop", self.names[i])


def ijb_prefix(root: str) -> str:
    """ijbb or ijbc, from which template-pair file the folder's meta/ holds."""
    found = [p for p in PREFIXES if os.path.isfile(os.path.join(root, "meta", f"{p}_template_pair_label.txt"))]
    if len(found) != 1:
        listed = sorted(os.path.basename(f) for f in glob.glob(os.path.join(root, "meta", "*")))
        raise ValueError(f"{root}: expected an IJB-B or IJB-C release folder with meta/ijbb_template_pair_label.txt or "
                         f"meta/ijbc_template_pair_label.txt, found {', '.join(listed) or 'no meta/ files'}")
    return found[0]


def _lines(path: str, fields: int | None) -> list[list[str]]:
    """Whitespace-split lines (blank lines skipped); `fields`: how many each must have."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            parts = line.split()
            if not parts:
                continue
            if fields is not None and len(parts) != fields:
                raise ValueError(f"{path}:{number}: expected {fields} fields, got {len(parts)}: {line.strip()!r}")
            rows.append(parts)
    if not rows:
        raise ValueError(f"{path}: empty")
    return rows


def _integers(path: str, columns: int) -> np.ndarray:
    """A file of whitespace-separated integers as (rows, columns) int64 (parsed by numpy: IJB-C has 15.7M pairs)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    values = np.fromfile(path, dtype=np.int64, sep=" ")
    if values.size == 0 or values.size % columns:
        raise ValueError(f"{path}: expected lines of {columns} integers, read {values.size} numbers")
    return values.reshape(-1, columns)


def read_ijb_folder(root: str) -> IjbFolder:
    """The release's three meta files, checked against each other."""
    root = os.fspath(root)
    prefix = ijb_prefix(root)
    meta = lambda kind: os.path.join(root, "meta", f"{prefix}_{kind}.txt")
    points = _lines(meta("name_5pts_score"), 12)
    media = _lines(meta("face_tid_mid"), 3)
    if len(points) != len(media):
        raise ValueError(f"{meta('face_tid_mid')}: {len(media)} images, but {meta('name_5pts_score')} lists {len(points)}")
    for i, (p, m) in enumerate(zip(points, media)):
        if p[0] != m[0]:
            raise ValueError(f"{meta('face_tid_mid')}: line {i + 1} names {m[0]}, but line {i + 1} of "
                             f"{meta('name_5pts_score')} names {p[0]} (the two files list the images in the same order)")
    pairs = _integers(meta("template_pair_label"), 3)
    if not np.isin(pairs[:, 2], (0, 1)).all():
        raise ValueError(f"{meta('template_pair_label')}: labels must be 0 or 1")
    templates = np.array([int(m[1]) for m in media], dtype=np.int64)
    missing = np.setdiff1d(pairs[:, :2], templates)
    if missing.size:
        raise ValueError(f"{meta('template_pair_label')}: {missing.size} template(s) without images, e.g. {missing[0]}")
    return IjbFolder(
        root=root, prefix=prefix,
        names=[p[0] for p in points],
        landmarks=np.array([[float(x) for x in p[1:11]] for p in points], dtype=np.float32).reshape(-1, 5, 2),
        detector_scores=np.array([float(p[11]) for p in points], dtype=np.float32),
        templates=templates,
        media=np.array([int(m[2]) for m in media], dtype=np.int64),
        t1=pairs[:, 0], t2=pairs[:, 1], same=pairs[:, 2].astype(bool),
    )


def aligned_crop(path: str, landmarks: np.ndarray) -> np.ndarray:
    """Step 1: (3, 112, 112) uint8 RGB, the photo warped onto ArcFace's template by its five points."""
    photo = cv2.imread(path, cv2.IMREAD_COLOR)
    if photo is None:
        raise ValueError(f"{path}: missing or not an image OpenCV can read")
    matrix = similarity_transform(landmarks, PROTOCOL_TEMPLATE)  # (2, 3) photo → crop pixels
    crop = cv2.warpAffine(photo, matrix, (ARCFACE_112.size, ARCFACE_112.size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return np.ascontiguousarray(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).transpose(2, 0, 1))


class AlignedCrops(torch.utils.data.Dataset):
    """The folder's images as aligned crops, for a DataLoader's workers."""

    def __init__(self, folder: IjbFolder) -> None:
        self.folder = folder

    def __len__(self) -> int:
        return len(self.folder.names)

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(aligned_crop(self.folder.image_path(i), self.folder.landmarks[i]))


def template_features(image_features: np.ndarray, templates: np.ndarray, media: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step 3: (unique templates (T,), their unit features (T, D) float64).

    template = normalise(Σ_media mean_{images of that media} feature), by sorting once and summing
    contiguous runs (IJB-C: 469k images in 23k templates)."""
    order = np.lexsort((media, templates))  # by template, then media
    t, m = templates[order], media[order]
    features = np.asarray(image_features, dtype=np.float64)[order]
    new_media = np.r_[True, (t[1:] != t[:-1]) | (m[1:] != m[:-1])]
    media_start = np.flatnonzero(new_media)
    media_size = np.diff(np.r_[media_start, len(t)])
    media_mean = np.add.reduceat(features, media_start, axis=0) / media_size[:, None]  # (M, D)
    media_template = t[media_start]
    template_start = np.flatnonzero(np.r_[True, media_template[1:] != media_template[:-1]])
    summed = np.add.reduceat(media_mean, template_start, axis=0)  # (T, D)
    norm = np.linalg.norm(summed, axis=1, keepdims=True)
    return media_template[template_start], summed / np.where(norm > 0, norm, 1.0)


def pair_scores(unique_templates: np.ndarray, features: np.ndarray, t1: np.ndarray, t2: np.ndarray) -> np.ndarray:
    """Step 4: cos(template t1, template t2) for every pair, (P,) float64."""
    i, j = np.searchsorted(unique_templates, t1), np.searchsorted(unique_templates, t2)
    return np.einsum("pd,pd->p", features[i], features[j])


def roc_points(scores: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step 5's ROC, (FPR, TPR), as scikit-learn's roc_curve(drop_intermediate=True) returns it.

    Thresholds at each distinct score, highest first; a point is dropped when both the false- and
    the true-positive counts move on a straight line through it; (0, 0) is put first."""
    same = np.asarray(same, dtype=bool)
    if same.all() or not same.any():
        raise ValueError("the ROC needs both same-identity and different-identity pairs")
    order = np.argsort(scores, kind="mergesort")[::-1]
    s, y = np.asarray(scores)[order], same[order]
    last_of_score = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # each distinct score's last pair
    tps = np.cumsum(y)[last_of_score]
    fps = last_of_score + 1 - tps
    if len(tps) > 2:
        bends = np.flatnonzero(np.r_[True, np.diff(fps, 2) != 0, True] | np.r_[True, np.diff(tps, 2) != 0, True])
        tps, fps = tps[bends], fps[bends]
    tps, fps = np.r_[0, tps], np.r_[0, fps]
    return fps / fps[-1], tps / tps[-1]


def tar_at_far(fpr: np.ndarray, tpr: np.ndarray, far: float) -> tuple[float, float]:
    """(TAR, the FPR of the point used): the ROC point with FPR nearest `far`, the highest TPR on ties."""
    distance = np.abs(fpr - far)
    i = len(fpr) - 1 - int(np.argmin(distance[::-1]))  # argmin's first on the reversed curve: the last tie
    return float(tpr[i]), float(fpr[i])


def area_under(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """AUC by the trapezoid rule (as scikit-learn's auc on the same points)."""
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


PLOT_POINTS = 200


@dataclass(frozen=True)
class IjbResult:
    templates: int
    pairs: int
    tar_at_far: dict[float, tuple[float, float]]  # FAR target → (TAR, FPR used)
    auc: float
    roc: tuple[np.ndarray, np.ndarray]  # (FPR, TPR) thinned to a log grid for plots
    scores: np.ndarray  # (P,) the pairs' scores, in the pair file's order

    def json(self) -> dict:
        """As the TypeScript `IjbResult` (src/evaluation/ijb.ts) reads it."""
        label = lambda far: f"{far:.0e}".replace("e-0", "e-")
        return {
            "templates": self.templates, "pairs": self.pairs, "auc": self.auc,
            "tarAtFar": {label(far): tar for far, (tar, _) in self.tar_at_far.items()},
            "farUsed": {label(far): used for far, (_, used) in self.tar_at_far.items()},
            "roc": {"far": self.roc[0].tolist(), "tar": self.roc[1].tolist()},
            "protocol": PROTOCOL,
        }


def verify_templates(folder: IjbFolder, image_features: np.ndarray, *, detector_score: bool = True,
                     norm_score: bool = True) -> IjbResult:
    """Steps 2 (weighting) to 5 on the flip-summed raw image features (N, D)."""
    features = np.asarray(image_features, dtype=np.float64)
    if features.shape[0] != len(folder.names):
        raise ValueError(f"expected {len(folder.names)} image features, got {features.shape[0]}")
    if not norm_score:
        features = features / np.linalg.norm(features, axis=1, keepdims=True)
    if detector_score:
        features = features * folder.detector_scores.astype(np.float64)[:, None]
    unique_templates, pooled = template_features(features, folder.templates, folder.media)
    scores = pair_scores(unique_templates, pooled, folder.t1, folder.t2)
    fpr, tpr = roc_points(scores, folder.same)
    grid = np.unique(np.r_[np.geomspace(max(fpr[1], 1e-7), 1.0, PLOT_POINTS), FAR_TARGETS])
    thinned = np.array([tar_at_far(fpr, tpr, far) for far in grid])  # (G, 2) TAR, FPR
    return IjbResult(
        templates=len(np.unique(np.r_[folder.t1, folder.t2])), pairs=len(scores),
        tar_at_far={far: tar_at_far(fpr, tpr, far) for far in FAR_TARGETS},
        auc=area_under(fpr, tpr), roc=(thinned[:, 1], thinned[:, 0]), scores=scores,
    )


@torch.no_grad()
def image_features(embed: Callable[[torch.Tensor], torch.Tensor], folder: IjbFolder, *, batch_size: int,
                   workers: int = 0, device: torch.device | str = "cpu",
                   on_batch: Callable[[int], None] | None = None) -> np.ndarray:
    """Step 2: (N, D) float32 raw flip-summed features, embed(x) + embed(mirror(x)), x the aligned crop
    in [-1, 1]; images read and aligned by `workers` processes while the network runs."""
    loader = torch.utils.data.DataLoader(AlignedCrops(folder), batch_size=batch_size, num_workers=workers)
    rows = []
    for crops in loader:
        x = crops.to(device).float() / 127.5 - 1.0  # (B, 3, 112, 112)
        rows.append((embed(x) + embed(torch.flip(x, dims=[3]))).float().cpu())
        if on_batch:
            on_batch(len(crops))
    return torch.cat(rows).numpy()


def evaluate_ijb(encoder: IdentityEncoder, folder: IjbFolder, *, batch_size: int, workers: int = 0,
                 device: torch.device | str = "cpu", detector_score: bool = True, norm_score: bool = True,
                 on_batch: Callable[[int], None] | None = None) -> IjbResult:
    """The whole protocol for one model: its raw network (before `IdentityEncoder`'s normalisation) on
    ArcFace-framed crops."""
    if encoder.framing not in (ARCFACE_112.name, "dataset"):
        raise ValueError(f"IJB crops are framed as {ARCFACE_112.name}; this encoder expects {encoder.framing} "
                         f"(load it with framing '{ARCFACE_112.name}')")
    features = image_features(encoder.network, folder, batch_size=batch_size, workers=workers, device=device,
                              on_batch=on_batch)
    return verify_templates(folder, features, detector_score=detector_score, norm_score=norm_score)
