"""Encoders by kind: a config's `encoder` section (JSON from TypeScript) → an `IdentityEncoder`.

Each kind reads its own fields from the spec and raises a ValueError naming what is wrong.
  folder   {"kind": "folder", "path": <a train-fr folder: encoder.json + weights>}
  dlib     {"kind": "dlib", "framing": F}  dlib's ResNet descriptor from @vladmandic/face-api
  arcface  {"kind": "arcface", "path": <insightface backbone.pth>, "backbone": "iresnet50" | "iresnet100", "framing": F}
  adaface  {"kind": "adaface", "path": <AdaFace .ckpt / state dict>, "backbone": "ir50" | "ir101", "framing": F}
F (framing.FRAMINGS: arcface-112, dlib-150, ffhq) is how the caller's images are cropped; when it is
not the network's own, the images are reframed into it inside the graph.
"""
from __future__ import annotations

import os
from typing import Callable

import torch
from torch import nn

from ..recognition.encoder import load_trained_encoder
from ..recognition.iresnet import build_backbone
from .adaface import AdaFaceIR
from .base import IdentityEncoder
from .checkpoints import load_adaface_checkpoint, load_arcface_checkpoint
from .faceapi.recognition_net import INPUT_SIZE as DLIB_INPUT, MEAN_RGB as DLIB_MEAN, load_face_recognition_net
from .framing import ARCFACE_112, DLIB_150, FRAMINGS
from .input import NetworkInput

ARCFACE_NORMALIZATION = "RGB, (x/255 - 0.5)/0.5"


def _field(spec: dict, name: str, choices: tuple[str, ...] | None = None) -> str:
    value = spec.get(name)
    if choices is not None and value not in choices:
        raise ValueError(f"encoder.{name}: expected one of {', '.join(choices)}, got {value!r}")
    if choices is None and (not isinstance(value, str) or not value):
        raise ValueError(f"encoder.{name}: expected a path, got {value!r}")
    return value


def _checkpoint_path(spec: dict) -> str:
    path = _field(spec, "path")
    if not os.path.isfile(path):
        raise ValueError(f"encoder.path: {path}: no such file (expected a checkpoint)")
    return path


def _trained_folder(spec: dict, device: torch.device) -> IdentityEncoder:
    folder = _field(spec, "path")
    if not os.path.isfile(os.path.join(folder, "encoder.json")):
        raise ValueError(f"encoder.path: {folder} holds no encoder.json (expected a train-fr folder)")
    face_encoder = load_trained_encoder(folder, device=device)
    return IdentityEncoder(face_encoder, input_size=face_encoder.input_size,
                           embedding_size=face_encoder.backbone.fc.out_features, framing="dataset",
                           normalization=ARCFACE_NORMALIZATION).to(device)


def _framing(spec: dict) -> str:
    return _field(spec, "framing", tuple(FRAMINGS))


def _dlib(spec: dict, device: torch.device) -> IdentityEncoder:
    framing = _framing(spec)
    network = nn.Sequential(NetworkInput(DLIB_INPUT, framing=framing, network_framing=DLIB_150.name),
                            load_face_recognition_net())
    return IdentityEncoder(network, input_size=DLIB_INPUT, embedding_size=128, framing=framing,
                           normalization=f"RGB, (x - {list(DLIB_MEAN)})/255").to(device)


def _arcface(spec: dict, device: torch.device) -> IdentityEncoder:
    backbone = build_backbone(_field(spec, "backbone", ("iresnet50", "iresnet100")), input_size=112, embedding_size=512)
    load_arcface_checkpoint(_checkpoint_path(spec), backbone)
    framing = _framing(spec)
    network = nn.Sequential(NetworkInput(112, framing=framing, network_framing=ARCFACE_112.name), backbone)
    return IdentityEncoder(network, input_size=112, embedding_size=512, framing=framing,
                           normalization=ARCFACE_NORMALIZATION).to(device)


def _adaface(spec: dict, device: torch.device) -> IdentityEncoder:
    backbone = AdaFaceIR(_field(spec, "backbone", ("ir50", "ir101")))
    load_adaface_checkpoint(_checkpoint_path(spec), backbone)
    framing = _framing(spec)
    network = nn.Sequential(NetworkInput(112, framing=framing, network_framing=ARCFACE_112.name, bgr=True), backbone)
    return IdentityEncoder(network, input_size=112, embedding_size=512, framing=framing,
                           normalization="BGR, (x/255 - 0.5)/0.5").to(device)


ENCODER_KINDS: dict[str, Callable[[dict, torch.device], IdentityEncoder]] = {
    "folder": _trained_folder,
    "dlib": _dlib,
    "arcface": _arcface,
    "adaface": _adaface,
}


def load_identity_encoder(spec: dict, *, device: torch.device | str = "cpu") -> IdentityEncoder:
    kind = spec.get("kind")
    if kind not in ENCODER_KINDS:
        raise ValueError(f"encoder.kind: expected one of {', '.join(sorted(ENCODER_KINDS))}, got {kind!r}")
    return ENCODER_KINDS[kind](spec, torch.device(device))
