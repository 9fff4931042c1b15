"""Tie this Python process's life to the Node process that started it.

Node can die in ways that run none of its handlers (SIGKILL, OOM): the kernel's parent-death
signal ends us at once, and a watchdog thread covers a parent that died before we set it.
Terminal Ctrl-C reaches the whole process group: Node decides what it means (cancel a job,
then shut us down), so this process ignores SIGINT.

Where Node gives pythonia no IPC channel (Deno's Node layer does not), pythonia's reader thread
blocks in `sys.stdin.readline()` holding the stream's lock for good; a forked child (a DataLoader
worker) starts by closing `sys.stdin` and would wait on that lock forever. pythonia keeps its own
reference to the stream, so this process drops `sys.stdin` and forked children skip the close.
"""
import ctypes
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1


def attach(parent_pid: int, poll_seconds: float = 0.5) -> None:
    """For the bridge's Python: Node is our parent; Ctrl-C is Node's to handle."""
    if os.getppid() != parent_pid:
        raise RuntimeError(f"the bridge's Python must be a direct child of Node (pid {parent_pid}), but its parent "
                           f"is pid {os.getppid()}: ID3_PYTHON must name a Python executable (or a script that "
                           f"`exec`s one), not a wrapper that stays in between")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if "NODE_CHANNEL_FD" not in os.environ:  # pythonia reads its requests from stdin
        sys.stdin = None
    _die_with_parent()
    _watch(lambda: os.getppid() != parent_pid, poll_seconds)


def watch(ancestor_pid: int, poll_seconds: float = 0.5) -> None:
    """For processes further down (torchrun ranks): end when `ancestor_pid` is gone."""
    _watch(lambda: not _alive(ancestor_pid), poll_seconds)


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the watchdog alone
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _watch(gone, poll_seconds: float) -> None:
    if gone():
        os._exit(70)

    def loop() -> None:
        while not gone():
            time.sleep(poll_seconds)
        os._exit(70)

    threading.Thread(target=loop, name="id3-lifeline", daemon=True).start()
