"""watch: a growing RadioDiff log is followed, and the report follows it."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

import pytest

from radiovae.cli import main
from radiovae.errors import UserError
from radiovae.report.watch import Watcher, training_done, watch_loop
from radiovae.runlog import format_radiodiff_lines

TOTAL = 2000
START = datetime(2025, 8, 15, 20, 41, 7)


def _lines(first: int, last: int, nan_at: int | None = None) -> str:
    """RadioDiff log lines for steps first..last (every 10), discriminator on from step 1000."""
    out = []
    for step in range(first, last + 1, 10):
        on = step >= 1000
        gen = {"train/total_loss": 900 - step / 10 - (2000 if on else 0),
               "train/logvar": 0.0, "train/kl_loss": 150000 + step,
               "train/nll_loss": 900 - step / 10, "train/rec_loss": 0.03 - step * 1e-5,
               "train/d_weight": 5000.0, "train/disc_factor": 1.0 if on else 0.0,
               "train/g_loss": -0.45, "lr": 5e-6}
        if step == nan_at:
            gen["train/total_loss"] = math.nan
        disc = {"train/disc_loss": 0.9 if on else 0.0, "train/logits_real": 0.1,
                "train/logits_fake": -0.1, "lr": 5e-6}
        out += format_radiodiff_lines(step, TOTAL, gen, disc, START + timedelta(seconds=step / 5))
    return "".join(line + "\n" for line in out)


def test_watch_follows_appended_lines(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(_lines(0, 990))
    out = tmp_path / "report"
    watcher = Watcher(log, out, figure_period=3600)

    first = watcher.refresh()
    assert first.changed and first.drew_figures
    assert first.summary.records == 100
    assert first.summary.steps.last == 990
    assert (out / "figures" / "dashboard.png").is_file()
    assert "990" in (out / "report.md").read_text()

    with log.open("a") as f:
        f.write(_lines(1000, 1490, nan_at=1200))
    second = watcher.refresh()
    assert second.changed and second.new_records == 50
    assert second.summary.steps.last == 1490
    assert second.summary.phase("vae_gan") is not None
    new_ids = {f.id for f in second.new_findings}
    assert "non_finite" in new_ids                       # the planted NaN, as a new finding
    assert second.drew_figures                           # a new warning/critical redraws figures
    assert json.loads((out / "summary.json").read_text())["steps"]["last"] == 1490
    assert "1,490" in (out / "report.md").read_text()

    third = watcher.refresh()                            # nothing appended: nothing rewritten
    assert not third.changed and third.new_records == 0

    with log.open("a") as f:
        f.write(_lines(1500, 1590))
    fourth = watcher.refresh()
    assert fourth.new_records == 10 and not fourth.drew_figures   # text only
    md = (out / "report.md").read_text()
    assert "Figures were drawn at step 1,490" in md and "1,590" in md


def test_watch_stops_at_the_end_of_training(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text(_lines(0, TOTAL))
    watcher = Watcher(log, tmp_path / "out")
    summary = watch_loop(watcher, interval=0.01, max_refreshes=50, live=False)
    # the first refresh sees the whole run; one more, with figures, reads its last lines
    assert watcher.refreshes == 2 and training_done(summary)
    assert (tmp_path / "out" / "report.html").is_file()


def test_watch_waits_for_an_empty_run_dir(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    watcher = Watcher(run_dir, tmp_path / "out")
    update = watcher.refresh()
    assert update.summary is None and "waiting" in update.waiting
    (run_dir / "train.log").write_text(_lines(0, 200))
    update = watcher.refresh()
    assert update.summary is not None and update.summary.steps.last == 200


def test_watch_waits_for_an_empty_log_but_not_for_garbage(tmp_path):
    log = tmp_path / "train.log"
    log.touch()
    watcher = Watcher(log, tmp_path / "out")
    assert watcher.refresh().waiting
    log.write_text(_lines(0, 100))
    assert watcher.refresh().summary.steps.last == 100
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(UserError):
        Watcher(garbage, tmp_path / "out2").refresh()


def test_watch_missing_path_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="nope"):
        Watcher(tmp_path / "nope.log", tmp_path / "out")


def test_watch_cli_max_refreshes(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text(_lines(0, 500))
    out = tmp_path / "out"
    assert main(["watch", str(log), "--out", str(out), "--interval", "0.01",
                 "--max-refreshes", "2"]) == 0
    assert "verdict" in capsys.readouterr().out
    assert (out / "report.md").is_file()
