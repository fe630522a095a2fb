"""Checksummed checkpoints: flipped tensor bytes that torch loads without complaint are caught by
the payload digest; a resume passes over the damaged file to the previous one and then repeats
the uninterrupted run exactly; export / load_autoencoder refuse it in one line; a checkpoint
without a digest (RadioDiff's, an older radiovae's) still loads, saying it was not verified."""

from __future__ import annotations

import copy
import shutil
import zipfile
from pathlib import Path

import pytest
import torch
import yaml
from helpers import run_records as rows
from test_train_resume import SMALL, assert_same_records, error_lines

from radiovae.cli import main
from radiovae.model.checkpoint import (
    DIGEST_KEY,
    DamagedCheckpoint,
    load_autoencoder,
    load_checkpoint,
    payload_digest,
)
from radiovae.train import trainer as T


def flip_tensor_bytes(path: Path, n: int = 64) -> None:
    """XOR ``n`` bytes in the middle of the checkpoint's largest tensor record (inside the zip,
    so the archive still opens and torch still loads it)."""
    with zipfile.ZipFile(path) as z:
        info = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    raw = bytearray(path.read_bytes())
    name_len, extra_len = (int.from_bytes(raw[info.header_offset + o:info.header_offset + o + 2],
                                          "little") for o in (26, 28))
    start = info.header_offset + 30 + name_len + extra_len + info.file_size // 2 - n // 2
    assert info.file_size >= n
    for i in range(start, start + n):
        raw[i] ^= 0x5A
    path.write_bytes(bytes(raw))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The uninterrupted 8-step run, and a copy stopped at step 6 (checkpoints 2, 4, 6)."""
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("ckpt")
    full = base / "full"
    T.train(copy.deepcopy(SMALL), full, max_steps=8, progress=False)
    part = base / "part"
    T.train(copy.deepcopy(SMALL), part, max_steps=6, progress=False)
    return full, part


def test_digest_survives_save_and_load(runs, tmp_path):
    ckpt = runs[1] / "checkpoints" / "model-6.pt"
    raw = torch.load(ckpt, weights_only=True)
    digest = raw.pop(DIGEST_KEY)
    assert len(digest) == 64 and payload_digest(raw) == digest
    assert load_checkpoint(ckpt)["step"] == 6
    raw["step"] = 7                                         # any value counts, not only tensors
    assert payload_digest(raw) != digest


def test_damaged_checkpoint_is_skipped_and_the_resume_repeats_the_uninterrupted_run(
        runs, tmp_path, capsys):
    full, part = runs
    run = tmp_path / "run"
    shutil.copytree(part, run)
    newest = run / "checkpoints" / "model-6.pt"
    flip_tensor_bytes(newest)
    torch.load(newest, weights_only=True)                   # torch itself does not notice
    with pytest.raises(DamagedCheckpoint, match="is damaged"):
        load_checkpoint(newest)
    capsys.readouterr()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(SMALL))
    assert main(["train", "--config", str(cfg), "--run-dir", str(run)]) == 0
    out = capsys.readouterr().out
    assert out.count("radiovae: warning: skipping") == 1
    assert f"skipping {newest}: checkpoint {newest} is damaged" in out
    # resumed from model-4: steps 4-7 again, every logged term as in the uninterrupted run
    assert_same_records(full, run)
    assert len(rows(run)) == 8


def test_export_and_load_autoencoder_refuse_a_damaged_file(runs, tmp_path, capsys):
    bad = tmp_path / "model-6.pt"
    shutil.copy(runs[1] / "checkpoints" / "model-6.pt", bad)
    flip_tensor_bytes(bad)
    with pytest.raises(DamagedCheckpoint):
        load_autoencoder(bad)
    capsys.readouterr()
    assert main(["export", str(bad), str(tmp_path / "out"), "--format", "radiodiff"]) == 2
    err = error_lines(capsys.readouterr().err)
    assert len(err) == 1 and err[0] == (f"radiovae: error: checkpoint {bad} is damaged: its "
                                        "contents do not match the checksum written with it "
                                        "(SHA-256 of its payload)")
    assert not (tmp_path / "out").exists()


def test_checkpoint_without_digest_loads_and_says_it_was_not_verified(runs, tmp_path, capsys):
    raw = torch.load(runs[1] / "checkpoints" / "model-6.pt", weights_only=True)
    raw.pop(DIGEST_KEY)
    old = tmp_path / "model-6.pt"
    torch.save(raw, old)                                     # as RadioDiff / older radiovae wrote
    capsys.readouterr()
    model = load_autoencoder(old)
    load_checkpoint(old)                                     # said once per file, not per load
    err = capsys.readouterr().err.splitlines()
    assert err == [f"radiovae: note: {old} carries no checksum (RadioDiff's, or by an older "
                   "radiovae): its bytes could not be verified"]
    assert model.embed_dim == 2
