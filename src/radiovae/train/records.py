"""A run dir's records: config.yaml, metrics.jsonl, train.log, tb/, samples/.

metrics.jsonl is the primary record (one JSON object per logged step, every term at full
precision, NaN / Infinity as JSON tokens, flushed per line so ``radiovae watch`` sees it live);
train.log (RadioDiff's line shape) and tb/ (TensorBoard) hold the same numbers for RadioDiff's tools
and TensorBoard. On resume from a checkpoint at step k, the rows of steps >= k in every record are
dropped (they belong to the abandoned continuation and are recomputed), so a run dir always holds
one consistent history. Only rank 0 writes.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from radiovae.io import atomic_path, atomic_write_text
from radiovae.train.config import TrainConfig, dump_config
from radiovae.train.events import EventFile

# Terms RadioDiff logs on its discriminator line; every other term goes on the generator line.
DISC_TERMS = ("train/disc_loss", "train/logits_real", "train/logits_fake")
_LOG_STEP = re.compile(r"\[Train (?:Step|End)\]\s+(\d+)/")


def _truncate_jsonl(path: Path, before_step: int) -> None:
    """Keep the rows of steps < before_step (and drop a half-written last line)."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int) and row["step"] < before_step:
            kept.append(line)
    atomic_write_text(path, "".join(f"{line}\n" for line in kept))


def _truncate_log(path: Path, before_step: int) -> None:
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _LOG_STEP.search(line)
        if m is None or int(m.group(1)) < before_step:
            kept.append(line)
    atomic_write_text(path, "".join(f"{line}\n" for line in kept))


class RunDirWriter:
    """Writes a run dir's records (config.yaml, metrics.jsonl, train.log, tb/, samples/);
    ``start_step`` > 0 means resuming from a checkpoint at that step."""

    def __init__(self, run_dir: Path, config: TrainConfig | dict, total_steps: int,
                 start_step: int = 0, notes: list[str] | None = None):
        self.dir = Path(run_dir)
        self.total_steps = total_steps
        for sub in ("checkpoints", "samples", "tb"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        notes = list(notes if notes is not None else getattr(config, "notes", []))
        plain = config.as_dict() if isinstance(config, TrainConfig) else config
        head = "".join(f"# {n}\n" for n in notes)
        atomic_write_text(self.dir / "config.yaml", head + dump_config(plain))
        self.metrics_path, self.log_path = self.dir / "metrics.jsonl", self.dir / "train.log"
        _truncate_jsonl(self.metrics_path, start_step)
        _truncate_log(self.log_path, start_step)
        self._open: list = []     # what close() closes, in order
        try:
            self._metrics = self._opened(open(self.metrics_path, "a", encoding="utf-8"))
            self._log = self._opened(open(self.log_path, "a", encoding="utf-8"))
            if start_step == 0:
                stamp = f"{datetime.now():%Y-%m-%d %H:%M:%S,%f}"[:-3]
                for note in notes:   # what was mapped or ignored, first
                    self._log.write(f"{stamp} radiovae config note: {note}\n")
                self._log.write(f"{stamp} radiovae training config: {plain!r}\n")   # as RadioDiff does
                self._log.flush()
            # written here, not by SummaryWriter's thread: a full disk is an OSError of log()
            self.tb = self._opened(EventFile(self.dir / "tb", purge_step=start_step or None))
        except BaseException:
            self.close(quiet=True)   # nothing half-written left to a flush at exit
            raise

    def _opened(self, f):
        self._open.append(f)
        return f

    def log(self, step: int, terms: dict[str, float], when: datetime | None = None) -> None:
        """One logged step into metrics.jsonl, train.log and tb/."""
        from radiovae.runlog.radiodiff_log import format_radiodiff_lines

        when = when or datetime.now()
        row = {"step": step, "time": when.timestamp(), **{k: float(v) for k, v in terms.items()}}
        self._metrics.write(json.dumps(row, allow_nan=True) + "\n")
        self._metrics.flush()
        disc = {k: v for k, v in terms.items() if k in DISC_TERMS}
        gen = {k: v for k, v in terms.items() if k not in DISC_TERMS and k != "skipped"}
        if disc and "lr" in terms:
            disc["lr"] = terms["lr"]
        for line in format_radiodiff_lines(step, self.total_steps, gen, disc or None, when):
            self._log.write(line.rstrip("\n") + "\n")
        self._log.flush()
        # NaN too: the events must say what the step wrote, as metrics.jsonl does (absent is not
        # NaN for readers)
        self.tb.add_scalars(step, terms, wall_time=row["time"])

    def finish(self, steps_done: int, stopped: str) -> None:
        """The end-of-run marker, after the last record: ``radiovae watch`` ends on it.

        ``stopped``: "done" (all planned steps), "max_steps" or "diverged". A resume from a
        checkpoint at or before ``steps_done`` drops it with the rows it truncates."""
        when = datetime.now()
        self._metrics.write(json.dumps({"event": "end", "step": steps_done, "stopped": stopped,
                                        "time": when.timestamp()}) + "\n")
        self._metrics.flush()
        self._log.write(f"{when:%Y-%m-%d %H:%M:%S,%f}"[:-3]
                        + f" [Train End] {steps_done}/{self.total_steps}: {stopped}\n")
        self._log.flush()

    def samples(self, step: int, inputs: np.ndarray, recons: np.ndarray) -> Path:
        return save_grid(self.dir / "samples" / f"step-{step:07d}.png", inputs, recons)

    def close(self, quiet: bool = False) -> None:
        """Close every record file; the first error (a full disk flushing the rest) is raised
        after all are closed, none with ``quiet`` (another error is already on its way)."""
        first: OSError | None = None
        for f in self._open:
            try:
                f.close()
            except OSError as exc:   # closed all the same (what could not be flushed is lost)
                first = first or exc
        self._open = []
        if first is not None and not quiet:
            raise first


ERROR_FULL_SCALE = 0.1   # |error| of 0.1 (10% of the [0, 1] range) is drawn at full brightness


def save_grid(path: Path, inputs: np.ndarray, recons: np.ndarray, pad: int = 2) -> Path:
    """PNG grid, one column per map: input / reconstruction / |error| (inferno, x10), atomic.

    ``inputs`` and ``recons`` are (N, H, W) arrays in [0, 1].
    """
    from matplotlib import colormaps

    inputs, recons = np.clip(inputs, 0, 1), np.clip(recons, 0, 1)
    n, h, w = inputs.shape
    err = np.abs(recons - inputs) / ERROR_FULL_SCALE
    rows = [np.repeat(inputs[..., None], 3, -1), np.repeat(recons[..., None], 3, -1),
            colormaps["inferno"](np.clip(err, 0, 1))[..., :3]]
    header = 14
    grid = np.ones((header + 3 * h + 4 * pad, n * w + (n + 1) * pad, 3))
    for r, row in enumerate(rows):
        y = header + pad + r * (h + pad)
        for i in range(n):
            x = pad + i * (w + pad)
            grid[y:y + h, x:x + w] = row[i]
    image = Image.fromarray(np.rint(grid * 255).astype(np.uint8))
    ImageDraw.Draw(image).text((pad, 1), "input / reconstruction / |error| x10", fill=(0, 0, 0))
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
    return Path(path)
