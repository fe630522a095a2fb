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


@pytest.fixture
def one_torch_thread():
    """Tiny models: one thread is ~10x cheaper than two spinning on a shared 2-core machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
