"""Processes and devices: one process, or DDP under torchrun / ``accelerate launch`` (their RANK,
WORLD_SIZE, LOCAL_RANK), from start to the end of the process.

``radiovae train`` starts the process group (:func:`setup_distributed`), leaves it when training
has ended (:func:`leave_process_group`) and ends its process without interpreter shutdown
(:func:`end_process`, called by ``cli.main`` after the error line, if any, is written).
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist

from radiovae.errors import UserError


@dataclass
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


_STARTED = {"process_group": False}   # set when setup_distributed started torch.distributed


def owns_process_group() -> bool:
    """Whether :func:`setup_distributed` started torch.distributed in this process."""
    return _STARTED["process_group"]


def setup_distributed(device: str) -> Dist:
    """Single process, or DDP from torchrun's / accelerate's RANK, WORLD_SIZE, LOCAL_RANK.

    A process group started here is left by :func:`leave_process_group` and its process ended by
    :func:`end_process` (``radiovae train`` does both); one the caller started stays the caller's.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available() and device != "cpu"
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise UserError(f"trainer.device must be auto, cpu or cuda[:N], got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"trainer.device is {device!r} but no CUDA device is available")
    if world == 1 and os.environ.get("ACCELERATE_USE_CPU", "").lower() == "true" \
            and "MASTER_PORT" in os.environ:   # accelerate's simple launcher, asked for > 1
        print("radiovae: warning: `accelerate launch --cpu --num_processes N` starts one process "
              "(accelerate's multi-CPU mode needs MPI); for N processes use `accelerate launch "
              "--multi_gpu --num_processes N` (with trainer.device: cpu on a GPU machine)",
              flush=True)
    if world > 1:
        dev = torch.device("cuda", local) if cuda else torch.device("cpu")
        if cuda:
            torch.cuda.set_device(dev)
        if not torch_dist.is_initialized():
            torch_dist.init_process_group("nccl" if cuda else "gloo")
            _STARTED["process_group"] = True
    else:
        dev = torch.device(device if device.startswith("cuda") else "cuda") if cuda else \
            torch.device("cpu")
    return Dist(rank, world, local, dev)


def leave_process_group(finished: bool) -> None:
    """Leave the process group :func:`setup_distributed` started, once training has ended.

    After a finished run the ranks first meet at a barrier, so none tears down while another
    still talks to it. After a failure nothing is torn down: another rank may still wait in a
    collective (a teardown could block on it), the failing rank says why, torchrun stops the
    others, and :func:`end_process` ends this process without waiting for anything.
    """
    if not (_STARTED["process_group"] and torch_dist.is_initialized() and finished):
        return
    try:
        torch_dist.barrier()
    except RuntimeError as exc:   # gloo / NCCL: a peer left (it reports its own error)
        detail = " ".join(str(exc).split())[:160]
        sys.stderr.write(f"radiovae: warning: rank {torch_dist.get_rank()} finished, but another "
                         f"process stopped before the end ({detail})\n")
        return
    torch_dist.destroy_process_group()


def end_process(status: int) -> int:
    """End a process that started a process group with ``os._exit(status)``: no interpreter
    shutdown. Any other process: returns ``status``.

    Why: under torchrun, gloo's worker threads outlive destroy_process_group once DDP has held
    the group (torch 2.13 keeps it referenced), and a worker releases each finished collective's
    tensors after the caller's wait() has returned. One that releases a tensor with a Python
    object while the interpreter finalizes must take the GIL; CPython ends that thread with
    pthread_exit inside a noexcept destructor and C++ aborts the process ("terminate called
    without an active exception", SIGABRT; 3 of 88 tiny 2-process launches before any teardown; core
    dump: ~AsyncAllreduceWork -> decref_pyobject -> take_gil -> PyThread_exit_thread ->
    std::terminate, main thread in Py_FinalizeEx). Without the shutdown there is no such window.
    Nothing is lost: train() has closed the records and written its checkpoints, logging and
    the standard streams are flushed here.
    """
    if not _STARTED["process_group"]:
        return status
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):   # a closed or broken pipe: nothing more can be said
            pass
    os._exit(status)
