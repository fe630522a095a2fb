"""How a ``radiovae train`` process ends under torchrun (2 CPU processes, gloo).

The abort this guards against: "terminate called without an active exception" (SIGABRT, exit -6)
at the very end of a run, 3 of 88 launches before any teardown. Core dumps show the cause: one of
gloo's worker threads (c10d::ProcessGroupGloo::runLoop) releases a finished all_reduce whose
tensor has a Python object (~AsyncAllreduceWork -> decref_pyobject -> take_gil) just as the main
thread enters Py_FinalizeEx; CPython ends such a thread with pthread_exit, and its unwinding
through a noexcept destructor calls std::terminate. The worker threads outlive
destroy_process_group (DDP keeps the group referenced), and a barrier only narrows the window,
so the process ends with os._exit after an orderly teardown, never in interpreter shutdown
(radiovae.train.distributed).

Both tests arm that race so that it is certain rather than rare (tests/ddp_launch.py): against
the code before this fix each aborts every time (3 of 3), with the same stack as the real abort.
Every launch in test_train_resume also checks that no process shut its interpreter down.
"""

from __future__ import annotations

import copy
import json

import torch
import yaml
from ddp_launch import assert_clean_exit, run_launcher, torchrun
from test_train_resume import SMALL


def _config(tmp_path):
    config = tmp_path / "small.yaml"
    config.write_text(yaml.safe_dump(copy.deepcopy(SMALL)))
    return config


def test_finished_run_exits_cleanly_when_gloo_releases_a_tensor_at_exit(tmp_path):
    run = tmp_path / "run"
    done = run_launcher(torchrun(), _config(tmp_path), run, "--max-steps", "2",
                        env={"ARM_EXIT_RACE": "1"})
    assert done.returncode == 0, f"see {tmp_path / 'run.launch.log'}"
    assert_clean_exit(done, run)
    # what an exit without interpreter shutdown could lose: the output, records, checkpoint
    assert f"trained to step 2/8; checkpoint {run / 'checkpoints' / 'model-2.pt'}" in done.stdout
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines if "event" not in r] == [0, 1]
    assert lines[-1] == {**lines[-1], "event": "end", "step": 2, "stopped": "max_steps"}
    ckpt = torch.load(run / "checkpoints" / "model-2.pt", weights_only=True)
    assert ckpt["step"] == 2 and len(ckpt["ranks"]) == 2
    assert any((run / "tb").iterdir())


def test_stopped_run_exits_cleanly_when_gloo_releases_a_tensor_at_exit(tmp_path):
    """Non-finite losses from step 1 on: every rank raises right after its last collective (the
    checkpoint's), with no barrier; rank 0 writes the checkpoint, each says why, status 3."""
    run = tmp_path / "run"
    done = run_launcher(torchrun(), _config(tmp_path), run,
                        "--set", "trainer.max_nonfinite_in_a_row=1",
                        env={"ARM_EXIT_RACE": "1", "DIVERGE": "1"})
    assert done.returncode != 0 and "exitcode  : 3" in done.stderr   # torchrun names the status
    assert "radiovae: training stopped: 1 non-finite steps in a row (last at step 1" in done.stderr
    assert_clean_exit(done, run)
    ckpt = torch.load(run / "checkpoints" / "model-2.pt", weights_only=True)
    assert ckpt["step"] == 2 and len(ckpt["ranks"]) == 2
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines if "event" not in r] == [0, 1]
    assert lines[-1] == {**lines[-1], "event": "end", "step": 2, "stopped": "diverged"}
