"""Probe: bad, odd and hostile inputs through ``radiovae report`` / ``watch`` / ``train``.

Each case builds its input in a temporary folder, runs the CLI in a subprocess (with a time limit)
and checks the promise: exit 0 with what could be read (and the expected records), or exit 2 with
one line on stderr; never a traceback, never a hang, never a silent loss. Prints, per area
(readers, watch, outputs, configs, training), how many cases were tried and how many passed, and
names the ones that failed. Cases that mount a small tmpfs (a full disk) need root; elsewhere
they are skipped and say so.

Run: .venv/bin/python benchmarks/hostile_inputs.py [--only SUBSTRING] [--verbose]
     .venv/bin/python benchmarks/hostile_inputs.py --budget   (peak memory / time per reproducer)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from radiovae.runlog.radiodiff_log import format_radiodiff_lines

START = datetime(2025, 8, 15, 20, 41, 7)
GEN = ("train/total_loss", "train/logvar", "train/kl_loss", "train/nll_loss", "train/rec_loss",
       "train/d_weight", "train/disc_factor", "train/g_loss", "lr")
CFG = {"model": {"lossconfig": {"disc_start": 1001, "kl_weight": 1e-06, "disc_weight": 0.5}},
       "trainer": {"train_num_steps": 2000, "log_freq": 10}}


def terms(step: int) -> dict[str, float]:
    on = step > 1000
    nll = 900 - step / 10
    return {"train/total_loss": nll + 1e-6 * 150000 + (5000 * -0.45 if on else 0.0),
            "train/logvar": 0.0, "train/kl_loss": 150000.0, "train/nll_loss": nll,
            "train/rec_loss": 0.03 - step * 1e-5, "train/d_weight": 5000.0,
            "train/disc_factor": 1.0 if on else 0.0, "train/g_loss": -0.45, "lr": 5e-6}


def log_text(steps: range, total: int = 2000, cfg: dict | None = CFG) -> str:
    lines = [f"2025-08-15 20:41:00,000 {cfg!r}"] if cfg is not None else []
    for s in steps:
        lines += format_radiodiff_lines(s, total, terms(s), None, START + timedelta(seconds=s / 5))
    return "".join(x + "\n" for x in lines)


def csv_text(steps: range, cols: tuple[str, ...] = GEN) -> str:
    rows = ["step,time," + ",".join(cols)]
    for s in steps:
        t = terms(s)
        rows.append(f"{s},{START.timestamp() + s / 5}," + ",".join(repr(t[c]) for c in cols))
    return "\n".join(rows) + "\n"


def jsonl_text(steps: range, drop: tuple[str, ...] = ()) -> str:
    out = []
    for s in steps:
        row = {"step": s, "time": START.timestamp() + s / 5,
               **{k: v for k, v in terms(s).items() if k not in drop}}
        out.append(json.dumps(row))
    return "\n".join(out) + "\n"


@dataclass
class Outcome:
    rc: int | None             # None: timed out
    out: str
    err: str
    seconds: float
    dir: Path
    summary: dict | None


@dataclass
class Case:
    area: str
    name: str
    build: Callable[[Path], list[str]]          # -> CLI arguments (after "radiovae")
    check: Callable[[Outcome], str | None] | None = None   # -> why it failed, or None
    expect: str = "any"                                     # "ok" | "error" | "any"
    timeout: float = 60.0
    during: Callable[[Path, subprocess.Popen], None] | None = None   # e.g. append while watching
    noise: str | None = None        # stderr lines matching this regex are progress, not said
    cleanup: Callable[[Path], None] | None = None   # after the case, whatever its outcome


def run_case(case: Case, root: Path) -> tuple[bool, str]:
    d = root / case.name.replace(" ", "_").replace("/", "_")
    d.mkdir(parents=True)
    try:
        return _run_case(case, d)
    finally:
        if case.cleanup is not None:
            case.cleanup(d)


def _run_case(case: Case, d: Path) -> tuple[bool, str]:
    args = case.build(d)
    if "--out" not in args and args and args[0] in ("report", "watch"):
        args += ["--out", str(d / "out")]
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "radiovae", *args], cwd=d, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            errors="replace", start_new_session=True)
    if case.during is not None:
        case.during(d, proc)
    try:
        out, err = proc.communicate(timeout=case.timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        rc = None
    seconds = time.perf_counter() - t0
    summary = None
    out_dir = Path(args[args.index("--out") + 1]) if "--out" in args else d / "out"
    if not out_dir.is_absolute():
        out_dir = d / out_dir
    try:
        summary = json.loads((out_dir / "summary.json").read_text())
    except (OSError, ValueError):
        pass
    o = Outcome(rc, out, err, seconds, d, summary)
    if rc is None:
        return False, f"hung (killed after {case.timeout:.0f} s)"
    if "Traceback" in err or rc not in (0, 2):
        last = err.strip().splitlines()[-1] if err.strip() else ""
        return False, f"exit {rc}: {last[:160]}"
    said = [x for x in err.splitlines() if x.strip() and (
        x.startswith("radiovae") or not (case.noise and re.search(case.noise, x)))]
    if rc == 2 and len(said) != 1:
        return False, f"exit 2 but {len(said)} lines on stderr"
    if case.expect == "ok" and rc != 0:
        return False, f"expected exit 0, got 2: {err.strip()[:160]}"
    if case.expect == "error" and rc != 2:
        return False, "expected exit 2 (bad input), got 0"
    if case.check is not None:
        why = case.check(o)
        if why:
            return False, why
    return True, f"exit {rc} in {seconds:.1f} s"


def records(n: int, **more) -> Callable[[Outcome], str | None]:
    """The summary holds ``n`` records (and the given skipped-line count, if any)."""
    def check(o: Outcome) -> str | None:
        if o.summary is None:
            return "no summary.json"
        if o.summary.get("records") != n:
            return f"{o.summary.get('records')} records, expected {n}"
        for key, want in more.items():
            got = o.summary.get(key)
            if callable(want):
                if not want(got):
                    return f"{key} = {got!r}"
            elif got != want:
                return f"{key} = {got!r}, expected {want!r}"
        return None
    return check


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def rep(p: Path | str, *more: str) -> list[str]:
    return ["report", str(p), *more]


def unmount(d: Path) -> None:
    """Unmount the case's tmpfs ``d/mnt``, if one is mounted there."""
    if os.path.ismount(d / "mnt"):
        subprocess.run(["umount", str(d / "mnt")], capture_output=True)


# -- readers --------------------------------------------------------------------------------------
def reader_cases() -> list[Case]:
    good = range(0, 1000, 10)
    c: list[Case] = []
    add = c.append

    def log_with(b: bytes, at: int = 50):
        lines = log_text(good).encode().split(b"\n")
        lines.insert(at, b)
        return b"\n".join(lines)

    add(Case("readers", "log non-utf8 byte in a record", lambda d: rep(write(
        d / "a.log", log_text(good).encode().replace(b"train/logvar: 0.00000, ", b"train/logvar\xff: 0.00000, ", 1))),
        records(100), "ok"))
    add(Case("readers", "log non-utf8 noise line", lambda d: rep(write(
        d / "a.log", log_with(b"garbage \xff\xfe\x80 line"))), records(100), "ok"))
    add(Case("readers", "csv non-utf8 byte", lambda d: rep(write(
        d / "a.csv", csv_text(good).encode().replace(b"\n50,", b"\n50\xff,", 1))),
        records(99), "ok"))
    add(Case("readers", "csv non-utf8 header", lambda d: rep(write(
        d / "a.csv", csv_text(good).encode().replace(b"lr\n", b"lr\xe9\n", 1))),
        records(100), "ok"))
    add(Case("readers", "jsonl non-utf8 byte", lambda d: rep(write(
        d / "a.jsonl", jsonl_text(good).encode().replace(b'"lr"', b'"lr\xff"', 1))),
        records(100), "ok"))
    add(Case("readers", "jsonl without d_weight (plain VAE)", lambda d: rep(write(
        d / "a.jsonl", jsonl_text(good, drop=("train/d_weight", "train/g_loss",
                                             "train/disc_factor")))), records(100), "ok"))
    add(Case("readers", "csv without d_weight (plain VAE)", lambda d: rep(write(
        d / "a.csv", csv_text(good, tuple(x for x in GEN if x not in ("train/d_weight",))))),
        records(100), "ok"))
    add(Case("readers", "csv without total", lambda d: rep(write(
        d / "a.csv", csv_text(good, tuple(x for x in GEN if x != "train/total_loss")))),
        records(100), "ok"))
    add(Case("readers", "csv only lr", lambda d: rep(write(d / "a.csv", csv_text(good, ("lr",)))),
             records(100), "ok"))
    add(Case("readers", "csv only total", lambda d: rep(write(
        d / "a.csv", csv_text(good, ("train/total_loss",)))), records(100), "ok"))
    add(Case("readers", "csv negative total, no terms", lambda d: rep(write(
        d / "a.csv", "step,train/total_loss\n" + "".join(f"{s},{-1 - s}\n" for s in good))),
        records(100), "ok"))

    def all_1e308(d: Path) -> list[str]:
        rows = ["step," + ",".join(GEN)] + [f"{s}," + ",".join(["1e308"] * len(GEN)) for s in good]
        return rep(write(d / "a.csv", "\n".join(rows) + "\n"))
    add(Case("readers", "csv all values 1e308", all_1e308, records(100), "ok"))

    def mixed_huge(d: Path) -> list[str]:
        rows = ["step,loss"] + [f"{s},{'1e308' if s % 20 else '-1e308'}" for s in good]
        return rep(write(d / "a.csv", "\n".join(rows) + "\n"))
    add(Case("readers", "csv +-1e308 alternating", mixed_huge, records(100), "ok"))
    add(Case("readers", "csv one step 1e20 among 100 good", lambda d: rep(write(
        d / "a.csv", csv_text(good) + "1e20,1," + ",".join(["1"] * len(GEN)) + "\n")),
        records(100, skipped_lines=1), "ok"))
    add(Case("readers", "csv step beyond int64", lambda d: rep(write(
        d / "a.csv", csv_text(good) + "99999999999999999999999,1," + ",".join(["1"] * len(GEN))
        + "\n")), records(100, skipped_lines=1), "ok"))
    add(Case("readers", "csv step 1.5", lambda d: rep(write(
        d / "a.csv", csv_text(good) + "1000.5,1," + ",".join(["1"] * len(GEN)) + "\n")),
        records(100, skipped_lines=1), "ok"))
    add(Case("readers", "csv step negative", lambda d: rep(write(
        d / "a.csv", csv_text(range(-50, 950, 10)))), records(95, skipped_lines=5), "ok"))
    add(Case("readers", "csv step nan text", lambda d: rep(write(
        d / "a.csv", csv_text(good) + "nan,1," + ",".join(["1"] * len(GEN)) + "\n")),
        records(100, skipped_lines=1), "ok"))
    for label, step in (("Infinity", "Infinity"), ("-Infinity", "-Infinity"), ("NaN", "NaN"),
                        ("beyond int64", "99999999999999999999999"), ("1e20", "1e20")):
        add(Case("readers", f"jsonl step {label}", lambda d, step=step: rep(write(
            d / "a.jsonl", jsonl_text(good) + f'{{"step": {step}, "loss": 1}}\n')),
            records(100, skipped_lines=1), "ok"))
    add(Case("readers", "jsonl value 10**400", lambda d: rep(write(
        d / "a.jsonl", jsonl_text(good).replace('"lr": 5e-06}', '"lr": 1' + "0" * 400 + "}", 1))),
        records(100), "ok"))
    add(Case("readers", "jsonl value 1e999", lambda d: rep(write(
        d / "a.jsonl", jsonl_text(good).replace('"lr": 5e-06}', '"lr": 1e999}', 1))),
        records(100), "ok"))
    add(Case("readers", "jsonl 100k-deep array line", lambda d: rep(write(
        d / "a.jsonl", jsonl_text(good) + "[" * 100_000 + "]" * 100_000 + "\n")),
        records(100, skipped_lines=1), "ok"))
    add(Case("readers", "jsonl 100k-deep object in a record", lambda d: rep(write(
        d / "a.jsonl", jsonl_text(good) + '{"step": 5000, "x": ' + '{"a": ' * 100_000 + "1"
        + "}" * 100_000 + "}\n")), lambda o: None if o.summary and o.summary["records"] in (100, 101)
        else "records lost", "ok"))
    add(Case("readers", "jsonl time 1e300", lambda d: rep(write(
        d / "a.jsonl", jsonl_text(good).replace('"time": ', '"time": 1e300, "t0": ', 1))),
        records(100), "ok"))
    add(Case("readers", "jsonl timestamp month 18", lambda d: rep(write(
        d / "a.jsonl", "".join(json.dumps({"step": s, "timestamp": f"2025-{18 if s == 50 else 8}-15 "
                                          f"20:41:{s % 60:02d}", "loss": 1.0 / (s + 1)}) + "\n"
                               for s in good))), records(100), "ok"))
    add(Case("readers", "csv timestamp month 18", lambda d: rep(write(
        d / "a.csv", "step,timestamp,loss\n" + "".join(
            f"{s},2025-{18 if s == 50 else 8}-15 20:41:{s % 60:02d},{1 / (s + 1)}\n"
            for s in good))), records(100), "ok"))
    add(Case("readers", "log timestamp month 18", lambda d: rep(write(
        d / "a.log", log_text(good).replace("2025-08-15 20:41:17", "2025-18-15 20:41:17", 1))),
        records(100), "ok"))
    add(Case("readers", "log step beyond int64", lambda d: rep(write(
        d / "a.log", log_text(good) + format_radiodiff_lines(
            10**22, 2000, terms(5), None, START)[0] + "\n")), records(100, skipped_lines=1), "ok"))
    add(Case("readers", "log total beyond int64", lambda d: rep(write(
        d / "a.log", log_text(good, total=10**22))), records(100), "ok"))
    add(Case("readers", "log config value 1e999", lambda d: rep(write(
        d / "a.log", log_text(good, cfg={"model": {"lossconfig": {"disc_start": 1e999,
                                                                "kl_weight": 1e999}},
                                         "trainer": {"train_num_steps": 1e999}}))),
        records(100), "ok"))
    add(Case("readers", "log value 1e999 in a record", lambda d: rep(write(
        d / "a.log", log_text(good).replace("lr: 0.00001, ", "lr: " + "9" * 400 + ".0, ", 1))),
        records(100), "ok"))
    add(Case("readers", "csv with BOM", lambda d: rep(write(
        d / "a.csv", b"\xef\xbb\xbf" + csv_text(good).encode())), records(100), "ok"))
    add(Case("readers", "jsonl with BOM", lambda d: rep(write(
        d / "a.jsonl", b"\xef\xbb\xbf" + jsonl_text(good).encode())), records(100), "ok"))
    add(Case("readers", "log with BOM", lambda d: rep(write(
        d / "a.log", b"\xef\xbb\xbf" + log_text(good).encode())), records(100), "ok"))
    add(Case("readers", "csv CRLF", lambda d: rep(write(
        d / "a.csv", csv_text(good).replace("\n", "\r\n"))), records(100), "ok"))
    add(Case("readers", "csv utf-16", lambda d: rep(write(
        d / "a.csv", csv_text(good).encode("utf-16"))), None, "any"))

    def fifo(d: Path) -> list[str]:
        os.mkfifo(d / "a.log")
        return rep(d / "a.log")
    add(Case("readers", "FIFO as input", fifo, None, "error", timeout=30))
    add(Case("readers", "/dev/zero as input", lambda d: rep("/dev/zero"), None, "error", 30))
    add(Case("readers", "/dev/null as input", lambda d: rep("/dev/null"), None, "error", 30))

    def fifo_in_dir(d: Path) -> list[str]:
        write(d / "run" / "a.csv", csv_text(good))
        os.mkfifo(d / "run" / "b.log")
        return rep(d / "run")
    add(Case("readers", "FIFO inside a directory", fifo_in_dir, records(100), "ok", timeout=30))

    def loop(d: Path) -> list[str]:
        write(d / "run" / "a.csv", csv_text(good))
        os.symlink(d / "run", d / "run" / "loop")
        return rep(d / "run")
    add(Case("readers", "symlink loop in a directory", loop, records(100), "ok", timeout=60))
    add(Case("readers", "random bytes", lambda d: rep(write(d / "a.log", os.urandom(50000))),
             None, "error"))
    add(Case("readers", "empty file", lambda d: rep(write(d / "a.csv", b"")), None, "error"))
    add(Case("readers", "csv header only", lambda d: rep(write(d / "a.csv", "step,loss\n")),
             None, "error"))
    add(Case("readers", "csv duplicate columns", lambda d: rep(write(
        d / "a.csv", "step,loss,loss\n" + "".join(f"{s},1,2\n" for s in good))), records(100),
        "ok"))
    add(Case("readers", "csv ragged rows", lambda d: rep(write(
        d / "a.csv", csv_text(good) + "1000,1,2,3,4,5,6,7,8,9,10,11,12,13\n")), None, "any"))
    add(Case("readers", "csv unterminated quote", lambda d: rep(write(
        d / "a.csv", csv_text(good) + '1000,"1,2\n')), None, "any"))
    add(Case("readers", "jsonl 5 MB line", lambda d: rep(write(
        d / "a.jsonl", jsonl_text(good) + '{"step": 5000, "x": "' + "a" * 5_000_000 + '"}\n')),
        None, "ok"))
    add(Case("readers", "log 5 MB noise line", lambda d: rep(write(
        d / "a.log", log_text(good) + "x" * 5_000_000 + "\n")), records(100), "ok"))
    add(Case("readers", "html in metric names", lambda d: rep(write(
        d / "a.csv", "step,<script>alert(1)</script>\n" + "".join(f"{s},{s}\n" for s in good))),
        lambda o: "unescaped" if "<script>alert" in (o.dir / "out" / "report.html").read_text()
        else None, "ok"))
    add(Case("readers", "truncated tfevents", lambda d: rep(write(
        d / "events.out.tfevents.1.host", b"\x18\x00\x00\x00\x00\x00\x00\x00\xa3\x7fK\x22brain")),
        None, "any"))
    add(Case("readers", "garbage tfevents", lambda d: rep(write(
        d / "events.out.tfevents.1.host", os.urandom(4000))), None, "any"))

    # logger formats: junk lines skipped, counted and named (line and why) in summary.json
    def named(n: int, fmt: str) -> Callable[[Outcome], str | None]:
        def ok(notes: list | None) -> bool:
            return bool(notes) and len(notes) == min(5, n) and all(
                isinstance(x.get("line"), int) and x.get("what") for x in notes)
        return records(100, skipped_lines=n, read_notes=ok,
                       segments=lambda segs: [s["format"] for s in segs or []] == [fmt])
    junk = ["garbage", "\udcff\udcfe invalid utf-8", '{"x": 1}']

    def wandb_history(d: Path) -> list[str]:
        lines = [json.dumps({"_step": i, "_runtime": s / 5, "_timestamp": START.timestamp() + s / 5,
                             "trainer/global_step": s, **terms(s)}) for i, s in enumerate(good)]
        lines[10:10] = junk
        lines.insert(40, json.dumps({"_step": 999, "_runtime": 1.0, "trainer/global_step": 1e20,
                                     "train/rec_loss": 0.1}))
        text = "\n".join(lines) + '\n{"_step": 1000, "_runt'            # cut last line
        write(d / "run-1" / "files" / "wandb-history.jsonl",
              text.encode("utf-8", "surrogateescape"))
        return rep(d / "run-1")
    add(Case("readers", "W&B history: junk, step 1e20, cut last line named", wandb_history,
             named(5, "wandb_history"), "ok"))

    def lightning(d: Path) -> list[str]:
        rows = csv_text(good).replace("step,time,", "epoch,step,").splitlines()
        rows = [rows[0]] + [r.replace(f"{r.split(',')[0]},{r.split(',')[1]},",
                                      f"0,{r.split(',')[0]},", 1) for r in rows[1:]]
        rows[10:10] = junk + ["nan,nan", "0,1e20," + ",".join(["1"] * len(GEN))]
        write(d / "lightning_logs" / "version_0" / "metrics.csv",
              "\n".join(rows).encode("utf-8", "surrogateescape") + b"\n")
        return rep(d / "lightning_logs" / "version_0")
    add(Case("readers", "Lightning CSV: junk and step 1e20 named", lightning, named(5, "lightning_csv"),
             "ok"))

    def segments(n: int) -> Callable[[Path], list[str]]:
        def build(d: Path) -> list[str]:
            files = []
            for k in range(n):
                files.append(str(write(d / "run" / f"seg{k:04d}.csv",
                                       csv_text(range(k * 100, k * 100 + 200, 10)))))
            return rep(d / "run")
        return build
    add(Case("readers", "400 resumed segments (linear)", segments(400), records(4010),
             "ok", timeout=90))
    return c


# -- watch ----------------------------------------------------------------------------------------
def watch_cases() -> list[Case]:
    c: list[Case] = []

    def rotate(d: Path, proc: subprocess.Popen) -> None:
        log = d / "train.log"
        time.sleep(4)
        with log.open("a") as f:
            f.write(log_text(range(1000, 1200, 10), cfg=None))
        time.sleep(1.0)
        os.rename(log, d / "train.log.1")
        write(log, log_text(range(1200, 2001, 10), cfg=None))

    def rotate_build(d: Path) -> list[str]:
        write(d / "train.log", log_text(range(0, 1000, 10)))
        return ["watch", str(d / "train.log"), "--interval", "0.5", "--max-refreshes", "40"]
    c.append(Case("watch", "rotation keeps the rotated file's records", rotate_build,
                  records(201), "ok", timeout=90, during=rotate))

    def copytrunc(d: Path, proc: subprocess.Popen) -> None:
        log = d / "train.log"
        time.sleep(4)
        write(d / "train.log.1", log.read_bytes())
        with log.open("r+") as f:
            f.truncate(0)
        time.sleep(1.0)
        with log.open("a") as f:
            f.write(log_text(range(1000, 2001, 10), cfg=None))
    c.append(Case("watch", "copytruncate keeps the earlier records", rotate_build,
                  records(201), "ok", timeout=90, during=copytrunc))

    def grow_to_end(d: Path, proc: subprocess.Popen) -> None:
        time.sleep(4)
        with (d / "train.log").open("a") as f:
            f.write(log_text(range(1000, 1991, 10), cfg=None))
        time.sleep(2)
        with (d / "train.log").open("a") as f:
            f.write(log_text(range(2000, 2001, 10), cfg=None))

    def end_build(d: Path) -> list[str]:
        write(d / "train.log", log_text(range(0, 1000, 10)))
        return ["watch", str(d / "train.log"), "--interval", "0.5", "--max-refreshes", "60"]
    c.append(Case("watch", "ends with the planned last step in the report", end_build,
                  records(201, steps=lambda s: s and s["last"] == 2000), "ok", 90,
                  grow_to_end))

    def bad_byte_live(d: Path, proc: subprocess.Popen) -> None:
        time.sleep(4)
        with (d / "train.log").open("ab") as f:
            f.write(b"\xff\xfe warning \x80\n" + log_text(range(1000, 2001, 10), cfg=None).encode())
    c.append(Case("watch", "non-utf8 byte in a live log", end_build,
                  records(201), "ok", 90, bad_byte_live))

    def jsonl_rotate(d: Path, proc: subprocess.Popen) -> None:
        time.sleep(4)
        os.rename(d / "m.jsonl", d / "m.jsonl.1")
        write(d / "m.jsonl", jsonl_text(range(1000, 2001, 10)))

    def jsonl_build(d: Path) -> list[str]:
        write(d / "m.jsonl", jsonl_text(range(0, 1000, 10)))
        return ["watch", str(d / "m.jsonl"), "--interval", "0.5", "--max-refreshes", "30",
                "--total-steps", "5000"]
    c.append(Case("watch", "jsonl rotation keeps rows", jsonl_build, records(201), "ok", 90,
                  jsonl_rotate))

    def fifo(d: Path) -> list[str]:
        os.mkfifo(d / "a.log")
        return ["watch", str(d / "a.log"), "--interval", "0.2", "--max-refreshes", "3"]
    c.append(Case("watch", "FIFO refused", fifo, None, "error", 30))

    def out_is_file(d: Path) -> list[str]:
        write(d / "train.log", log_text(range(0, 1000, 10)))
        write(d / "out", "x")
        return ["watch", str(d / "train.log"), "--out", str(d / "out"), "--max-refreshes", "1"]
    c.append(Case("watch", "--out is a file", out_is_file, None, "error"))
    return c


# -- outputs --------------------------------------------------------------------------------------
def output_cases() -> list[Case]:
    c: list[Case] = []
    good = range(0, 1000, 10)

    def base(d: Path, out: str) -> list[str]:
        write(d / "a.csv", csv_text(good))
        return ["report", str(d / "a.csv"), "--out", out]

    def out_file(d: Path) -> list[str]:
        write(d / "f", "x")
        return base(d, str(d / "f"))
    c.append(Case("outputs", "--out is a file", out_file,
                  lambda o: None if (o.dir / "f").read_text() == "x" else "file changed", "error"))

    def below_file(d: Path) -> list[str]:
        write(d / "f", "x")
        return base(d, str(d / "f" / "sub"))
    c.append(Case("outputs", "--out below a file", below_file, None, "error"))

    def not_writable(d: Path) -> list[str]:
        (d / "ro").mkdir()
        os.chmod(d / "ro", 0o555)
        return base(d, str(d / "ro" / "out"))
    c.append(Case("outputs", "--out in a read-only folder", not_writable, None, "any"))
    c.append(Case("outputs", "--out is /proc", lambda d: base(d, "/proc/radiovae-out"), None,
                  "error"))

    def full(d: Path) -> list[str]:
        write(d / "a.csv", csv_text(good))
        return ["report", str(d / "a.csv"), "--out", "/dev/full/out"]
    c.append(Case("outputs", "--out below a device", full, None, "error"))

    def tiny_fs(d: Path) -> list[str]:
        mnt = d / "mnt"
        mnt.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                           capture_output=True)
        if r.returncode:
            raise OSError("cannot mount a tmpfs here")
        write(mnt / "out" / "summary.json", "{\"previous\": true}")
        return base(d, str(mnt / "out"))

    def tiny_check(o: Outcome) -> str | None:
        mnt = o.dir / "mnt"
        try:
            left = sorted(p.name for p in (mnt / "out").iterdir())
            prev = (mnt / "out" / "summary.json").read_text()
            stray = [p.name for p in mnt.iterdir() if p.name != "out"]
        finally:
            subprocess.run(["umount", str(mnt)], capture_output=True)
        if o.rc == 2 and (prev != "{\"previous\": true}" or left != ["summary.json"] or stray):
            return f"half-written output left: {left} {stray}"
        return None
    c.append(Case("outputs", "full disk (64 KiB tmpfs)", tiny_fs, tiny_check, "error",
                  cleanup=unmount))

    def grid_outside(d: Path) -> list[str]:
        from PIL import Image
        Image.new("RGB", (8, 8), (255, 0, 0)).save(d / "secret.png")
        run = d / "run"
        write(run / "metrics.jsonl", jsonl_text(good))
        write(run / "evaluation.json", json.dumps({"grid": "../secret.png", "nmse": 0.01}))
        return rep(run)
    c.append(Case("outputs", "evaluation grid outside the run dir", grid_outside,
                  lambda o: "copied a file from outside the run dir"
                  if (o.dir / "out" / "figures" / "eval_grid.png").exists() else None, "ok"))

    def grid_abs(d: Path) -> list[str]:
        from PIL import Image
        Image.new("RGB", (8, 8), (255, 0, 0)).save(d / "secret.png")
        run = d / "run"
        write(run / "metrics.jsonl", jsonl_text(good))
        write(run / "evaluation.json", json.dumps({"grid": str(d / "secret.png")}))
        return rep(run)
    c.append(Case("outputs", "evaluation grid absolute path", grid_abs,
                  lambda o: "copied a file from outside the run dir"
                  if (o.dir / "out" / "figures" / "eval_grid.png").exists() else None, "ok"))

    def grid_link(d: Path) -> list[str]:
        from PIL import Image
        Image.new("RGB", (8, 8), (255, 0, 0)).save(d / "secret.png")
        run = d / "run"
        write(run / "metrics.jsonl", jsonl_text(good))
        (run / "eval").mkdir()
        os.symlink(d / "secret.png", run / "eval" / "grid.png")
        write(run / "evaluation.json", json.dumps({"grid": "eval/grid.png"}))
        return rep(run)
    c.append(Case("outputs", "evaluation grid symlink out of the run dir", grid_link,
                  lambda o: "copied a file from outside the run dir"
                  if (o.dir / "out" / "figures" / "eval_grid.png").exists() else None, "ok"))

    def grid_weird(d: Path) -> list[str]:
        run = d / "run"
        write(run / "metrics.jsonl", jsonl_text(good))
        write(run / "evaluation.json", json.dumps({"grid": {"a": [1, 2]}, "nmse": "x" * 100000}))
        return rep(run)
    c.append(Case("outputs", "evaluation with odd types", grid_weird, None, "any"))

    def concurrent(d: Path) -> list[str]:
        write(d / "b.csv", csv_text(range(0, 2000, 10)))
        return base(d, str(d / "out"))

    def second_report(d: Path, proc: subprocess.Popen) -> None:
        time.sleep(0.3)
        subprocess.run([sys.executable, "-m", "radiovae", "report", str(d / "b.csv"), "--out",
                        str(d / "out")], capture_output=True, env={**os.environ,
                                                                   "MPLBACKEND": "Agg"})

    def consistent(o: Outcome) -> str | None:
        summary = json.loads((o.dir / "out" / "summary.json").read_text())
        md = (o.dir / "out" / "report.md").read_text()
        last = summary["steps"]["last"]
        return None if f"{last:,}" in md else f"summary.json (last {last}) and report.md disagree"
    c.append(Case("outputs", "two reports into one --out", concurrent, consistent, "ok", 120,
                  second_report))

    def stale(d: Path) -> list[str]:
        out = d / "out"
        write(out / "figures" / "old_figure.png", b"x")
        write(out / "summary.json", "{}")
        return base(d, str(out))
    c.append(Case("outputs", "previous report replaced as a whole", stale,
                  lambda o: "a stale file from the previous report is left"
                  if (o.dir / "out" / "figures" / "old_figure.png").exists() else None, "ok"))
    return c


# -- configs --------------------------------------------------------------------------------------
BOMB = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8))


def config_cases() -> list[Case]:
    c: list[Case] = []
    good = range(0, 1000, 10)

    def run_dir(cfg: str) -> Callable[[Path], list[str]]:
        def build(d: Path) -> list[str]:
            run = d / "run"
            write(run / "metrics.jsonl", jsonl_text(good))
            write(run / "config.yaml", cfg)
            return rep(run)
        return build

    def short_err(o: Outcome) -> str | None:
        return None if len(o.err) < 400 else f"stderr {len(o.err)} chars"
    c.append(Case("configs", "run dir config.yaml alias bomb", run_dir(BOMB), short_err,
                  "any", 60))
    c.append(Case("configs", "run dir config.yaml 100k deep", run_dir("[" * 100_000), short_err,
                  "any", 60))
    c.append(Case("configs", "run dir config.yaml 100k deep mapping",
                  run_dir("".join(" " * i + f"k{i}:\n" for i in range(3000)) + " " * 3000 + "x: 1\n"),
                  short_err, "any", 60))
    c.append(Case("configs", "run dir config.yaml value 1e999", run_dir(
        "model:\n  lossconfig:\n    disc_start: 1e999\n    kl_weight: .inf\ntrainer:\n"
        "  train_num_steps: 1.0e+999\n  log_freq: -.inf\n"), records(100), "ok"))
    c.append(Case("configs", "run dir config.yaml python tag", run_dir(
        "!!python/object/apply:os.system ['touch pwned']\n"),
        lambda o: "ran code" if (o.dir / "pwned").exists() else None, "any"))
    c.append(Case("configs", "run dir config.yaml not a mapping", run_dir("- 1\n- 2\n"),
                  records(100), "ok"))
    c.append(Case("configs", "run dir config.yaml non-utf8", run_dir("a: \xff\n".encode("latin-1")
                  .decode("latin-1")), None, "any"))

    def eval_deep(d: Path) -> list[str]:
        run = d / "run"
        write(run / "metrics.jsonl", jsonl_text(good))
        write(run / "evaluation.json", "[" * 100_000 + "]" * 100_000)
        return rep(run)
    c.append(Case("configs", "evaluation.json 100k deep", eval_deep, short_err, "any", 60))

    def many_cfg(d: Path) -> list[str]:
        cfg = f"2025-08-15 20:41:00,000 {CFG!r}\n"
        text = cfg * 20_000 + log_text(good, cfg=None)
        return rep(write(d / "a.log", text))
    c.append(Case("configs", "20k config-dict lines in a log", many_cfg, records(100), "ok",
                  timeout=60))

    def deep_cfg_line(d: Path) -> list[str]:
        text = "2025-08-15 20:41:00,000 {'a': " + "[" * 100_000 + "]" * 100_000 + "}\n"
        return rep(write(d / "a.log", text + log_text(good, cfg=None)))
    c.append(Case("configs", "100k-deep config dict in a log", deep_cfg_line, records(100), "ok"))

    def big_cfg_line(d: Path) -> list[str]:
        text = "2025-08-15 20:41:00,000 {'a': '" + "x" * 20_000_000 + "'}\n"
        return rep(write(d / "a.log", text + log_text(good, cfg=None)))
    c.append(Case("configs", "20 MB config dict line in a log", big_cfg_line, records(100), "ok"))

    def train_bomb(d: Path) -> list[str]:
        write(d / "c.yaml", BOMB)
        return ["train", "--config", str(d / "c.yaml"), "--run-dir", str(d / "r")]
    c.append(Case("configs", "train --config alias bomb", train_bomb, short_err, "error", 60))

    def train_deep(d: Path) -> list[str]:
        write(d / "c.yaml", "[" * 100_000)
        return ["train", "--config", str(d / "c.yaml"), "--run-dir", str(d / "r")]
    c.append(Case("configs", "train --config 100k deep", train_deep, short_err, "error", 60))

    def train_big_value(d: Path) -> list[str]:
        write(d / "c.yaml", "trainer:\n  lr: [" + ",".join(["1"] * 200_000) + "]\n")
        return ["train", "--config", str(d / "c.yaml"), "--run-dir", str(d / "r")]
    c.append(Case("configs", "train --config huge wrong-typed value", train_big_value, short_err,
                  "error", 60))

    def train_inf(d: Path) -> list[str]:
        write(d / "c.yaml", "trainer:\n  train_num_steps: 1e999\n")
        return ["train", "--config", str(d / "c.yaml"), "--run-dir", str(d / "r")]
    c.append(Case("configs", "train --config 1e999 steps", train_inf, short_err, "error", 60))
    return c


# the resume tests' tiny run (16 x 16 maps, ch 8, GAN from step 4, 8 steps: ~4 MB of checkpoints)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_train_resume import SMALL as SMALL_TRAIN  # noqa: E402

# a progress bar's line (cut to the terminal's width): "training ━━╸ 6…  75% 0:… 0… rec 1.48 ..."
PROGRESS = r"\s\d{1,3}%\s"


def training_cases() -> list[Case]:
    """``radiovae train`` onto a disk that fills (a tmpfs of each size): exit 2 with one line, no
    traceback from any thread, every checkpoint written loadable; exit 0 where it all fits."""
    c: list[Case] = []

    def on_tmpfs(kib: int) -> Callable[[Path], list[str]]:
        def build(d: Path) -> list[str]:
            mnt = d / "mnt"
            mnt.mkdir()
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(mnt)],
                               capture_output=True)
            if r.returncode:
                raise OSError("cannot mount a tmpfs here")
            write(d / "c.json", json.dumps(SMALL_TRAIN))     # YAML reads JSON
            return ["train", "--config", str(d / "c.json"), "--run-dir", str(mnt / "run")]
        return build

    def intact(o: Outcome) -> str | None:
        import torch

        run = o.dir / "mnt" / "run"
        if o.rc == 2 and "no space left on device" not in o.err:
            return f"exit 2 without saying the disk is full: {o.err.strip()[-160:]}"
        for p in sorted((run / "checkpoints").glob("model-*.pt")):
            try:
                ckpt = torch.load(p, weights_only=True)
            except Exception as e:   # noqa: BLE001 - any failure is the finding
                return f"{p.name} does not load: {type(e).__name__}"
            if ckpt.get("step") != int(p.stem.removeprefix("model-")):
                return f"{p.name} holds step {ckpt.get('step')}"
        left = [p.name for p in run.rglob("*.tmp-*")]
        return f"temp files left: {left}" if left else None

    for kib in (4, 8, 12, 16, 32, 64, 256, 1024, 2048, 3072):
        c.append(Case("training", f"train onto a full disk ({kib} KiB tmpfs)", on_tmpfs(kib),
                      intact, "error", 120, noise=PROGRESS, cleanup=unmount))
    c.append(Case("training", "train onto a disk it fits (16 MiB tmpfs)", on_tmpfs(16384), intact,
                  "ok", 120, noise=PROGRESS, cleanup=unmount))
    return c


from hostile_integrity import budget, integrity_cases  # noqa: E402 (issue 17's families)

AREAS = {"readers": reader_cases, "watch": watch_cases, "outputs": output_cases,
         "configs": config_cases, "training": training_cases, "integrity": integrity_cases}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="run only cases whose area/name contains this")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--budget", action="store_true",
                    help="instead: peak memory and time of the memory / time reproducers")
    args = ap.parse_args()
    if args.budget:
        with tempfile.TemporaryDirectory(prefix="radiovae-budget-") as tmp:
            return budget(Path(tmp))
    tally: dict[str, list[int]] = {}
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="radiovae-probe-") as tmp:
        root = Path(tmp)
        for area, make in AREAS.items():
            for case in make():
                if args.only and args.only not in f"{area}/{case.name}":
                    continue
                try:
                    ok, why = run_case(case, root / area)
                except OSError as e:
                    print(f"  skip {area}/{case.name}: {e}")
                    continue
                t = tally.setdefault(area, [0, 0])
                t[0] += 1
                t[1] += ok
                if not ok:
                    failed.append(f"{area}/{case.name}: {why}")
                if args.verbose or not ok:
                    print(f"  {'ok  ' if ok else 'FAIL'} {area}/{case.name}: {why}", flush=True)
    print("\narea       tried  passed")
    for area, (n, ok) in tally.items():
        print(f"{area:<10} {n:>5}  {ok:>6}")
    total = [sum(v[i] for v in tally.values()) for i in (0, 1)]
    print(f"{'all':<10} {total[0]:>5}  {total[1]:>6}")
    return 0 if not failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
