"""Comparing two loops on a shared machine: per-step clocks and alternating rounds.

A step's time on this 2-core machine drifts by ±15 % over seconds to minutes (in CPU time as much
as in wall time), more than the overheads measured; so the two sides run in short rounds, in an
order swapped every round, and the result is the median over rounds of each round's ratio.
"""
import statistics
import time

from id3_torch.bridge.jobs import Progress

CLOCKS = ("wall", "cpu")


def clock() -> dict:
    return {"wall": time.perf_counter(), "cpu": time.process_time()}


def step_times(stamps: list[dict]) -> dict:
    """Median seconds a step per clock, from the clocks read before the first step and after each."""
    return {c: statistics.median(b[c] - a[c] for a, b in zip(stamps, stamps[1:])) for c in CLOCKS}


def seconds_of(run) -> dict:
    """Seconds run() took per clock."""
    before = clock()
    run()
    after = clock()
    return {c: after[c] - before[c] for c in CLOCKS}


class StepClock(Progress):
    """A job's progress, with the clocks read at its start and after every step."""

    def begin(self, total: int, **kwargs) -> None:
        super().begin(total, **kwargs)
        self.stamps = [clock()]

    def advance(self, n: int = 1, **metrics: float) -> None:
        super().advance(n, **metrics)
        self.stamps.append(clock())


def compare(ours, reference, rounds: int) -> dict:
    """ours() and reference() return seconds per clock; after a warm-up of each, `rounds` alternating rounds.

    Per clock: the median of the rounds' ratios ours ÷ reference (a drift of the machine's speed hits
    both sides of a round alike), the ratios, and each side's median seconds.
    """
    ours()  # neither side gets the cold start
    reference()
    pairs = []
    for k in range(rounds):
        if k % 2 == 0:
            o = ours()
            r = reference()
        else:
            r = reference()
            o = ours()
        pairs.append((o, r))
    return {c: {"ratio": statistics.median(o[c] / r[c] for o, r in pairs), "ratios": [o[c] / r[c] for o, r in pairs],
                "ours": statistics.median(o[c] for o, _ in pairs), "reference": statistics.median(r[c] for _, r in pairs)}
            for c in CLOCKS}
