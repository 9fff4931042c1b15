"""Jobs `prepare.parametric` and `prepare.real` (contract: src/jobs/prepare.ts)."""
from __future__ import annotations

from ..bridge.jobs import Progress
from ..data.parametric import NuisanceRanges
from ..stages.prepare import ParametricFaces, parametric_faces as render
from ..stages.prepare_real import PrepareOptions, prepare_real as prepare


def parametric_faces(args: dict, progress: Progress) -> dict:
    faces = ParametricFaces(seed=args["seed"], first_identity=args["firstIdentity"], identities=args["identities"],
                            images_per_identity=args["imagesPerIdentity"], resolution=args["resolution"],
                            ranges=NuisanceRanges(**{k: tuple(v) for k, v in args["ranges"].items()}))
    return render(faces, args["outDir"], batch_size=args["batchSize"], grid_path=args["gridPath"],
                  grid_identities=args["gridIdentities"], grid_images=args["gridImages"], progress=progress)


def prepare_real(args: dict, progress: Progress) -> dict:
    options = PrepareOptions(align=args["align"], framing=args["framing"], resolution=args["resolution"],
                             min_confidence=args["minConfidence"], encoder=args["encoder"],
                             val_identities=args["valIdentities"], test_identities=args["testIdentities"],
                             batch_size=args["batchSize"], device=args["device"])
    return prepare(args["dataset"], args["outDir"], options, progress)
