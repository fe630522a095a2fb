"""Shared fixtures. The real RadioDiff run lives in ../shared/data beside the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
REAL_RUN_CSV = SHARED_DATA / "radiodiff_vae_run_steps35000-149900.csv"


@pytest.fixture(scope="session")
def real_run_csv() -> Path:
    """The metrics of a real public RadioDiff VAE run (steps 35,000-149,900)."""
    if not REAL_RUN_CSV.is_file():
        pytest.fail(f"missing {REAL_RUN_CSV}: the tests expect ../shared/data beside the repository")
    return REAL_RUN_CSV


@pytest.fixture(scope="session")
def real(real_run_csv):
    """The real run as a frame (logfactory.read_real_run): step, time, the generator terms.
    Read once for the session: a test that plants a fault plants it in a copy (checked)."""
    import pandas as pd
    from logfactory import read_real_run

    frame = read_real_run(real_run_csv)
    yield frame
    pd.testing.assert_frame_equal(frame, read_real_run(real_run_csv), obj="the shared real frame")


@pytest.fixture(scope="session")
def real_logs(real_run_csv, tmp_path_factory):
    """The real run as RadioDiff's two logs of a resumed run (logfactory.write_radiodiff_logs:
    resumed at 90,000 after a crash at 92,000, each log's last line cut). Read only."""
    from logfactory import write_radiodiff_logs

    return write_radiodiff_logs(real_run_csv, tmp_path_factory.mktemp("real_logs"))


@pytest.fixture(scope="session")
def real_summary(real_run_csv):
    """summary.json of the real run read from its CSV (read only: tests copy before changing it,
    checked at the end of the session)."""
    import json

    from radiovae import analyze, load_run

    summary = analyze(load_run(real_run_csv)).to_json()   # summary.json's content
    before = json.dumps(summary, sort_keys=True, default=str)
    yield summary
    assert json.dumps(summary, sort_keys=True, default=str) == before, "a test changed real_summary"


@pytest.fixture
def one_torch_thread():
    """Tiny models: one thread is ~10x cheaper than two spinning on a shared 2-core machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
