"""One long-lived thread for the bridge process's torch work: every job, and the tensor ops that TypeScript calls.

torch's CPU thread pool is OpenMP's, and OpenMP keeps a team of worker threads for every thread that
has run a parallel region. Jobs on threads of their own and tensor ops on pythonia's thread made two
teams or more on a machine of two cores, and libgomp, counting more threads than cores, stops
spinning between parallel regions: a diffusion training that followed the anchors stage's tensor ops
ran 2-3x slower than the same training alone. One thread, one team.
"""
from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import Callable, TypeVar

T = TypeVar("T")


class ComputeThread:
    def __init__(self) -> None:
        self._tasks: queue.SimpleQueue[tuple[Callable[[], object], Future]] = queue.SimpleQueue()
        self._pending = 0  # tasks submitted and not finished
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="id3-compute", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            fn, future = self._tasks.get()
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn())
                    except BaseException as exc:  # the caller gets it
                        future.set_exception(exc)
            finally:
                with self._lock:
                    self._pending -= 1

    def submit(self, fn: Callable[[], T]) -> Future:
        """Run `fn` after the work queued before it (jobs: one at a time, in the order started)."""
        future: Future = Future()
        with self._lock:
            self._pending += 1
            self._tasks.put((fn, future))
        return future

    def call(self, fn: Callable[[], T]) -> T:
        """`fn()` on this thread, waited for; inline when a job holds the thread, so that a tensor op
        never waits for a job to end (nor do the polls queued behind it on pythonia's thread)."""
        with self._lock:
            busy = self._pending > 0
        if busy or threading.current_thread() is self._thread:
            return fn()
        return self.submit(fn).result()


_compute: ComputeThread | None = None
_lock = threading.Lock()


def compute_thread() -> ComputeThread:
    global _compute
    with _lock:
        if _compute is None:
            _compute = ComputeThread()
        return _compute


def on_compute_thread(fn: Callable[..., T]) -> Callable[..., T]:
    """A bridge op that runs on the compute thread."""
    def op(*args, **kwargs):
        return compute_thread().call(lambda: fn(*args, **kwargs))
    op.__name__ = getattr(fn, "__name__", "op")
    op.__doc__ = fn.__doc__
    return op
