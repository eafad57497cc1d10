"""Waiting with progress: one way for every task that waits (tenacity does the retrying)."""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import TypeVar

import tenacity

T = TypeVar("T")


def poll(attempt: Callable[[], T], *, done: Callable[[T], bool], timeout: float, interval: float,
         on_wait: Callable[[float], None] = lambda elapsed: None,
         clock: Callable[[], float] = time.monotonic,
         sleep: Callable[[float], None] = time.sleep) -> tuple[bool, T]:
    """Call `attempt` every `interval` seconds until `done(result)`, for at most `timeout` seconds;
    `on_wait(elapsed)` before each pause (a progress line). Returns (done, the last result)."""
    started = clock()
    last: list[T] = []

    def tried() -> bool:
        last[:] = [attempt()]
        return done(last[0])

    finished = tenacity.Retrying(
        retry=tenacity.retry_if_result(lambda ok: not ok),
        stop=lambda state: clock() - started >= timeout,
        wait=tenacity.wait_fixed(interval), sleep=sleep,
        before_sleep=lambda state: on_wait(clock() - started),
        retry_error_callback=lambda state: False,
    )(tried)
    return finished, last[0]


def answers(url: str) -> bool:
    """Whether an HTTP server answers at `url`, whatever the status."""
    try:
        urllib.request.urlopen(url, timeout=2).close()  # noqa: S310 (a local development URL)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def start_after_answer(arguments: Sequence[str]) -> None:
    """URL TIMEOUT ARGV...: replace this process with ARGV once URL answers, or after TIMEOUT
    seconds whatever it does (what processes.after_answer runs)."""
    url, timeout, *argv = arguments
    poll(lambda: answers(url), done=bool, timeout=float(timeout), interval=0.25)
    os.execvp(argv[0], argv)
