"""Bridge ops of the encoders (`id3 encode`): a few images → embeddings and attributes."""
from __future__ import annotations

import torch

from ..data.folders import load_image
from .attributes import ATTRIBUTE_NAMES, AttributePredictor
from .faces import FaceFinder
from .framing import FRAMINGS, warp_to_framing
from .registry import load_identity_encoder


@torch.no_grad()
def encode_images(encoder: dict, images: list[str], align: bool = False, device: str = "cpu") -> dict:
    """Each image (a face crop in the encoder's framing, or with `align` a photo) → its unit embedding
    and predicted attributes; with `align`, photos without a face get found = false."""
    model = load_identity_encoder(encoder, device=device)
    finder = FaceFinder.from_package(device=device) if align else None
    predictor = AttributePredictor.from_package(device=device)
    framing = FRAMINGS[model.framing] if model.framing in FRAMINGS else None
    if align and framing is None:
        raise ValueError(f"encoder: its framing {model.framing!r} is not one faces can be aligned to; encode crops without --align")
    results = []
    for file in images:
        image = load_image(file)
        landmarks, size = None, None
        if finder is not None:
            faces = finder([image])[0]
            if not faces:
                results.append({"file": file, "found": False, "embedding": None, "attributes": None})
                continue
            landmarks, size = faces[0].landmarks, (image.shape[2], image.shape[1])
            image = warp_to_framing(image, landmarks, framing)
        elif image.shape[1] != image.shape[2]:
            raise ValueError(f"{file}: not a square face crop ({image.shape[2]}×{image.shape[1]}); use --align for photos")
        embedding = model(image[None].to(device).float() / 127.5 - 1.0)[0].cpu().numpy()
        attributes = predictor(image[None], [landmarks], [size])
        results.append({"file": file, "found": True, "embedding": [round(float(v), 7) for v in embedding],
                        "attributes": {name: round(float(attributes[name][0]), 2) for name in ATTRIBUTE_NAMES}})
    return {"encoder": model.describe(), "images": results}

