"""radiovae demo, shortened (RADIOVAE_DEMO_STEPS / _MAPS): maps -> both training phases ->\nevaluation -> report, through the real command."""

from __future__ import annotations

import json
import os

from helpers import cli

from radiovae.train.demo import demo_config


def test_demo_config_is_the_real_one_shortened():
    full, short = demo_config().as_dict(), demo_config(steps=6).as_dict()
    assert full["model"] == {**short["model"], "lossconfig": full["model"]["lossconfig"]}
    assert short["model"]["lossconfig"]["disc_start"] == 3 and short["trainer"]["train_num_steps"] == 6
    assert 1 < full["model"]["lossconfig"]["disc_start"] < full["trainer"]["train_num_steps"]


def test_demo_command_shortened_by_env(tmp_path):
    env = {**os.environ, "RADIOVAE_DEMO_STEPS": "2", "RADIOVAE_DEMO_MAPS": "2"}
    proc = cli("demo", "--out", str(tmp_path / "d"), env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "PSNR" in proc.stdout and "report" in proc.stdout
    out = tmp_path / "d"
    ev = json.loads((out / "run" / "evaluation.json").read_text())
    # the held-out cities: eval_num_maps (2, as RADIOVAE_DEMO_MAPS caps it) x 8 transmitters
    assert ev["n_images"] == 16 and ev["psnr"] > 0 and ev["split"] == "test"
    summary = json.loads((out / "report" / "summary.json").read_text())
    assert summary["evaluation"]["psnr"] == ev["psnr"]
    assert [p["name"] for p in summary["phases"]] == ["vae", "vae_gan"]   # both phases ran
    # two steps cannot show a trend: the verdict says so, and the trainer's end marker finishes it
    assert summary["verdict"] == "too_short" and summary["judged_records"]["records"] < 20
    assert summary["state"]["state"] == "finished"
    for name in ("report.md", "report.html", "figures/eval_grid.png"):
        assert (out / "report" / name).is_file(), name
    assert list((out / "maps" / "gain").rglob("*.png"))
    assert sorted(p.name for p in (out / "run" / "samples").glob("*.png")) == [
        "step-0000001.png", "step-0000002.png"]
