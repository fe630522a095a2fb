"""The bulk reader of RadioDiff logs reads every line as the plain per-line parser does, whatever
its keys: a key renamed, added or reordered on a line the reader never sampled goes to its own
column, and a value the plain parser refuses is never read as some other number."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from radiovae.runlog import radiodiff_log
from radiovae.runlog.radiodiff_bulk import FAST_MIN_LINES, fast_parse
from radiovae.runlog.radiodiff_log import format_radiodiff_lines, parse_line, parse_radiodiff

KEYS = ["train/total_loss", "train/kl_loss", "train/rec_loss", "train/g_loss", "lr"]
STEPS = 1000
ODD = 517          # a line in the middle: not among the first, last or 64 spread-out lines


def log_lines() -> list[str]:
    t0 = datetime(2025, 8, 15, 20, 41, 7)
    out = []
    for step in range(STEPS):
        terms = {k: (j + 1) * 10.0 + step / 1000 for j, k in enumerate(KEYS)}
        out += format_radiodiff_lines(step, STEPS, terms, None, t0 + timedelta(seconds=step))
    assert len(out) >= FAST_MIN_LINES
    return out


@pytest.fixture(autouse=True)
def bulk(monkeypatch):
    """What the bulk path took: {"rows": lines read in bulk, "slow": lines left to the plain
    parser} of the last read."""
    seen = {}

    def spy(*args, **kwargs):
        frame, slow, nans = fast_parse(*args, **kwargs)
        seen["rows"] = 0 if frame is None else len(frame)
        seen["slow"] = list(slow)
        return frame, slow, nans

    monkeypatch.setattr(radiodiff_log, "fast_parse", spy)
    return seen


def plain_rows(lines: list[str]) -> dict[int, dict[str, float]]:
    """The truth: the plain parser on every line (one line per step here)."""
    rows = {}
    for line in lines:
        parsed = parse_line(line.encode())
        if parsed is not None:
            rows[parsed[1]] = parsed[3]
    return rows


def read(lines: list[str]):
    return parse_radiodiff(("\n".join(lines) + "\n").encode())


def assert_reads_like_the_plain_parser(lines: list[str]) -> None:
    rec = read(lines)
    truth = plain_rows(lines)
    table = rec.table.set_index("step")
    assert sorted(table.index) == sorted(truth)
    columns = set(table.columns) - {"time"}
    assert columns == {k for terms in truth.values() for k in terms}
    for step, terms in truth.items():
        for key in columns:
            got, want = table.at[step, key], terms.get(key, math.nan)
            assert (math.isnan(got) and math.isnan(want)) or got == want, (step, key, got, want)


def edit(line: str, old: str, new: str) -> str:
    assert old in line
    return line.replace(old, new)


def test_a_key_renamed_on_one_unsampled_line_goes_to_its_own_column(bulk):
    lines = log_lines()
    lines[ODD] = edit(lines[ODD], "train/g_loss", "train/d_loss")   # same length, same count
    assert_reads_like_the_plain_parser(lines)
    assert bulk["rows"] == STEPS and not bulk["slow"]    # its own skeleton: read in bulk too
    table = read(lines).table.set_index("step")
    assert math.isnan(table.at[ODD, "train/g_loss"]) and table.at[ODD, "train/d_loss"] == 40.517


def test_keys_reordered_on_one_unsampled_line_keep_their_values(bulk):
    lines = log_lines()
    a, b = "train/kl_loss: 20.51700", "train/rec_loss: 30.51700"
    lines[ODD] = edit(edit(lines[ODD], a, "#"), b, a).replace("#", b)
    assert_reads_like_the_plain_parser(lines)
    assert bulk["rows"] == STEPS
    table = read(lines).table.set_index("step")
    assert table.at[ODD, "train/kl_loss"] == 20.517 and table.at[ODD, "train/rec_loss"] == 30.517


def test_a_key_added_and_one_dropped_on_unsampled_lines():
    lines = log_lines()
    lines[ODD] = lines[ODD] + "train/extra: 7.00000, "
    lines[ODD + 2] = edit(lines[ODD + 2], "train/g_loss: 40.51900, ", "")
    assert_reads_like_the_plain_parser(lines)


@pytest.mark.parametrize("value", ["1:5", "1,5", "1[5]", "1.0.0", "--1", "0x10", "1e", ".", "nanx"])
def test_a_value_the_plain_parser_refuses_is_not_read_as_another_number(value, bulk):
    lines = log_lines()
    lines[ODD] = edit(lines[ODD], "train/g_loss: 40.51700", f"train/g_loss: {value}")
    rec = read(lines)
    assert parse_line(lines[ODD].encode()) is None
    assert ODD not in set(rec.table["step"]) and rec.note_count >= 1
    assert bulk["rows"] == STEPS - 1 and bulk["slow"] == [ODD]
    assert_reads_like_the_plain_parser(lines)


@pytest.mark.parametrize("value, number", [
    ("1e06", 1e6), ("1e-06", 1e-6), ("2.5E+03", 2500.0), ("nan", math.nan), ("-inf", -math.inf),
    ("Infinity", math.inf), ("-0.00000", -0.0), (".5", 0.5), ("7.", 7.0),
    ("1_000", 1000.0), (" 7.5", 7.5),                 # float() reads these; the plain parser does
    ("0.1000000000000000055511151231257827", 0.1),    # more digits than a double holds
    ("123456789012345678901234567890", 1.2345678901234568e29), ("1e400", math.inf),
    ("4.9e-324", 5e-324), ("9007199254740993", 9007199254740992.0)])
def test_other_spellings_of_numbers_on_an_unsampled_line(value, number, bulk):
    lines = log_lines()
    lines[ODD] = edit(lines[ODD], "lr: 50.51700", f"lr: {value}")
    assert_reads_like_the_plain_parser(lines)
    got = read(lines).table.set_index("step").at[ODD, "lr"]
    assert (math.isnan(got) and math.isnan(number)) or got == number
    assert bulk["rows"] + len(bulk["slow"]) == STEPS and bulk["rows"] >= STEPS - 1


def test_the_bulk_path_takes_the_standard_lines(bulk):
    """On a clean log every line is read in bulk, as the plain parser reads it, the columns the
    keys in order of appearance."""
    lines = log_lines()
    rec = read(lines)
    assert bulk["rows"] == STEPS and not bulk["slow"]
    assert list(rec.table.columns) == ["step", "time", *KEYS]
    np.testing.assert_array_equal(rec.table["step"], np.arange(STEPS))
    assert_reads_like_the_plain_parser(lines)


def test_keys_that_change_every_line_read_like_the_plain_parser(bulk):
    """Hundreds of key sequences (a key of its own per line): the most common MAX_SHAPES are read
    in bulk, the rest by the plain parser, all as the plain parser reads them."""
    from radiovae.runlog.radiodiff_bulk import MAX_SHAPES

    def letters(i: int) -> str:
        return "".join("abcdefghijklmnopqrstuvwxyz"[int(d)] for d in f"{i:03d}")

    lines = log_lines()
    for i in range(0, 600, 2):
        lines[i] = edit(lines[i], "train/g_loss", f"train/{letters(i)}")
    assert_reads_like_the_plain_parser(lines)
    assert 0 < len(bulk["slow"]) < 300 and bulk["rows"] + len(bulk["slow"]) == STEPS
    assert bulk["rows"] >= STEPS - 300 + MAX_SHAPES - 1


def test_every_spelling_of_a_number_reads_as_float_reads_it(bulk):
    """Thousands of values in the spellings loggers use (RadioDiff's {:.5f}, repr, %e, %g, long
    and huge, subnormal, negative zero): each read in bulk is float()'s value, bit for bit."""
    rng = np.random.default_rng(7)
    mags = 10.0 ** rng.uniform(-330, 307, 4000)
    pool = np.concatenate([rng.standard_normal(4000) * mags, rng.standard_normal(2000) * 1e4,
                           rng.integers(-10**6, 10**6, 500).astype(float), [0.0, -0.0, 5e-324]])
    spell = [repr, "{:.5f}".format, "{:e}".format, "{:.17g}".format, "{:.25f}".format, "{:g}".format]
    lines = log_lines()
    values = {}
    for i in range(len(lines)):
        for j, key in enumerate(KEYS):
            x = float(pool[(i * len(KEYS) + j) % len(pool)])
            text = spell[(i + j) % len(spell)](x)
            old = f"{key}: {(j + 1) * 10.0 + i / 1000:.5f}"
            lines[i] = edit(lines[i], old, f"{key}: {text}")
            values[i, key] = float(text)
    rec = read(lines)
    assert bulk["rows"] == STEPS and not bulk["slow"]
    table = rec.table.set_index("step")
    for (i, key), want in values.items():
        got = table.at[i, key]
        assert np.float64(got).tobytes() == np.float64(want).tobytes(), (i, key, got, want)


def test_keys_with_digits_points_and_dashes_are_read_in_bulk(bulk):
    lines = [edit(edit(line, "train/g_loss", "loss.l1-2"), "lr", "lr_0")
             for line in log_lines()]
    assert_reads_like_the_plain_parser(lines)
    assert bulk["rows"] == STEPS and not bulk["slow"]


def test_a_key_twice_on_a_line_keeps_the_last_value_as_the_plain_parser_does(bulk):
    lines = log_lines()
    lines[ODD] = lines[ODD] + "train/g_loss: 9.00000, "
    assert_reads_like_the_plain_parser(lines)
    assert bulk["slow"] == [ODD]
    assert read(lines).table.set_index("step").at[ODD, "train/g_loss"] == 9.0


def test_without_the_compiled_scanner_logs_read_the_same_and_it_says_so(monkeypatch, capsys):
    from radiovae.runlog import radiodiff_bulk

    lines = log_lines()
    lines[ODD] = edit(lines[ODD], "lr: 50.51700", "lr: nan")
    compiled = read(lines)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(radiodiff_bulk, "_scan", None)
    monkeypatch.setattr(radiodiff_bulk, "_warned", [])
    plain = read(lines)
    read(lines)
    err = capsys.readouterr().err
    assert err.count("compiled log scanner") == 1 and "line by line" in err
    pd.testing.assert_frame_equal(plain.table, compiled.table)
    assert {k: list(v) for k, v in plain.nan_steps.items()} == {"lr": [ODD]}
    assert {k: list(v) for k, v in compiled.nan_steps.items()} == {"lr": [ODD]}
