"""How a ``radiovae train`` process ends under torchrun (2 CPU processes, gloo).

The abort this guards against: "terminate called without an active exception" (SIGABRT, exit -6)
at the very end of a run, in 3 of 88 launches before. A core dump showed the cause: one of gloo's
worker threads (c10d::ProcessGroupGloo::runLoop) released a finished all_reduce whose tensor had a
Python object (~AsyncAllreduceWork -> decref_pyobject -> take_gil) while the main thread was in
Py_FinalizeEx; CPython ends such a thread with pthread_exit, and its unwinding through a noexcept
destructor calls std::terminate. Those threads outlive destroy_process_group (DDP keeps the group
referenced), so the way out of the race is not to shut the interpreter down while they exist:
the process ends with os._exit after an orderly teardown (radiovae.train.distributed).

Every launch in test_train_resume checks a finished run (``assert_clean_exit``); this checks a
stopped one, where every rank raises right after its last collective, with no barrier first.
"""

from __future__ import annotations

import copy
import json

import torch
import yaml
from test_train_resume import SMALL, _torchrun, assert_clean_exit, run_launcher


def test_run_stopped_on_every_rank_exits_cleanly(tmp_path):
    """Non-finite losses from step 1 on: both ranks write (rank 0) the checkpoint, say why, and
    exit with status 3; no abort, nothing half-written."""
    config = tmp_path / "small.yaml"
    config.write_text(yaml.safe_dump(copy.deepcopy(SMALL)))
    run = tmp_path / "run"
    done = run_launcher(_torchrun(), config, run, "--set", "trainer.max_nonfinite_in_a_row=1",
                        env={"DIVERGE": "1"})
    assert done.returncode != 0 and "exitcode  : 3" in done.stderr   # torchrun names the status
    assert "radiovae: training stopped: 1 non-finite steps in a row (last at step 1" in done.stderr
    assert_clean_exit(done, run)
    ckpt = torch.load(run / "checkpoints" / "model-2.pt", weights_only=True)
    assert ckpt["step"] == 2 and len(ckpt["ranks"]) == 2
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines if "event" not in r] == [0, 1]
    assert lines[-1] == {**lines[-1], "event": "end", "step": 2, "stopped": "diverged"}
    assert any((run / "tb").iterdir())   # the TensorBoard writer closed before os._exit
