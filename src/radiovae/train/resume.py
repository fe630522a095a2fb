"""Resuming a run: which checkpoint to resume from, and each process's RNG state and data position.

Saves are atomic, so a killed save never damages a checkpoint, but files still get truncated,
copied half-way or edited. A checkpoint is resumed from only if it holds everything the next step
needs, with the right types and shapes; a damaged or malformed newest one is reported in one
warning line and the previous one is used. Temp files of saves that were killed are removed on
start.

Under DDP every process draws its own posterior noise and reads its own share of the data, so each
process's RNG state and data position is gathered to rank 0 and saved in the one checkpoint file
(``ranks``: one entry per rank); on resume each process restores its own entry instead of being
reseeded, and the resumed run repeats the uninterrupted one.
"""

from __future__ import annotations

import errno
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as torch_dist

from radiovae.errors import UserError
from radiovae.model import build_model, load_checkpoint
from radiovae.train.config import TrainConfig

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class SaveFailed(UserError):
    """A checkpoint could not be written; training stopped, the previous checkpoint is intact.

    ``quiet``: raised on a process other than rank 0, which only follows rank 0's failure (rank 0
    says what happened).
    """

    def __init__(self, message: str, quiet: bool = False):
        super().__init__(message)
        self.quiet = quiet


def save_failed(path: Path, done: int, previous: Path | None, exc: OSError) -> str:
    """The one line that says a save failed, what it cost and how to continue."""
    what = "no space left on device" if exc.errno in _NO_SPACE else (exc.strerror or str(exc))
    kept = (f"the previous checkpoint {previous} is intact" if previous is not None
            else "no earlier checkpoint exists")
    return (f"could not write checkpoint {path} ({what}): training stopped after step {done}; "
            f"{kept}; free space and rerun the same command to resume")


def records_failed(run_dir: Path, saved: Path | None) -> str:
    kept = f"the last checkpoint {saved} is intact" if saved else "no checkpoint was written yet"
    return (f"no space left on device while writing the records in {run_dir}: training stopped; "
            f"{kept}; free space and rerun the same command to resume")


def disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in _NO_SPACE


# -- RNG state -------------------------------------------------------------------------------------

def rng_state() -> dict[str, Any]:
    """This process's Python, NumPy, torch and CUDA RNG states, as tensors and plain data."""
    np_state = np.random.get_state(legacy=False)
    return {
        "python": random.getstate(),
        "numpy": {"bit_generator": np_state["bit_generator"],
                  "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
                  "pos": int(np_state["state"]["pos"]), "has_gauss": int(np_state["has_gauss"]),
                  "gauss": float(np_state["gauss"])},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _numpy_state(n: dict[str, Any]) -> dict[str, Any]:
    return {"bit_generator": n["bit_generator"], "has_gauss": n["has_gauss"], "gauss": n["gauss"],
            "state": {"key": n["key"].numpy().astype(np.uint32), "pos": n["pos"]}}


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate((state["python"][0], tuple(state["python"][1]), state["python"][2]))
    np.random.set_state(_numpy_state(state["numpy"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _check_rng(state: Any) -> str | None:
    """Why ``state`` is not an RNG state :func:`set_rng_state` accepts (tried on scratch RNGs)."""
    if not isinstance(state, dict) or not {"python", "numpy", "torch", "cuda"} <= set(state):
        return "its RNG state lacks python / numpy / torch / cuda"
    try:
        py = state["python"]
        random.Random().setstate((py[0], tuple(py[1]), py[2]))
        np.random.RandomState().set_state(_numpy_state(state["numpy"]))
        torch.Generator().set_state(state["torch"])
        if not (isinstance(state["cuda"], list | tuple) and all(
                isinstance(t, torch.Tensor) and t.dtype == torch.uint8 for t in state["cuda"])):
            raise TypeError("cuda state is not a list of byte tensors")
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, RuntimeError) as e:
        return f"its RNG state does not load ({type(e).__name__}: {str(e)[:80]})"
    return None


# -- each process's state --------------------------------------------------------------------------

def process_state(epoch: int, index: int) -> dict[str, Any]:
    """What one process needs to continue exactly: its RNG state and its data position."""
    return {"rng": rng_state(), "data": {"epoch": int(epoch), "index": int(index)}}


def gather_process_states(own: dict[str, Any], rank: int, world_size: int
                          ) -> list[dict[str, Any]] | None:
    """Every rank's :func:`process_state`, in rank order, on rank 0 (None elsewhere). Collective."""
    if world_size == 1:
        return [own]
    out: list | None = [None] * world_size if rank == 0 else None
    torch_dist.gather_object(own, out, dst=0)
    return out


def own_process_state(ckpt: dict[str, Any], rank: int, world_size: int
                      ) -> tuple[dict[str, Any], bool]:
    """(this rank's saved state, exact): exact is False when the number of processes changed.

    Then the weights and optimizer state are resumed, rank 0's data position is used, and the
    caller reseeds: the run continues, but not as the uninterrupted run would have.
    """
    ranks = ckpt.get("ranks")
    if isinstance(ranks, list) and len(ranks) == world_size:
        return ranks[rank], True
    saved_world = len(ranks) if isinstance(ranks, list) else int(ckpt.get("world_size", 1))
    own = {"rng": ckpt["rng"], "data": ckpt["data"]}
    return own, saved_world == world_size == 1


# -- which checkpoint ------------------------------------------------------------------------------

def checkpoints(run_dir: Path) -> list[Path]:
    """``checkpoints/model-<step>.pt`` of a run dir, newest (highest step) first."""
    found = []
    for p in (Path(run_dir) / "checkpoints").glob("model-*.pt"):
        stem = p.stem.removeprefix("model-")
        if stem.isdigit():
            found.append((int(stem), p))
    return [p for _, p in sorted(found, reverse=True)]


def clean_stale_temp_files(run_dir: Path) -> list[Path]:
    """Remove the temp files (``.<name>.tmp-*``) that saves killed mid-write left behind.

    Only the trainer writes into a run dir (one trainer per run dir), and it calls this before
    writing anything, so every such file is a leftover.
    """
    removed = []
    for folder in (Path(run_dir), Path(run_dir) / "checkpoints", Path(run_dir) / "samples"):
        for p in folder.glob(".*.tmp-*"):
            if p.is_file() and not p.is_symlink():
                size = p.stat().st_size
                p.unlink()
                removed.append((p, size))
    if removed:
        mb = sum(s for _, s in removed) / 1e6
        print(f"radiovae: removed {len(removed)} unfinished file(s) ({mb:.1f} MB) left by "
              f"interrupted saves in {run_dir}", flush=True)
    return [p for p, _ in removed]


_DICTS = ("model", "ema", "opt_ae", "opt_disc", "lr_scheduler_ae", "lr_scheduler_disc", "config")


def _is_count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _check_data(data: Any) -> str | None:
    if not isinstance(data, dict) or not all(_is_count(data.get(k)) for k in ("epoch", "index")):
        return "its data position is not {epoch, index} counts"
    return None


def _check_tensors(state: dict, expected: dict[str, torch.Size], what: str) -> str | None:
    missing = [k for k in expected if k not in state]
    if missing:
        return f"its {what} lacks {len(missing)} tensor(s), e.g. {missing[0]}"
    for k, shape in expected.items():
        v = state[k]
        if not isinstance(v, torch.Tensor) or v.shape != shape:
            got = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
            return f"its {what} {k} is {got}, not {tuple(shape)}"
    return None


def _check_optimizer(state: dict, shapes: list[torch.Size], name: str) -> str | None:
    groups, per_param = state.get("param_groups"), state.get("state")
    if not (isinstance(groups, list) and all(isinstance(g, dict) and isinstance(g.get("params"), list)
                                             for g in groups) and isinstance(per_param, dict)):
        return f"its {name} is not an optimizer state"
    ids = [i for g in groups for i in g["params"]]
    if len(ids) != len(shapes):
        return f"its {name} holds {len(ids)} parameters, this model has {len(shapes)}"
    shape_of = dict(zip(ids, shapes, strict=True))
    for i, st in per_param.items():
        if i not in shape_of or not isinstance(st, dict):
            return f"its {name} has state for an unknown parameter {i!r}"
        for k, v in st.items():
            if k != "step" and isinstance(v, torch.Tensor) and v.shape != shape_of[i]:
                return f"its {name} {k} of parameter {i} is {tuple(v.shape)}, not {tuple(shape_of[i])}"
    return None


def expected_shapes(cfg: TrainConfig) -> dict[str, Any]:
    """The tensor shapes a checkpoint of ``cfg``'s run must have: model and optimizers built as
    the trainer builds them, on the meta device (no memory, no RNG draws)."""
    from radiovae.train.step import build_optimizers

    with torch.device("meta"):
        autoencoder, loss = build_model(cfg.model)
        opt_ae, opt_disc = build_optimizers(autoencoder, loss, cfg.trainer)
    ae = {k: v.shape for k, v in autoencoder.state_dict().items()}
    return {
        "model": {**ae, **{f"loss.{k}": v.shape for k, v in loss.state_dict().items()}},
        "ema": {f"ema_model.{k}": s for k, s in ae.items()},
        "opt_ae": [p.shape for g in opt_ae.param_groups for p in g["params"]],
        "opt_disc": [p.shape for g in opt_disc.param_groups for p in g["params"]],
    }


def problem(ckpt: dict[str, Any], path: Path, shapes: dict[str, Any] | None = None) -> str | None:
    """Why ``ckpt`` (loaded from ``path``) cannot be resumed from, or None if it can."""
    missing = [k for k in ("step", *_DICTS, "rng", "data") if k not in ckpt]
    if missing:
        return f"it lacks {', '.join(missing)}"
    step = ckpt["step"]
    if not _is_count(step):
        return f"its step is {str(step)[:40]!r} ({type(step).__name__}), not a step count"
    if int(path.stem.removeprefix("model-")) != step:
        return f"it holds step {step} but is named {path.name}"
    for key in _DICTS:
        if not isinstance(ckpt[key], dict):
            return f"its {key} is a {type(ckpt[key]).__name__}, not a mapping"
    if _architecture(ckpt) is None:
        return "its config does not name the model (model.embed_dim, model.ddconfig)"
    if ckpt.get("scaler") is not None and not isinstance(ckpt["scaler"], dict):
        return "its scaler is not a mapping"
    for key in ("lr_scheduler_ae", "lr_scheduler_disc"):
        if not _is_count(ckpt[key].get("last_epoch")):
            return f"its {key} has no step count (last_epoch)"
    if any(not isinstance(v, torch.Tensor) for v in ckpt["ema"].values()):
        return "its EMA holds something other than tensors"
    ranks = ckpt.get("ranks", [])
    if not isinstance(ranks, list) or not all(isinstance(r, dict) for r in ranks):
        return "its per-process states (ranks) are not a list of mappings"
    for r in [{"rng": ckpt["rng"], "data": ckpt["data"]}, *ranks]:
        why = _check_rng(r.get("rng")) or _check_data(r.get("data"))
        if why:
            return why
    if shapes is not None:
        return (_check_tensors(ckpt["model"], shapes["model"], "model")
                or _check_tensors(ckpt["ema"], shapes["ema"], "EMA")
                or _check_optimizer(ckpt["opt_ae"], shapes["opt_ae"], "opt_ae")
                or _check_optimizer(ckpt["opt_disc"], shapes["opt_disc"], "opt_disc"))
    return None


def _architecture(ckpt: dict[str, Any]) -> dict | None:
    """The checkpoint's ``config.model`` if it names the architecture (embed_dim, ddconfig)."""
    model = ckpt["config"].get("model") if isinstance(ckpt.get("config"), dict) else None
    if isinstance(model, dict) and "embed_dim" in model and isinstance(model.get("ddconfig"), dict):
        return model
    return None


def _same_architecture(ckpt: dict[str, Any], cfg: TrainConfig, run_dir: Path) -> None:
    old = _architecture(ckpt)
    new = cfg.model.as_dict()
    for key in ("embed_dim", "ddconfig"):
        if old.get(key) != new[key]:
            raise UserError(f"{run_dir} was trained with a different model.{key} "
                            f"({old.get(key)} vs {new[key]}); use a new --run-dir")


def latest_checkpoint(run_dir: Path, cfg: TrainConfig | None = None, quiet: bool = False
                      ) -> tuple[Path | None, dict | None]:
    """The newest checkpoint that loads and is complete; damaged or malformed newer ones are
    reported in one line each and passed over.

    ``cfg``: the run's resolved config; then tensor shapes are checked too, and a checkpoint of a
    different architecture is refused (UserError: it is another run's, not a damaged one). If
    checkpoints exist but none is usable, UserError: starting over would drop the run's records.
    """
    found = checkpoints(run_dir)
    shapes = expected_shapes(cfg) if cfg is not None and found else None
    for path in found:
        try:
            ckpt = load_checkpoint(path)
        except UserError as exc:
            why = str(exc)
        else:
            if cfg is not None and _architecture(ckpt) is not None:
                _same_architecture(ckpt, cfg, run_dir)
            why = problem(ckpt, path, shapes)
            if why is None:
                return path, ckpt
            why = f"not a complete radiovae training checkpoint: {why}"
        if not quiet:
            print(f"radiovae: warning: skipping {path}: {why}", flush=True)
    if found:
        raise UserError(f"none of the {len(found)} checkpoint(s) in {Path(run_dir) / 'checkpoints'}"
                        f" can be resumed from; move them away to start this run over")
    return None, None
