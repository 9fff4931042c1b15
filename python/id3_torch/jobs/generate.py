"""Jobs `generate` and `generate.preview` (contract: src/jobs/generate.ts)."""
from __future__ import annotations

from ..bridge.jobs import Progress
from ..stages.generate import AttributeReader, FidInputs, GenerateOptions, Judge, generate as generate_dataset
from ..stages.generate import preview as preview_grid
from .diffusion import sampler_options


def generate(args: dict, progress: Progress) -> dict:
    options = GenerateOptions(identities_per_shard=args["identitiesPerShard"], formats=tuple(args["formats"]),
                              image_format=args["imageFormat"], jpeg_quality=args["jpegQuality"],
                              batch_size=args["batchSize"], grid_identities=args["gridIdentities"],
                              grid_images=args["gridImages"])
    attributes = args["attributes"]  # path and real: the regressor's alone
    judge, fid = args["judge"], args["fid"]
    return generate_dataset(
        args["plan"], args["trainDir"], args["outDir"], sampler=sampler_options(args["sampler"]),
        target=args["sampler"]["guidanceTarget"], options=options,
        attributes=AttributeReader(kind=attributes["kind"], path=attributes.get("path"), real=attributes.get("real")),
        judge=Judge(spec=judge["spec"], name=judge["name"], real=judge["real"]) if judge else None,
        fid=FidInputs(weights=fid["weights"], real=fid["real"]) if fid else None,
        centres=args["centres"], device=args["device"], progress=progress)


def preview(args: dict, progress: Progress) -> dict:
    return preview_grid(args["plan"], args["trainDir"], args["out"], sampler=sampler_options(args["sampler"]),
                        target=args["sampler"]["guidanceTarget"], batch_size=args["batchSize"], device=args["device"],
                        progress=progress)
