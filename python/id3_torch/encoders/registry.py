"""Encoders by kind: a config's `encoder` section (JSON from TypeScript) → an `IdentityEncoder`.

Each kind reads its own fields from the spec and raises a ValueError naming what is wrong.
  folder  {"kind": "folder", "path": <a train-fr folder: encoder.json + weights>}
"""
from __future__ import annotations

import os
from typing import Callable

import torch

from ..recognition.encoder import load_trained_encoder
from .base import IdentityEncoder


def _trained_folder(spec: dict, device: torch.device) -> IdentityEncoder:
    folder = spec["path"]
    if not os.path.isfile(os.path.join(folder, "encoder.json")):
        raise ValueError(f"encoder.path: {folder} holds no encoder.json (expected a train-fr folder)")
    face_encoder = load_trained_encoder(folder, device=device)
    return IdentityEncoder(face_encoder, input_size=face_encoder.input_size,
                           embedding_size=face_encoder.backbone.fc.out_features, framing="dataset").to(device)


ENCODER_KINDS: dict[str, Callable[[dict, torch.device], IdentityEncoder]] = {
    "folder": _trained_folder,
}


def load_identity_encoder(spec: dict, *, device: torch.device | str = "cpu") -> IdentityEncoder:
    kind = spec.get("kind")
    if kind not in ENCODER_KINDS:
        raise ValueError(f"encoder.kind: expected one of {', '.join(sorted(ENCODER_KINDS))}, got {kind!r}")
    return ENCODER_KINDS[kind](spec, torch.device(device))
