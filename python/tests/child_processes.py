"""Waiting for child processes to end (DataLoader workers, forked writers)."""
import multiprocessing
import time


def children_left(timeout: float = 20.0) -> list:
    """The multiprocessing children still alive once they had `timeout` seconds to end (a DataLoader
    joins its workers for up to 5 s before it terminates them, longer on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while (children := multiprocessing.active_children()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return children
