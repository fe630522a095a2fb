"""Benchmark: the labelled diagnosis suite's table (tests/diagnosis_cases.py).

Builds every case (tiny real radiovae trainings with induced faults, the shared real RadioDiff
run in every format, synthetic edge cases), diagnoses each with ``load_run`` + ``analyze`` and
prints, per finding kind, how many findings the truth expects, how many were found, the false
positives, precision and recall; then the verdict accuracy and each case that is not fully right
(each one a failing test in tests/test_diagnosis_suite.py).

Run: .venv/bin/python benchmarks/diagnosis.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import REAL_RUN_CSV  # noqa: E402
from diagnosis_cases import build_all  # noqa: E402
from diagnosis_truth import diagnose, table  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="build the cases here and keep them")
    args = ap.parse_args()
    if not REAL_RUN_CSV.is_file():
        sys.exit(f"missing {REAL_RUN_CSV} (../shared/data beside the repository)")
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        t0 = time.perf_counter()
        cases = build_all(REAL_RUN_CSV, root)
        built = time.perf_counter() - t0
        t0 = time.perf_counter()
        results = [diagnose(c) for c in cases]
        judged = time.perf_counter() - t0
    groups = {}
    for c in cases:
        groups[c.group] = groups.get(c.group, 0) + 1
    print(f"{len(cases)} cases ({', '.join(f'{n} {g}' for g, n in groups.items())}); "
          f"built in {built:.1f} s, diagnosed in {judged:.1f} s\n")
    print(table(results))
    wrong = [r for r in results if not r.ok]
    if wrong:
        print("\ncases not fully right:")
        for r in wrong:
            print(f"  {r.case.name}: {r.explain()}")


if __name__ == "__main__":
    main()
