"""bench/timing.py: the alternating-rounds comparison the loop benchmarks' targets rest on."""
import importlib.util
import os
import statistics

import pytest

# Loaded by path: putting bench/ on sys.path would let its modules (data, fr, diffusion…) shadow others.
_spec = importlib.util.spec_from_file_location("bench_timing", os.path.join(os.path.dirname(__file__), "..", "..", "bench", "timing.py"))
timing = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(timing)
StepClock, compare, step_times = timing.StepClock, timing.compare, timing.step_times


def test_compare_alternates_the_order_and_takes_the_median_of_the_rounds_ratios():
    calls = []
    # The machine "slows down" every call: a single run a side would read the drift as overhead.
    def side(name, cost):
        def run():
            calls.append(name)
            drift = 1 + 0.1 * len(calls)
            return {"wall": cost * drift, "cpu": cost}
        return run

    result = compare(side("ours", 1.0), side("reference", 1.0), rounds=4)
    assert calls == ["ours", "reference"] + ["ours", "reference", "reference", "ours"] * 2
    # Rounds' wall ratios: 1.3/1.4, 1.6/1.5, 1.7/1.8, 2.0/1.9 (drift after the 2 warm-up calls).
    ratios = [1.3 / 1.4, 1.6 / 1.5, 1.7 / 1.8, 2.0 / 1.9]
    assert result["wall"]["ratios"] == pytest.approx(ratios)
    assert result["wall"]["ratio"] == pytest.approx(statistics.median(ratios))
    assert result["wall"]["ratio"] == pytest.approx(1.0, abs=0.02)
    assert result["cpu"] == {"ratio": 1.0, "ratios": [1.0] * 4, "ours": 1.0, "reference": 1.0}


def test_a_real_overhead_survives_the_comparison():
    result = compare(lambda: {"wall": 1.2, "cpu": 1.1}, lambda: {"wall": 1.0, "cpu": 1.0}, rounds=3)
    assert result["wall"]["ratio"] == pytest.approx(1.2)
    assert result["cpu"]["ratio"] == pytest.approx(1.1)


def test_step_clock_reads_the_clocks_at_the_start_and_after_every_step():
    progress = StepClock()
    progress.begin(3, label="x", unit="step")
    for _ in range(3):
        progress.advance(1, loss=0.0)
    assert len(progress.stamps) == 4 and progress.step == 3
    times = step_times(progress.stamps)
    assert set(times) == {"wall", "cpu"} and all(v >= 0 for v in times.values())
    stamps = [{"wall": w, "cpu": w / 2} for w in (0.0, 1.0, 3.0, 4.0, 10.0)]  # steps 1, 2, 1, 6
    assert step_times(stamps) == {"wall": 1.5, "cpu": 0.75}
