"""Property-based fuzzing (hypothesis) of every reader and of the analysis.

Invariants, on generated and mutated records of every format (``WRITERS``):
  * total: ``load_run`` returns a Run or raises UserError, nothing else, for any bytes;
  * exact: clean records of any format read back as written (steps, values to the format's
    precision);
  * no silent loss: lines added that are not records (junk, invalid UTF-8, steps out of range)
    are skipped, counted and the first few named, and every good record is still there (in a
    Lightning CSV a junk line such as ``-1,1,2`` is a well-formed row: a record, and where its
    step goes back, the rows it replaces are dropped as a resume, which the Run reports);
  * steps in a Run are whole numbers 0 ... 2^53, sorted and unique;
  * analysis works on any subset of metrics and any values (NaN, +-inf, 1e308, negative):
    ``analyze`` returns JSON (no NaN tokens) and the report text renders;
  * bounded YAML / JSON loaders return a value or raise UserError.

CI runs a fixed, derandomized set of examples in well under a minute; set
RADIOVAE_FUZZ_EXAMPLES (e.g. 2000) for a longer search. A new reader adds its format by appending
a writer to ``WRITERS`` (rows -> file), and, where its values are rounded, a tolerance.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from summaries import summary_json

from radiovae.analysis.schema import Summary
from radiovae.errors import UserError
from radiovae.runlog import format_radiodiff_lines, load_run
from radiovae.runlog.records import STEP_MAX
from radiovae.runlog.run import Run
from radiovae.safeload import loads_yaml

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")   # numpy on 1e308, inf
EXAMPLES = int(os.environ.get("RADIOVAE_FUZZ_EXAMPLES", "0") or 0)
settings.register_profile("radiovae-ci", derandomize=True, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.function_scoped_fixture])


def fuzz(ci_examples: int):
    """Settings for one property: ``ci_examples`` in CI, RADIOVAE_FUZZ_EXAMPLES when set."""
    return settings(settings.get_profile("radiovae-ci"), max_examples=EXAMPLES or ci_examples)


START = datetime(2025, 8, 15, 20, 41, 7)
NAMES = ["train/total_loss", "train/kl_loss", "train/nll_loss", "train/rec_loss",
         "train/d_weight", "train/disc_factor", "train/g_loss", "train/logvar", "lr",
         "train/disc_loss", "train/logits_real", "train/logits_fake"]


# -- formats -----------------------------------------------------------------------------------

@dataclass
class Rows:
    """What a writer writes: unique increasing steps, one dict of metric values per step."""

    steps: list[int]
    values: list[dict[str, float]]

    @property
    def names(self) -> list[str]:
        return sorted({k for v in self.values for k in v})


def write_radiodiff(rows: Rows, d: Path) -> Path:
    path = d / "train.log"
    lines = [f"2025-08-15 20:41:00,000 {{'trainer': {{'train_num_steps': {max(rows.steps) + 1}}}}}"]
    for s, v in zip(rows.steps, rows.values, strict=True):
        if v:
            lines += format_radiodiff_lines(s, max(rows.steps) + 1, v, None,
                                            START + timedelta(seconds=s))
    path.write_text("".join(x + "\n" for x in lines))
    return path


def write_csv(rows: Rows, d: Path) -> Path:
    path = d / "metrics.csv"
    names = rows.names
    out = ["step,time," + ",".join(names)]
    for s, v in zip(rows.steps, rows.values, strict=True):
        out.append(f"{s},{START.timestamp() + s}," + ",".join(repr(v[n]) if n in v else ""
                                                              for n in names))
    path.write_text("\n".join(out) + "\n")
    return path


def write_jsonl(rows: Rows, d: Path) -> Path:
    path = d / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": s, "time": START.timestamp() + s, **v}) + "\n"
                            for s, v in zip(rows.steps, rows.values, strict=True)))
    return path


def write_tensorboard(rows: Rows, d: Path) -> Path:
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    w = EventFileWriter(str(d))
    for s, v in zip(rows.steps, rows.values, strict=True):
        w.add_event(event_pb2.Event(wall_time=START.timestamp() + s, step=s, summary=(
            summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=k, simple_value=x)
                                       for k, x in v.items()]))))
    w.close()
    return next(d.glob("events.out.tfevents.*"))


def write_run_dir(rows: Rows, d: Path) -> Path:
    run = d / "run"
    run.mkdir()
    write_jsonl(rows, run)
    (run / "config.yaml").write_text("trainer:\n  train_num_steps: 100000\n")
    return run


def write_lightning_csv(rows: Rows, d: Path) -> Path:
    """PyTorch Lightning's CSVLogger: version_0/metrics.csv with epoch and step columns."""
    path = d / "lightning_logs" / "version_0" / "metrics.csv"
    path.parent.mkdir(parents=True)
    names = rows.names
    out = ["epoch,step," + ",".join(names)]
    out += [f"0,{s}," + ",".join(repr(v[n]) if n in v else "" for n in names)
            for s, v in zip(rows.steps, rows.values, strict=True)]
    path.write_text("\n".join(out) + "\n")
    return path


def write_wandb_history(rows: Rows, d: Path) -> Path:
    """A W&B run folder's files/wandb-history.jsonl (one wandb.log call per line)."""
    path = d / "run-1" / "files" / "wandb-history.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps({"_step": s, "_timestamp": START.timestamp() + s, **v})
                            + "\n" for s, v in zip(rows.steps, rows.values, strict=True)))
    return path


def write_mlflow(rows: Rows, d: Path) -> Path:
    """An MLflow file-store run: metrics/<key> files of '<ms> <value> <step>' lines."""
    run = d / "mlruns" / "0" / "abc123"
    for name in rows.names:
        f = run / "metrics" / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("".join(f"{int((START.timestamp() + s) * 1000)} {v[name]!r} {s}\n"
                             for s, v in zip(rows.steps, rows.values, strict=True) if name in v))
    (run / "meta.yaml").write_text("run_id: abc123\n")
    return run


def _rounded(decimals: int) -> Callable[[float], float]:
    return lambda x: float(f"{x:.{decimals}f}")


# name -> (writer, what a written value reads back as, text format whose lines can be mutated)
WRITERS: dict[str, tuple[Callable[[Rows, Path], Path], Callable[[float], float], bool]] = {
    "radiodiff_log": (write_radiodiff, _rounded(5), True),
    "csv": (write_csv, float, True),
    "jsonl": (write_jsonl, float, True),
    "tensorboard": (write_tensorboard, lambda x: float(np.float32(x)), False),
    "run_dir": (write_run_dir, float, False),
    "lightning_csv": (write_lightning_csv, float, True),
    "wandb_history": (write_wandb_history, float, True),
    "mlflow": (write_mlflow, float, False),
}

# -- strategies ---------------------------------------------------------------------------------

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32)
hostile = st.one_of(finite, st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 0.0,
                                             5e-324, -0.0, 1e-30]))


@st.composite
def rows_of(draw, values=finite, min_rows: int = 1, max_rows: int = 40) -> Rows:
    n = draw(st.integers(min_rows, max_rows))
    steps = sorted(draw(st.sets(st.integers(0, 10**7), min_size=n, max_size=n)))
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=6, unique=True))
    vals = [{k: draw(values) for k in names} for _ in steps]
    return Rows(steps, vals)


def _tmp() -> Path:
    return Path(tempfile.mkdtemp(prefix="radiovae-fuzz-"))


# -- exact round trip ---------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", list(WRITERS))
@fuzz(12)
@given(rows=rows_of())
def test_clean_records_read_back_exactly(fmt, rows):
    writer, reads_as, _text = WRITERS[fmt]
    run = load_run(writer(rows, _tmp()))
    assert list(run.table["step"]) == rows.steps
    assert run.skipped_lines == 0 and run.notes == []
    for name in rows.names:
        got = run.table[name].to_numpy()
        want = np.array([reads_as(v[name]) for v in rows.values])
        assert np.allclose(got, want, rtol=1e-12, atol=0, equal_nan=True), name


# -- mutations: never a traceback, never silent loss --------------------------------------------

# lines that are not records (skipped and counted), and the formats where one is no bad line
# (a record with a late step and an unreadable time; a config line)
JUNK: list[tuple[bytes, str]] = [
    (b"garbage", ""), (b"\xff\xfe\x80 invalid utf-8 \xc3", ""), (b"{", ""), (b"[" * 3000, ""),
    (b"step,step", ""), (b'{"step": 1e20, "x": 1}', ""), (b'{"step": Infinity}', ""),
    (b'{"step": -5, "x": 1}', ""), (b'{"step": 99999999999999999999999999}', ""),
    (b"1e20,1,2", ""), (b"-1,1,2", ""), (b"nan,nan", ""), (b"1,2,3,4,5,6,7,8,9,10,11,12,13", ""),
    (b"2025-18-15 20:41:00,000 [Train Step] 10000005/10: x: 1.00000, ", "radiodiff_log"),
    (b"2025-08-15 20:41:00,000 [Train Step] 99999999999999999999999/10: x: 1.00000, ", ""),
    (b"2025-08-15 20:41:00,000 {'trainer': {'train_num_steps': 1e999}}", "radiodiff_log"),
    (b"\x00\x01\x02", ""), (b"\x00" * 300, ""), (b"\r", "*"), (b"\xef\xbb\xbf", ""), (b"", "*"),
]


@st.composite
def mutated(draw, fmt: str):
    """Clean records of ``fmt``, then lines inserted that are not records: (rows, path, the bad
    lines, the file's lines in order: a good record's step, or the inserted junk)."""
    rows = draw(rows_of(min_rows=2, max_rows=25))
    path = WRITERS[fmt][0](rows, _tmp())
    lines = path.read_bytes().split(b"\n")
    body = lines[:-1]
    order: list[int | bytes] = [b"header"] * (len(body) - len(rows.steps)) + list(rows.steps)
    inserts = draw(st.lists(st.tuples(st.integers(1, len(body)), st.sampled_from(JUNK)),
                            max_size=6))
    for at, (junk, _fine) in sorted(inserts, reverse=True):
        body.insert(at, junk)
        order.insert(at, junk)
    path.write_bytes(b"\n".join(body) + b"\n")
    bad = [j for _, (j, fine) in inserts if fine != "*" and fmt not in fine]
    return rows, path, bad, order


@pytest.mark.parametrize("fmt", [f for f, (_w, _r, text) in WRITERS.items() if text])
@fuzz(25)
@given(data=st.data())
def test_inserted_bad_lines_are_skipped_and_counted_never_lost(fmt, data):
    rows, path, bad, order = data.draw(mutated(fmt))
    run = _total(path)
    assert isinstance(run, Run), run                # good records are there: never an error
    _steps_ok(run)
    if fmt == "lightning_csv":   # a junk line that is a well-formed row is a record: see below
        kept, bad = _lightning_reading(order, len(rows.names) + 2)
        assert kept <= set(run.table["step"]), "good records lost"
        if set(rows.steps) - kept:                 # dropped as a timeline a resume replaced:
            assert run.resumes, "records dropped without a resume reported"   # said, not silent
    else:
        assert set(rows.steps) <= set(run.table["step"]), "good records lost"
    assert run.skipped_lines == len(bad)            # every bad line counted, nothing else
    assert len(run.notes) == min(5, len(bad)) and run.note_count >= len(bad)
    assert all(len(n["what"]) < 200 and n["line"] is not None for n in run.notes)


def _lightning_reading(order: list[int | bytes], columns: int) -> tuple[set[int], list[bytes]]:
    """What a Lightning CSV reader must make of these lines (``order``: a good row's step or an
    inserted junk line): junk with no more fields than the header and a whole step in its second
    (``step``) field, such as ``-1,1,2``, is a row like any other, the rest is skipped. Rows are
    merged as written over time: a row followed by a row of a lower step belongs to a timeline a
    resume replaced. Returns the good steps that must be in the table, and the lines skipped."""
    steps: list[tuple[int, bool]] = []     # (step, is a good record), in file order
    bad = []
    for item in order:
        if isinstance(item, int):
            steps.append((item, True))
            continue
        if item in (b"header", b"", b"\r"):
            continue
        fields = item.decode("utf-8", "replace").split(",")
        try:
            step = float(fields[1]) if 2 <= len(fields) <= columns else math.nan
        except ValueError:
            step = math.nan
        if math.isfinite(step) and step.is_integer() and 0 <= step <= STEP_MAX:
            steps.append((int(step), False))
        else:
            bad.append(item)
    later_min = math.inf
    kept = set()
    for step, good in reversed(steps):
        if good and step <= later_min:
            kept.add(step)
        later_min = min(later_min, step)
    return kept, bad


@pytest.mark.parametrize("fmt", list(WRITERS))
@fuzz(25)
@given(data=st.data())
def test_any_byte_damage_gives_a_run_or_one_user_error(fmt, data):
    rows = data.draw(rows_of(min_rows=1, max_rows=15))
    path = WRITERS[fmt][0](rows, _tmp())
    target = path if path.is_file() else next(
        f for f in (path / "metrics.jsonl", *sorted((path / "metrics").rglob("*"))) if f.is_file())
    raw = bytearray(target.read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        kind = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        at = data.draw(st.integers(0, max(0, len(raw) - 1)))
        if kind == "flip" and raw:
            raw[at] = data.draw(st.integers(0, 255))
        elif kind == "cut":
            del raw[at:]
        elif kind == "insert":
            raw[at:at] = data.draw(st.binary(max_size=20) | st.sampled_from([j for j, _ in JUNK]))
        elif raw:
            del raw[at:at + data.draw(st.integers(1, 40))]
    target.write_bytes(bytes(raw))
    result = _total(path)
    if isinstance(result, Run):
        _steps_ok(result)
        _analysis_ok(result)


def _total(path: Path):
    try:
        return load_run(path)
    except UserError as e:
        assert "\n" not in str(e) and len(str(e)) < 1000
        return e


def _steps_ok(run: Run) -> None:
    s = run.table["step"].to_numpy()
    assert s.dtype == np.int64 and (s >= 0).all() and (s <= STEP_MAX).all()
    assert (np.diff(s) > 0).all()
    t = run.table["time"].to_numpy()
    assert not np.isinf(t).any()


def _analysis_ok(run: Run) -> dict:
    from radiovae.report.content import build_document
    from radiovae.report.render import to_html, to_markdown

    summary = summary_json(run)
    json.dumps(summary, allow_nan=False)
    doc = build_document(Summary.from_json(summary), {})
    assert to_markdown(doc) and to_html(doc, lambda _p: None)
    return summary


# -- analysis on any subset of metrics and any values -------------------------------------------

@fuzz(40)
@given(rows=rows_of(values=hostile, max_rows=60),
       config=st.fixed_dictionaries({}, optional={
           "disc_start": st.integers(0, 10**7), "kl_weight": st.sampled_from([1e-6, 0.0, 1.0]),
           "total_steps": st.integers(1, 10**7), "log_freq": st.integers(1, 1000)}))
def test_analysis_works_on_any_metrics_and_values(rows, config):
    table = pd.DataFrame({"step": np.array(rows.steps, dtype=np.int64),
                          "time": START.timestamp() + np.array(rows.steps, dtype=float)})
    for name in rows.names:
        table[name] = [v.get(name, math.nan) for v in rows.values]
    summary = _analysis_ok(Run(table=table, config=dict(config)))
    assert summary["records"] == len(rows.steps)


# -- bounded config loaders ----------------------------------------------------------------------

yaml_text = st.recursive(
    st.sampled_from(["1", "x", "1e999", ".inf", "~", "'a'", "&a [1]", "*a", "!!str 5", "[",
                     "{", "- ", ": ", "\t", "\xff", "!!python/object:os.system x"]),
    lambda inner: st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]")
    | st.lists(st.tuples(st.sampled_from(["a", "b", "<<", "? x"]), inner), max_size=4).map(
        lambda kv: "\n".join(f"{k}: {v}" for k, v in kv)),
    max_leaves=12)


@fuzz(60)
@given(text=yaml_text | st.text(max_size=200))
def test_bounded_yaml_loader_is_total(text):
    try:
        loads_yaml(text, "fuzz.yaml")
    except UserError as e:
        assert "\n" not in str(e) and len(str(e)) < 400
