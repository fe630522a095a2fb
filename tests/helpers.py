"""Helpers several test files share: one copy each (fixtures are in conftest.py).

Each reads the product's output the way a user would (the summary's findings, the Markdown
report, the command line's exit status and stderr, a run dir's metrics.jsonl, the HTML's embedded
chart data), so a test that uses one checks radiovae, not a second helper.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest


def finding_ids(summary: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The summary's findings by id, in the order analyze() gave them."""
    out: dict[str, list[dict[str, Any]]] = {}
    for f in summary["findings"]:
        out.setdefault(f["id"], []).append(f)
    return out


def markdown(summary: Any) -> str:
    """The Markdown report of ``summary`` (a Summary, or summary.json's content read back with
    Summary.from_json; no figures): what a reader is told."""
    from radiovae.analysis.schema import Summary
    from radiovae.report.content import build_document
    from radiovae.report.render import to_markdown

    if not isinstance(summary, Summary):
        summary = Summary.from_json(summary)
    return to_markdown(build_document(summary, {}))


def with_finding(summary: Any, metric: str, message: str, step: int = 100,
                 id: str = "spike", severity: str = "warning") -> Any:
    """``summary`` (a Summary) with one more finding and its marks (text a hostile log could put
    there): the report must escape it, never drop it."""
    from radiovae.analysis.findings.base import Finding
    from radiovae.analysis.marks import finding_mark

    f = Finding(id, severity, metric, message, {"step": step}, steps=[step])
    summary.findings.append(f)
    summary.marks.findings.append(finding_mark(f))
    return summary


def cli(*args: str, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m radiovae ARGS`` in a fresh process: its exit status, stdout and stderr."""
    return subprocess.run([sys.executable, "-m", "radiovae", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def one_error_line(err: str) -> str:
    """stderr that says one thing, in one line and without a traceback: that line."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err[-3000:]
    return lines[0]


def run_lines(run_dir: Path) -> list[dict[str, Any]]:
    """Every line of a run dir's metrics.jsonl: the records and the trainer's end markers."""
    text = (Path(run_dir) / "metrics.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def run_records(run_dir: Path) -> list[dict[str, Any]]:
    """The records of metrics.jsonl (an end marker, ``{"event": "end", ...}``, is none)."""
    return [r for r in run_lines(run_dir) if "event" not in r]


def write_run_dir(run_dir: Path, records: str | Iterable[dict[str, Any]],
                  config: str | None = None, evaluation: dict[str, Any] | None = None) -> Path:
    """A radiovae run dir as its trainer leaves it: metrics.jsonl (``records``: one JSON object
    a line, or that text), and config.yaml (YAML text) / evaluation.json when given."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    text = records if isinstance(records, str) else "".join(json.dumps(r) + "\n" for r in records)
    (run_dir / "metrics.jsonl").write_text(text, encoding="utf-8")
    if config is not None:
        (run_dir / "config.yaml").write_text(config, encoding="utf-8")
    if evaluation is not None:
        (run_dir / "evaluation.json").write_text(json.dumps(evaluation), encoding="utf-8")
    return run_dir


def embedded_charts(html: str) -> dict[str, Any]:
    """The interactive charts' data embedded in report.html."""
    m = re.search(r'<script type="application/json" id="radiovae-charts">(.*?)</script>', html,
                  re.S)
    assert m, "report.html embeds no chart data"
    return json.loads(m.group(1))


def require(what: str, problem: str | None, skip_env: str) -> None:
    """A dependency CI installs (scripts/run.sh, .ci/run): its absence fails the test, naming
    the fix, rather than skipping it unseen; ``skip_env=1`` skips on purpose."""
    if os.environ.get(skip_env) == "1":
        pytest.skip(f"{skip_env}=1")
    if problem is not None:
        pytest.fail(f"{what} is unavailable here: {problem} (set {skip_env}=1 to skip these "
                    "tests on purpose)")
