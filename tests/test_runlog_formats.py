"""The reader interface: format identity is an Enum, a format added from outside through the
public registry is read into a report-ready Run, and a project folder is searched the way
TensorBoard searches a logdir (mlruns/, wandb/, lightning_logs/, event files at any depth)."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from logfactory import read_real_run, with_disc_terms
from loggerfactory import GEN, write_lightning_run, write_mlflow_run, write_wandb_run
from runformats import write_tensorboard

from radiovae.cli import main
from radiovae.errors import UserError
from radiovae.runlog import load_run
from radiovae.runlog.chunks import ChunkParser
from radiovae.runlog.formats import (
    Format,
    Match,
    Probe,
    Reader,
    is_live,
    is_printed,
    reader_for,
    readers,
    register,
    unregister,
)
from radiovae.runlog.load import detect_format
from radiovae.runlog.records import Records, empty_table


def test_format_identity_is_a_str_enum_equal_to_its_value():
    assert {Format.RADIODIFF_LOG, Format.CSV} & {"csv"} == {"csv"}     # sets of values match
    assert json.dumps({"format": Format.MLFLOW}) == '{"format": "mlflow"}'
    assert f"{Format.TENSORBOARD}" == "tensorboard" and Format("jsonl") is Format.JSONL
    assert [r.format for r in readers()][:2] == [Format.TENSORBOARD, Format.WANDB_HISTORY]
    assert is_printed("radiodiff_log") and is_printed(Format.CSV) and not is_printed("jsonl")
    assert is_live(Format.JSONL) and not is_live(Format.WANDB_CSV) and not is_live("nope")


# -- a toy format, registered through the public registry ---------------------------------------
class Toy(str, Enum):
    KEY_VALUE = "key_value"


class KeyValue(Reader):
    """``step=10 loss=0.5 lr=0.0001`` per line: the smallest format one could add."""

    format = Toy.KEY_VALUE
    name = "key=value log"
    incremental = True

    def sniff(self, probe: Probe) -> Match | None:
        return Match.SURE if probe.first.startswith("step=") else None

    def parse_chunk(self, parser: ChunkParser, chunk: bytes, final: bool) -> Records:
        rows, skipped = [], 0
        for line in chunk.decode("utf-8", "replace").splitlines():
            try:
                row = {k: float(v) for k, v in (item.split("=") for item in line.split())}
                rows.append({**row, "step": int(row["step"])})
            except (ValueError, KeyError):
                skipped += 1 if line.strip() else 0
        table = pd.DataFrame(rows) if rows else empty_table()
        return Records(table, skipped_lines=skipped, records=len(rows), nan_steps={})


@pytest.fixture
def key_value_format():
    register(KeyValue(), before=Format.RADIODIFF_LOG)
    yield
    unregister(Toy.KEY_VALUE)


def _key_value_log(path: Path, steps: int = 400) -> tuple[Path, np.ndarray]:
    loss = 1.0 / (1.0 + np.arange(steps) / 50.0)
    lines = [f"step={10 * i} train/rec_loss={loss[i]:.9f} train/total_loss={2 * loss[i]:.9f} "
             f"lr=0.0001" for i in range(steps)]
    lines.insert(7, "a line that is not a record")
    path.write_text("\n".join(lines) + "\n")
    return path, loss


def test_a_registered_format_is_read_into_a_report_ready_run(key_value_format, tmp_path):
    log, loss = _key_value_log(tmp_path / "train.kv")
    assert detect_format(log) is Toy.KEY_VALUE
    run = load_run(log)
    assert run.segments[0].format is Toy.KEY_VALUE and run.skipped_lines == 1
    np.testing.assert_array_equal(run.table["step"], np.arange(400) * 10)
    np.testing.assert_allclose(run.table["train/rec_loss"], np.round(loss, 9))
    out = tmp_path / "out"
    assert main(["report", str(log), "--out", str(out)]) == 0
    assert "train/rec_loss" in (out / "report.md").read_text()
    assert json.loads((out / "summary.json").read_text())      # the summary JSON writes its format


def test_an_unregistered_format_is_not_read(tmp_path):
    log, _ = _key_value_log(tmp_path / "train.kv")
    with pytest.raises(UserError, match="no training records found"):
        load_run(log)
    with pytest.raises(KeyError):
        reader_for(Toy.KEY_VALUE)


def test_a_format_registers_once(key_value_format):
    with pytest.raises(ValueError, match="registered already"):
        register(KeyValue())


# -- folder search ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def frame(real_run_csv) -> pd.DataFrame:
    return with_disc_terms(read_real_run(real_run_csv)).iloc[:300].reset_index(drop=True)


def _project(root: Path) -> Path:
    """A project folder: code, configs and a README beside the logger's output."""
    (root / "configs").mkdir(parents=True)
    (root / "configs" / "vae.yaml").write_text("model:\n  embed_dim: 3\n")
    (root / "train.py").write_text("print('[Train Step]', 1)\n")
    (root / "README.md").write_text("# a project\n")
    return root


def _write(kind: str, root: Path, frame: pd.DataFrame, name: str = "a") -> Path:
    if kind == "mlruns":
        return write_mlflow_run(root / "mlruns", frame, run_id=f"{name}" * 32)
    if kind == "wandb":
        return write_wandb_run(root / "wandb", frame, run_id=f"{name}1r3np4b7")
    if kind == "lightning_logs":
        return write_lightning_run(root / "lightning_logs" / name, frame, project=None).parent
    return write_tensorboard(frame, root / "runs" / name / "tb").parent


KINDS = ("mlruns", "wandb", "lightning_logs", "events")
EXPECTED = {"mlruns": "mlflow", "wandb": "wandb_history", "lightning_logs": "lightning_csv",
            "events": "tensorboard"}


@pytest.mark.parametrize("kind", KINDS)
def test_a_project_folder_is_searched_for_its_run(kind, frame, tmp_path, capsys):
    project = _project(tmp_path / "project")
    _write(kind, project, frame)
    run = load_run(project)
    assert [s.format for s in run.segments] == [EXPECTED[kind]]
    np.testing.assert_array_equal(run.table["step"], frame["step"])
    for col in GEN:
        np.testing.assert_allclose(run.table[col], frame[col], rtol=1e-6, err_msg=col)
    out = tmp_path / "out"
    assert main(["report", str(project), "--out", str(out)]) == 0, capsys.readouterr().err
    assert (out / "report.md").is_file() and (out / "summary.json").is_file()


@pytest.mark.parametrize("kind", KINDS)
def test_a_project_folder_with_two_runs_names_them(kind, frame, tmp_path, capsys):
    project = _project(tmp_path / "project")
    first = _write(kind, project, frame, "a")
    second = _write(kind, project, frame, "b")
    with pytest.raises(UserError) as e:
        load_run(project)
    msg = str(e.value)
    assert str(first.relative_to(project)) in msg and str(second.relative_to(project)) in msg
    assert main(["report", str(project), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
