"""Tie this Python process's life to the Node process that started it.

Node can die in ways that run none of its handlers (SIGKILL, OOM): the kernel's parent-death
signal ends us at once, and a watchdog thread covers a parent that died before we set it.
Terminal Ctrl-C reaches the whole process group: Node decides what it means (cancel a job,
then shut us down), so this process ignores SIGINT.
"""
import ctypes
import os
import signal
import threading
import time

_PR_SET_PDEATHSIG = 1


def attach(parent_pid: int, poll_seconds: float = 0.5) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the watchdog alone
        pass

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(70)
            time.sleep(poll_seconds)

    if os.getppid() != parent_pid:
        os._exit(70)
    threading.Thread(target=watch, name="id3-lifeline", daemon=True).start()
