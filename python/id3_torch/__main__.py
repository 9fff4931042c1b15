"""`python -m id3_torch <job> --job job.json`: one job outside the bridge, e.g. on every torchrun rank.

    torchrun --nproc_per_node 2 -m id3_torch train-fr --job job.json --events events.jsonl --result result.json

Rank 0 writes the progress events and the result (JSON, written whole or not at all); the
TypeScript side follows events.jsonl for its progress bar, as it does for bridge jobs.
"""
from __future__ import annotations

import argparse
import os
import sys

from .jobs import job_kinds
from .jobs.contracts import check_args
from .bridge import jsonio, lifeline
from .bridge.jobs import Progress
from .files import write_text_atomic


def main(argv: list[str] | None = None) -> int:
    kinds = job_kinds()
    parser = argparse.ArgumentParser(prog="python -m id3_torch", description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(kinds))
    parser.add_argument("--job", required=True, help="JSON file with the job's arguments")
    parser.add_argument("--events", help="append progress here (rank 0 only)")
    parser.add_argument("--result", help="write the job's result here as JSON (rank 0 only)")
    parser.add_argument("--parent-pid", type=int,
                        help="end with this process (the Node that started torchrun): no orphan ranks")
    options = parser.parse_args(argv)
    if options.parent_pid is not None:
        lifeline.watch(options.parent_pid)
    with open(options.job, encoding="utf-8") as f:
        args = jsonio.loads(f.read())
    check_args(options.kind, args)
    is_main = int(os.environ.get("RANK", "0")) == 0
    result = kinds[options.kind](args, Progress(options.events if is_main else None))
    if is_main and options.result:
        write_text_atomic(options.result, jsonio.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
