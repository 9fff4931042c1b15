"""Job `data.convert` (contract: src/jobs/data.ts)."""
from __future__ import annotations

from ..bridge.jobs import Progress
from ..data import convert

# Every option is optional (`id3 data convert` sends what the user gave): the library's defaults fill the rest.
_OPTIONS = {"splits": "splits", "onCorrupt": "on_corrupt", "imageFormat": "image_format", "quality": "quality",
            "workers": "workers", "batchSize": "batch_size"}


def convert_dataset(args: dict, progress: Progress) -> dict:
    options = {name: args[field] for field, name in _OPTIONS.items() if field in args}
    return convert.convert_dataset(args["src"], args["dst"], progress=progress, **options)
