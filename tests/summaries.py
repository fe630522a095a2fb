"""summary.json's content for a run: most analysis tests check that contract, the JSON a user
reads, rather than the typed Summary the report reads."""

from __future__ import annotations

from typing import Any

from radiovae.analysis import analyze


def summary_json(run, *args: Any, **kwargs: Any) -> dict[str, Any]:
    return analyze(run, *args, **kwargs).to_json()
