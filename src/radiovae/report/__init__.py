"""Training report: figures, report.md, self-contained report.html, summary.json; live watch."""

from radiovae.report.write import make_report, write_report

__all__ = ["make_report", "write_report"]
