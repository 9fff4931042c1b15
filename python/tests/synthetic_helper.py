"""A tiny synthetic dataset written the way the generate stage will write one: parametric faces with
made-up conditions, a function of (identity, image) only (imported by test_synthetic_writer.py)."""
from __future__ import annotations

import functools
import os
import signal

import torch

from id3_torch.data.parametric import render_images
from id3_torch.data.recordio import RecordIOWriter
from id3_torch.data.synthetic import SyntheticDatasetWriter, SyntheticLayout

LAYOUT = SyntheticLayout(identities=7, images_per_identity=3, identities_per_shard=2, embedding_size=8,
                         attribute_names=("age", "yaw"), jpeg_quality=90)  # shards: [0, 1] [2, 3] [4, 5] [6]


@functools.cache
def faces() -> torch.Tensor:
    """(N·m, 3, 32, 32) the dataset's images, row-major (rendered once: a forked writer only writes)."""
    m = LAYOUT.images_per_identity
    identity = torch.arange(LAYOUT.identities).repeat_interleave(m)
    return render_images(4, identity, torch.arange(m).repeat(LAYOUT.identities), 32)[0]


def conditions(identity: torch.Tensor, image: torch.Tensor) -> dict:
    embedding = torch.sin(identity[:, None] * 8.0 + torch.arange(8.0) + 0.1 * image[:, None])
    attributes = torch.stack([20.0 + 7.5 * identity, -30.0 + 12.25 * image], dim=1)
    return {"anchor": identity + 100, "embedding": embedding, "attributes": attributes, "seed": identity * 1000 + image}


def write_shards(root, *, batch: int, die_in_shard: int | None = None) -> SyntheticDatasetWriter:
    """Write the pending shards in batches of `batch` images (batches span identities); with die_in_shard,
    SIGKILL this process after the first batch of that shard."""
    writer = SyntheticDatasetWriter(root, LAYOUT)
    m = LAYOUT.images_per_identity
    for shard in writer.pending_shards():
        identities = LAYOUT.shard_identities(shard)
        identity = torch.arange(identities.start, identities.stop).repeat_interleave(m)
        image = torch.arange(m).repeat(len(identities))
        with writer.open_shard(shard) as out:
            for start in range(0, len(identity), batch):
                i, j = identity[start:start + batch], image[start:start + batch]
                out.add(identity=i, image=j, images=faces()[i * m + j], **conditions(i, j))
                if shard == die_in_shard:
                    os.kill(os.getpid(), signal.SIGKILL)
    return writer


def finalize_dying_in_join(root) -> None:
    """Write every shard, then SIGKILL this process while the shards' .rec parts are being joined."""
    writer = write_shards(root, batch=4)
    original = RecordIOWriter.append_file
    calls = []

    def append_then_die(self, *args, **kwargs):
        original(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGKILL)

    RecordIOWriter.append_file = append_then_die
    writer.finalize()
