"""Ways to hurt the bridge on purpose, for the bridge's own tests.

Registered only when ID3_BRIDGE_TESTING=1, so a user's bridge never exposes them.
"""
import ctypes
import os
import time


def exit_now(code: int) -> None:
    os._exit(code)


def segfault() -> None:
    ctypes.string_at(0)


def sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def echo(value):
    return value


def fail(message: str) -> None:
    raise ValueError(message)


def count_job(args: dict, progress) -> int:
    """A job that counts to args['n'], sleeping args['seconds'] per step."""
    progress.begin(args["n"], label="count")
    for i in range(args["n"]):
        time.sleep(args.get("seconds", 0.0))
        progress.advance(1, value=float(i + 1))
    if args.get("fail"):
        raise RuntimeError("count_job failed on request")
    return progress.step


OPS = {"test.exit": exit_now, "test.segfault": segfault, "test.sleep": sleep,
       "test.echo": echo, "test.fail": fail}
JOB_KINDS = {"test.count": count_job}
