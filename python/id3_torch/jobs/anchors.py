"""Job `anchors.identity-centres` (contract: src/jobs/anchors.ts)."""
from __future__ import annotations

from ..bridge.jobs import Progress
from ..stages.anchors import identity_centres as centres


def identity_centres(args: dict, progress: Progress) -> dict:
    return centres(args["encoder"], args["manifest"], args["split"], args["out"],
                   batch_size=args["batchSize"], device=args["device"], progress=progress)
