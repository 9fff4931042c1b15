"""The Python half of the bridge: JSON codec, dispatch, jobs."""
import json
import math
import threading
import time

import pytest

from id3_torch import api
from id3_torch.bridge import jobs, jsonio


def test_jsonio_round_trips_non_finite_floats_as_tagged_objects():
    value = {"a": [1.5, math.nan, math.inf, -math.inf], "b": {"$float": "other"}}
    text = jsonio.dumps(value)
    assert "NaN" not in text.replace('"NaN"', "")  # no bare NaN literal anywhere
    back = jsonio.loads(text)
    assert back["a"][0] == 1.5 and math.isnan(back["a"][1]) and back["a"][2:] == [math.inf, -math.inf]
    assert back["b"] == {"$float": "other"}


def test_dispatch_returns_ok_or_the_exception_as_a_value():
    assert json.loads(api.dispatch("system.ping", "{}")) == {"ok": "pong"}
    reply = json.loads(api.dispatch("no.such.op", "{}"))
    assert reply["error"]["type"] == "KeyError" and "no.such.op" in reply["error"]["message"]
    reply = json.loads(api.dispatch("system.ping", '{"unexpected": 1}'))
    assert reply["error"]["type"] == "TypeError" and "Traceback" in reply["error"]["traceback"]


def _wait(runner, job_id, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report = runner.poll(job_id)
        if report["state"] != "running":
            return report
        time.sleep(0.01)
    raise AssertionError("job did not finish")


def counting(args, progress):
    progress.begin(args["n"], label="count", unit="it")
    for i in range(args["n"]):
        time.sleep(args.get("sleep", 0))
        progress.advance(1, loss=1.0 / (i + 1))
    return args["n"]


def test_job_reports_progress_result_and_events(tmp_path):
    events = tmp_path / "events.jsonl"
    runner = jobs.JobRunner({"count": counting})
    report = _wait(runner, runner.start("count", {"n": 5}, str(events)))
    assert report["state"] == "done" and report["result"] == 5
    assert report["progress"]["step"] == 5 and report["progress"]["metrics"]["loss"] == pytest.approx(0.2)
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert lines[0]["step"] == 0 and lines[-1]["step"] == 5 and lines[-1]["total"] == 5
    with pytest.raises(KeyError, match="forgotten"):
        runner.poll(1)  # a finished job is forgotten after its end was reported


def test_job_cancellation_takes_effect_at_the_next_advance():
    runner = jobs.JobRunner({"count": counting})
    job_id = runner.start("count", {"n": 10_000, "sleep": 0.001})
    time.sleep(0.05)
    runner.cancel(job_id)
    report = _wait(runner, job_id)
    assert report["state"] == "cancelled" and 0 < report["progress"]["step"] < 10_000


def test_a_cancellation_during_a_jobs_finishing_work_still_cancels_it():
    # After its last step a job writes its outputs (no advance left to notice a cancel): it must not report done.
    finishing = threading.Event()

    def steps_then_finishing_work(args, progress):
        progress.begin(1)
        progress.advance(1)
        finishing.set()
        time.sleep(0.3)  # e.g. measuring the dataset it made
        return "made"

    runner = jobs.JobRunner({"work": steps_then_finishing_work})
    job_id = runner.start("work", {})
    assert finishing.wait(5)
    runner.cancel(job_id)
    assert _wait(runner, job_id)["state"] == "cancelled"


def test_job_failure_is_reported_not_raised():
    def broken(args, progress):
        raise ZeroDivisionError("on purpose")

    runner = jobs.JobRunner({"broken": broken})
    report = _wait(runner, runner.start("broken", {}))
    assert report["state"] == "failed"
    assert report["error"]["type"] == "ZeroDivisionError" and "on purpose" in report["error"]["traceback"]
    with pytest.raises(KeyError, match="unknown job kind 'nope'"):
        runner.start("nope", {})


def test_jobs_and_torch_ops_run_on_one_compute_thread_and_ops_never_wait_for_a_job():
    from id3_torch.bridge.compute import on_compute_thread

    def where(args, progress):
        time.sleep(args["sleep"])
        return threading.current_thread().name

    runner = jobs.JobRunner({"where": where})
    assert _wait(runner, runner.start("where", {"sleep": 0}))["result"] == "id3-compute"
    op = on_compute_thread(lambda: threading.current_thread().name)
    assert op() == "id3-compute"  # one OpenMP team in the process (compute.py)
    busy = runner.start("where", {"sleep": 0.5})
    started = time.monotonic()
    assert op() == threading.current_thread().name and time.monotonic() - started < 0.4  # inline while a job runs
    assert _wait(runner, busy)["result"] == "id3-compute"
