"""Job `report.plots` (contract: src/jobs/report.ts)."""
from __future__ import annotations

from ..bridge.jobs import Progress
from ..report.plots import draw_plots as draw


def draw_plots(args: dict, progress: Progress) -> dict:
    return {"written": draw(args["plots"], progress)}
