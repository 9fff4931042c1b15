"""Parametric face rendering throughput: images/s of render_images at 64x64, batch 256.

Prints one JSON object. Run by bench/parametric.ts with the project's Python.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))

import torch  # noqa: E402

from id3_torch.data import parametric  # noqa: E402

BATCH, BATCHES, RESOLUTION = 256, 8, 64

identities = torch.arange(BATCH * BATCHES) // 16
images = torch.arange(BATCH * BATCHES) % 16
parametric.render_images(0, identities[:BATCH], images[:BATCH], RESOLUTION)  # warm-up
started = time.perf_counter()
for b in range(BATCHES):
    part = slice(b * BATCH, (b + 1) * BATCH)
    parametric.render_images(0, identities[part], images[part], RESOLUTION)
seconds = time.perf_counter() - started
print(json.dumps({"imagesPerSecond": BATCH * BATCHES / seconds, "threads": torch.get_num_threads()}))
