"""A killed ``radiovae report`` leaves nothing behind: its drawing workers end with it (SIGTERM
and SIGKILL), SIGTERM removes its temporary folder at once, and the folder SIGKILL had to leave
is removed by the next report into the same ``--out``. Processes are counted in the report's
own session (it is started as a session leader; its workers stay in that session)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def big_log(path: Path, n: int = 200_000) -> Path:
    """Enough records that drawing the figures takes a second or more."""
    s = np.arange(n)
    loss = 1.0 / (s + 10.0) + 0.01 * np.sin(s / 50.0)
    lines = [f'{{"step": {i}, "time": {1.7e9 + i * 0.5}, "train/total_loss": {v:.6g}, '
             f'"train/rec_loss": {v / 2:.6g}, "train/kl_loss": {100 + i * 1e-3:.6g}}}'
             for i, v in zip(s.tolist(), loss.tolist(), strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def session(sid: int) -> list[int]:
    """Live (not zombie) processes of session ``sid``."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            out.append(int(d.name))
    return out


def temp_folders(parent: Path) -> list[Path]:
    return sorted(parent.glob(".out.tmp-*"))


def start_report(log: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "radiovae", "report", str(log), "--out",
                             str(out)], start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def wait_until_drawing(proc: subprocess.Popen, parent: Path, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any((t / "figures").is_dir() for t in temp_folders(parent)):
            return
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.01)
    raise AssertionError("the report never started drawing")


def left_after(sid: int, timeout: float = 10) -> list[int]:
    end = time.monotonic() + timeout
    while (alive := session(sid)) and time.monotonic() < end:
        time.sleep(0.05)
    return alive


@pytest.fixture(scope="module")
def log(tmp_path_factory) -> Path:
    return big_log(tmp_path_factory.mktemp("big") / "metrics.jsonl")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_report_leaves_no_process(log, tmp_path, sig):
    out = tmp_path / "out"
    proc = start_report(log, out)
    try:
        check_kill(proc, log, out, tmp_path, sig)
    finally:                                    # whatever failed, leave nothing running
        for pid in session(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def check_kill(proc: subprocess.Popen, log: Path, out: Path, tmp_path: Path, sig: int) -> None:
    wait_until_drawing(proc, tmp_path)
    before = session(proc.pid)
    assert proc.pid in before and len(before) >= 3        # the report and its 2 drawing workers
    os.kill(proc.pid, sig)
    rc = proc.wait(60)
    assert left_after(proc.pid) == []                       # no worker outlives it
    if sig == signal.SIGTERM:
        assert rc == 143 and proc.stderr.read().strip() == "radiovae: terminated"
        assert temp_folders(tmp_path) == []                 # removed on SIGTERM
    else:
        assert rc == -signal.SIGKILL
        assert len(temp_folders(tmp_path)) == 1            # SIGKILL leaves it ...
        again = start_report(log, out)
        assert again.wait(300) == 0, again.stderr.read()
        assert temp_folders(tmp_path) == []                 # ... the next start removes it
        assert (out / "report.md").is_file()
    assert not out.exists() or (out / "report.md").is_file()
