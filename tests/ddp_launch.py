"""Launch `radiovae train` as 2 CPU processes (gloo, loopback) and check how the processes end.

Each process runs the CLI through a small probe script that registers, before anything else, an
atexit handler leaving ``<run>.finalized-rank<N>``: the interpreter began its shutdown, which must
not happen under a process group (radiovae.train.distributed.end_process; tests/test_ddp_exit.py
says why). The probe can also make every step from step 1 on non-finite (``DIVERGE``), and arm
the exit race that aborted runs (``ARM_EXIT_RACE``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

EXIT_PROBE = '''
import atexit, os, threading, time
from pathlib import Path

run = os.environ["RUN_DIR"]
if os.environ.get("ARM_EXIT_RACE") and os.environ["RANK"] == "1":
    # first registered, last run: a C call holding the GIL ~1 s with no bytecode to hand it over
    atexit.register(sum, range(10**8))
    atexit.register(Path(run + ".rank1-exiting").write_text, "")
atexit.register(Path(run + f".finalized-rank{os.environ['RANK']}").write_text, "")

import torch
import torch.distributed as dist
from radiovae.train import trainer

if os.environ.get("DIVERGE"):
    step_call = trainer._DDPStep.__call__

    def diverging(self, micro, step):
        record = step_call(self, micro, step)
        record["nonfinite"] = 1.0 if step >= 1 else record["nonfinite"]
        return record

    trainer._DDPStep.__call__ = diverging

if os.environ.get("ARM_EXIT_RACE"):
    # What aborted runs, made certain: a collective whose tensor only gloo's worker thread still
    # holds completes while rank 1 shuts down; the worker must then take the GIL to release the
    # tensor's Python object (a Parameter keeps one) and CPython ends the thread -> std::terminate.
    train, KEEP = trainer.train, []

    def late(group):   # rank 0 completes it once rank 1 is in its atexit handlers
        t = torch.ones(4)
        for _ in range(400):
            if Path(run + ".rank1-exiting").exists():
                break
            time.sleep(0.05)
        try:
            dist.all_reduce(t, group=group)
        except RuntimeError:
            pass   # rank 1 has gone (os._exit): nothing to complete
        time.sleep(0.5)   # keeps t while gloo's worker lets go of it: no race on this rank

    def armed(*args, **kwargs):
        try:
            return train(*args, **kwargs)
        finally:   # a second group, held as DDP holds WORLD, so it outlives the teardown
            group = dist.new_group(backend="gloo")
            KEEP.append(group)
            if dist.get_rank() == 1:
                with torch.no_grad():
                    dist.all_reduce(torch.nn.Parameter(torch.ones(4)), group=group, async_op=True)
            else:
                threading.Thread(target=late, args=(group,)).start()

    trainer.train = armed

from radiovae.cli import main

raise SystemExit(main())
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun() -> list[str]:
    return ["-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
            "--master_port", str(free_port())]


def run_launcher(launcher: list[str], config: Path, run: Path, *extra: str,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`radiovae train` under ``launcher`` (2 processes); stdout and stderr kept beside ``run``."""
    probe = config.parent / "exit_probe.py"
    probe.write_text(EXIT_PROBE)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "RUN_DIR": str(run),
           "HF_HOME": str(config.parent / "hf"), **(env or {})}   # no user accelerate config
    if sys.platform.startswith("linux"):
        env["GLOO_SOCKET_IFNAME"] = "lo"
    cmd = [sys.executable, *launcher, str(probe), "train", "--config", str(config),
           "--run-dir", str(run), *extra]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    log = run.parent / f"{run.name}.launch.log"
    log.write_text(f"{' '.join(cmd)}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}")
    return done


def assert_clean_exit(done: subprocess.CompletedProcess, run: Path) -> None:
    """No abort at exit ("terminate called without an active exception", SIGABRT) and no
    interpreter shutdown in any process (where that abort happens)."""
    for sign in ("terminate called", "SIGABRT", "Fatal Python error", "exitcode  : -6"):
        assert sign not in done.stderr, f"{sign!r}: see {run.parent / f'{run.name}.launch.log'}"
    shutdown = sorted(p.name for p in run.parent.glob(f"{run.name}.finalized-rank*"))
    assert shutdown == [], f"the interpreter shut down under a process group: {shutdown}"
