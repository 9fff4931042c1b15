"""Jobs `evaluate` and `verify.ijb` (contracts: src/jobs/evaluate.ts)."""
from __future__ import annotations

from ..bridge.jobs import Progress
from ..evaluation import ops
from ..evaluation.evaluate import HeldOutPairs, IjbSpec, evaluate_models


def evaluate(args: dict, progress: Progress) -> dict:
    held_out = args["heldOut"]
    return evaluate_models(
        [(m["name"], m["encoder"]) for m in args["models"]],
        held_out=HeldOutPairs(held_out["name"], held_out["manifest"], tuple(held_out["splits"]), held_out["pairs"],
                              held_out["seed"]) if held_out else None,
        benchmarks=[(b["name"], b["path"]) for b in args["benchmarks"]],
        ijb=[IjbSpec(s["name"], s["folder"], detector_score=s["detectorScore"], norm_score=s["normScore"])
             for s in args["ijb"]],
        pixel_baseline=args["pixelBaseline"], batch_size=args["batchSize"], workers=args["workers"],
        device=args["device"], out_dir=args["outDir"], progress=progress)


# verify.ijb's options are optional (`id3 verify --ijb` sends what the user gave): the library's defaults fill the rest.
_IJB_OPTIONS = {"backbone": "backbone", "batchSize": "batch_size", "workers": "workers",
                "detectorScore": "detector_score", "normScore": "norm_score", "device": "device", "scores": "scores"}


def verify_ijb(args: dict, progress: Progress) -> dict:
    """`id3 verify --ijb`, as a job: tens of minutes on IJB-C's 469k photos, with progress."""
    options = {name: args[field] for field, name in _IJB_OPTIONS.items() if field in args}
    return ops.verify_ijb(args["folder"], args["model"], **options, progress=progress)
