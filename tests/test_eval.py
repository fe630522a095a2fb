"""radiovae eval: metrics over a split with the EMA weights, grids, latent statistics."""

from __future__ import annotations

import json
import math

import pytest
import torch
from test_train import tiny

from radiovae.errors import UserError
from radiovae.train import trainer as T
from radiovae.train.evaluate import evaluate


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("evalrun")
    T.train(tiny(train_num_steps=2, save_and_sample_every=2), run, progress=False)
    return run


def test_evaluation_json(run_dir):
    result = evaluate(run_dir, split="test", progress=False)
    on_disk = json.loads((run_dir / "evaluation.json").read_text())
    assert on_disk == json.loads(json.dumps(result))
    # the newest checkpoint of the run (step 2), its grid inside the run dir
    assert on_disk["checkpoint"] == str(run_dir / "checkpoints" / "model-2.pt")
    assert on_disk["grid"] == "eval/test-grid.png"
    assert on_disk["split"] == "test" and on_disk["n_images"] == 2     # 1 held-out map x 2 tx
    assert on_disk["ema"] is True and on_disk["step"] == 2
    assert 0 < on_disk["rmse"] < 1 and -1 <= on_disk["ssim"] <= 1 and on_disk["nmse"] > 0
    assert on_disk["psnr"] == pytest.approx(-20 * math.log10(on_disk["rmse"]), abs=3.0)
    lat = on_disk["latent"]
    assert lat["shape"] == [2, 16, 16] and len(lat["channel_std"]) == 2
    assert on_disk["scale_factor"] == pytest.approx(1 / lat["std"])
    assert (run_dir / on_disk["grid"]).is_file()


def test_eval_cli_and_data_override(run_dir, tmp_path, capsys):
    from radiovae.cli import main

    ckpt = run_dir / "checkpoints" / "model-2.pt"
    assert main(["eval", "--checkpoint", str(ckpt), "--split", "val", "--out", str(tmp_path)]) == 0
    assert "PSNR" in capsys.readouterr().out
    result = json.loads((tmp_path / "evaluation.json").read_text())
    assert result["split"] == "val" and (tmp_path / "eval" / "val-grid.png").is_file()
    # a RadioDiff-style checkpoint (no config) needs --data; a plain folder of PNGs works
    bare = tmp_path / "bare.pt"
    torch.save({"model": torch.load(ckpt, weights_only=True)["model"], "step": 2}, bare)
    with pytest.raises(UserError, match="--data"):
        evaluate(bare, progress=False)
    assert main(["eval", "--checkpoint", str(tmp_path / "missing.pt")]) == 2


def test_eval_on_a_data_directory(run_dir, tmp_path):
    from radiovae.data import synthesize

    synthesize(tmp_path / "maps", maps=3, tx=2, size=32, seed=5, progress=False)
    result = evaluate(run_dir, data=tmp_path / "maps", split="test", out=tmp_path,
                      progress=False)
    assert result["data"]["name"] == "radiomapseer" and result["data"]["simulation"] == "SYN"
    # 3 maps: RadioDiff's test range (600-699 of 700) scaled holds the last one, x 2 tx
    assert result["n_images"] == 2 and math.isfinite(result["psnr"])
