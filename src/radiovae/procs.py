"""Forked worker processes that never outlive the command that started them.

A worker of a ``ProcessPoolExecutor`` whose parent is killed (SIGKILL, or SIGTERM without a
handler) is re-parented and keeps running: a killed ``radiovae report`` left its two drawing
workers alive for as long as their job took, and forked workers holding the parent's copy of the
records for longer. Here each worker asks the kernel to kill it when its parent dies (Linux
``PR_SET_PDEATHSIG``; elsewhere a thread that watches the parent), ignores SIGINT (Ctrl-C reaches
the whole process group; the parent decides) and takes SIGTERM's default action; an interrupted
parent ends its workers at once with :func:`kill_pool` before it removes their output folder.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

_PR_SET_PDEATHSIG = 1


def _die_with(parent: int, then: Callable[[], None] | None) -> None:
    """Worker initializer: end this process when ``parent`` ends, then run ``then``."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    armed = False
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    if not armed:
        threading.Thread(target=_watch, args=(parent,), daemon=True).start()
    if os.getppid() != parent:          # the parent died before the request was made
        os._exit(1)
    if then is not None:
        then()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def worker_pool(workers: int, warm: Callable[[], None] | None = None) -> ProcessPoolExecutor:
    """A forked pool of ``workers`` whose processes end with this one; ``warm`` runs first in
    each (imports they will need). Fork start method only: callers check it exists."""
    return ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"),
                               initializer=_die_with, initargs=(os.getpid(), warm))


def kill_pool(pool: ProcessPoolExecutor) -> None:
    """End ``pool``'s workers now (an interrupted command wants none of their results) and wait
    until they are gone, so none writes into a folder after it was removed."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for p in procs:
        with contextlib.suppress(Exception):
            p.kill()
    for p in procs:
        with contextlib.suppress(Exception):
            p.join(5)
    with contextlib.suppress(Exception):
        pool.shutdown(wait=False, cancel_futures=True)
