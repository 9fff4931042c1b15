"""Long work as jobs: start -> poll -> result, with cooperative cancellation.

A bridge call must return quickly (pythonia serves one request at a time), so a job runs on the
bridge's compute thread (`compute.py`: jobs run one after another, in the order started) and the
TypeScript side polls it. The job function receives a `Progress`
that it advances as it goes; `advance` is also where a cancellation request takes effect.
Progress is mirrored to `events.jsonl` when the caller names one, so that a stage reports
the same way whether it runs here or under torchrun.
"""
from __future__ import annotations

import itertools
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from . import jsonio
from .compute import compute_thread


class Cancelled(Exception):
    """Raised inside a job at its next `Progress.advance` or `check_cancelled` after a cancellation request."""


class Progress:
    # Seconds between two lines of events.jsonl (the last one is always written).
    EVENT_INTERVAL = 0.5

    def __init__(self, events_path: str | None = None) -> None:
        self.events_path = events_path
        self.total = 0
        self.step = 0
        self.unit = "it"
        self.label = ""
        self.metrics: dict[str, float] = {}
        self.cancel_requested = threading.Event()
        self._started = time.monotonic()
        self._first_step = 0
        self._last_event = 0.0

    def begin(self, total: int, *, label: str = "", unit: str = "it", step: int = 0) -> None:
        """Declare the amount of work; `step` > 0 when resuming part-way."""
        self.total, self.label, self.unit, self.step = total, label, unit, step
        self._first_step, self._started = step, time.monotonic()
        self._emit(force=True)

    def check_cancelled(self) -> None:
        """Raise Cancelled if cancellation was requested: for a job's work between or after its steps."""
        if self.cancel_requested.is_set():
            raise Cancelled("cancelled")

    def advance(self, n: int = 1, **metrics: float) -> None:
        self.check_cancelled()
        self.step += n
        self.metrics.update(metrics)
        self._emit(force=self.step >= self.total)

    def snapshot(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self._started
        done_here = self.step - self._first_step
        rate = done_here / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.step) / rate if rate > 0 else None
        return {"step": self.step, "total": self.total, "label": self.label, "unit": self.unit,
                "rate": rate, "eta": eta, "elapsed": elapsed, "metrics": dict(self.metrics)}

    def _emit(self, force: bool) -> None:
        now = time.monotonic()
        if self.events_path is None or (not force and now - self._last_event < self.EVENT_INTERVAL):
            return
        self._last_event = now
        event = {"time": time.time(), **self.snapshot()}
        with open(self.events_path, "a", encoding="utf-8") as f:
            f.write(jsonio.dumps(event) + "\n")


JobFunction = Callable[[dict, Progress], Any]


@dataclass
class Job:
    id: int
    kind: str
    progress: Progress
    state: str = "running"  # running | done | failed | cancelled
    result: Any = None
    error: dict | None = None
    seconds: float = 0.0  # the job function's wall time, once it has returned


def describe_exception(exc: BaseException) -> dict[str, str]:
    return {"type": type(exc).__name__, "message": str(exc),
            "traceback": "".join(traceback.format_exception(exc))}


class JobRunner:
    def __init__(self, kinds: dict[str, JobFunction], check_args: Callable[[str, dict], None] | None = None) -> None:
        """`check_args(kind, args)` raises on arguments the job must not start with."""
        self.kinds, self.check_args = kinds, check_args
        self.jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)

    def start(self, kind: str, args: dict, events_path: str | None = None) -> int:
        if kind not in self.kinds:
            raise KeyError(f"unknown job kind {kind!r}; known: {', '.join(sorted(self.kinds))}")
        if self.check_args is not None:
            self.check_args(kind, args)
        job = Job(next(self._ids), kind, Progress(events_path))
        self.jobs[job.id] = job
        compute_thread().submit(lambda: self._run(job, args))
        return job.id

    def _run(self, job: Job, args: dict) -> None:
        started = time.monotonic()
        try:
            job.result = self.kinds[job.kind](args, job.progress)
            # A cancellation that arrived after the job's last check still cancels: the caller stops.
            job.progress.check_cancelled()
            job.seconds = time.monotonic() - started
            job.state = "done"
        except Cancelled:
            job.state = "cancelled"
        except BaseException as exc:  # a job's failure is reported, never kills the bridge
            job.error = describe_exception(exc)
            job.state = "failed"

    def poll(self, job_id: int) -> dict[str, Any]:
        """The job's state and progress; a finished job is forgotten once its end is reported."""
        job = self._job(job_id)
        report = {"state": job.state, "progress": job.progress.snapshot()}
        if job.state == "done":
            report["result"], report["seconds"] = job.result, job.seconds
        elif job.state == "failed":
            report["error"] = job.error
        if job.state != "running":
            del self.jobs[job_id]
        return report

    def cancel(self, job_id: int) -> None:
        self._job(job_id).progress.cancel_requested.set()

    def _job(self, job_id: int) -> Job:
        if job_id not in self.jobs:
            raise KeyError(f"no job {job_id} (finished jobs are forgotten after their last poll)")
        return self.jobs[job_id]
