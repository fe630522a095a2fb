"""A TensorBoard event file with one damaged record in the middle: the record is skipped and
said (its byte position in the run's notes), every other step is read - never a silent stop."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from runformats import write_tensorboard

from radiovae.errors import UserError
from radiovae.runlog import load_run


def twenty_steps(tmp_path: Path) -> Path:
    df = pd.DataFrame({"step": np.arange(20) * 10, "time": 1.7e9 + np.arange(20.0),
                       "train/total_loss": np.linspace(1, 0.1, 20)})
    return write_tensorboard(df, tmp_path / "tb")


def record_offsets(data: bytes) -> list[int]:
    out, pos = [], 0
    while pos + 12 <= len(data):
        out.append(pos)
        pos += 16 + struct.unpack("<Q", data[pos:pos + 8])[0]
    return out


def damaged(path: Path, where: str) -> tuple[Path, int]:
    """Damage the record holding the 10th step (record 11: the first is the version event)."""
    data = bytearray(path.read_bytes())
    at = record_offsets(bytes(data))[11]
    length = struct.unpack("<Q", data[at:at + 8])[0]
    if where == "length crc":
        data[at + 9] ^= 0xFF
    elif where == "length":
        data[at] ^= 0x01                              # the length itself: its CRC then fails
    elif where == "data crc":
        data[at + 12 + length] ^= 0xFF
    else:                                             # a payload byte
        data[at + 12 + length // 2] ^= 0x40
    path.write_bytes(bytes(data))
    return path, at


@pytest.mark.parametrize("where", ["length crc", "length", "data crc", "payload"])
def test_one_damaged_record_is_skipped_and_said(tmp_path, where):
    path, at = damaged(twenty_steps(tmp_path), where)
    run = load_run(path)
    steps = run.table["step"].tolist()
    assert steps == [s for s in range(0, 200, 10) if s != 100]      # 19 of 20, not 10
    assert run.note_count == 1
    what = run.notes[0]["what"]
    assert what.startswith(f"TensorBoard record at byte {at:,}: a record whose ")
    assert ("length fails its CRC" in what) == where.startswith("length")


def test_torn_last_record_is_noted_not_an_error(tmp_path):
    path = twenty_steps(tmp_path)
    path.write_bytes(path.read_bytes()[:-7])
    run = load_run(path)
    assert len(run.table) == 19 and run.note_count == 1
    assert "a torn last record" in run.notes[0]["what"]


def test_a_file_of_nothing_but_damage_is_one_line(tmp_path):
    path = twenty_steps(tmp_path)
    data = bytearray(path.read_bytes())
    for at in record_offsets(bytes(data)):
        data[at + 8] ^= 0xFF                          # every length CRC
    path.write_bytes(bytes(data))
    with pytest.raises(UserError, match="unreadable TensorBoard event file .no intact record"):
        load_run(path)
