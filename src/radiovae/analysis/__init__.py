"""Analysis of a training run: per-metric statistics, phases, findings and a verdict."""

from radiovae.analysis.summary import analyze, jsonable

__all__ = ["analyze", "jsonable"]
