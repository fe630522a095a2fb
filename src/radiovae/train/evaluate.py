"""Evaluate a first-stage checkpoint: ``radiovae eval --checkpoint C [--data ...] [--split test]``.

With the EMA weights (as RadioDiff's second stage uses them) every map of the split is encoded,
decoded from the posterior mean, and scored with the paper's metrics on [0, 1] images
(:mod:`radiovae.metrics`: NMSE, RMSE, SSIM, PSNR, averaged over maps). The latent statistics say
what a stage-2 diffusion model needs: per-channel mean / std of the posterior means, and
``scale_factor`` = 1 / std over all latent values (latent-diffusion's rescaling to unit variance;
it measures the std of posterior *samples* of one batch, which with kl_weight 1e-6 is the same to
within the posterior's tiny variance).

Writes ``evaluation.json`` (the keys the report reads) and ``eval/<split>-grid.png`` into the run
dir (the checkpoint's, unless ``out`` is given).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch

from radiovae.errors import UserError
from radiovae.io import atomic_write_text
from radiovae.metrics import image_metrics
from radiovae.progress import make_progress
from radiovae.train.config import DataConfig, resolve_config
from radiovae.train.datasets import build_dataset, data_config_for, fit_size
from radiovae.train.records import save_grid

GRID_MAPS = 8


def _resolve_checkpoint(path: Path) -> Path:
    """A checkpoint file, or a run dir (its newest checkpoint)."""
    if path.is_dir():
        from radiovae.train.resume import checkpoints

        found = checkpoints(path)
        if not found:
            raise UserError(f"{path} holds no checkpoints/model-<step>.pt")
        return found[0]
    return path


def evaluate(checkpoint: str | os.PathLike, data: str | os.PathLike | dict | None = None,
             split: str = "test", out: str | os.PathLike | None = None,
             batch_size: int = 16, progress: bool = True) -> dict[str, Any]:
    """Score ``checkpoint`` (a file or a run dir) on ``split``; returns the evaluation.json dict.

    ``data``: a config YAML, a data directory, a ``data`` config dict, or None for the data the
    checkpoint was trained on (its saved config).
    """
    import json

    from radiovae.model import load_autoencoder, load_checkpoint

    path = _resolve_checkpoint(Path(checkpoint))
    ckpt = load_checkpoint(path)
    cfg = ckpt.get("config") if isinstance(ckpt.get("config"), dict) else None
    base = resolve_config(cfg).data if cfg and "data" in cfg else DataConfig()
    if isinstance(data, dict):
        data_cfg = resolve_config({"data": data}).data
    elif data is not None:
        data_cfg = data_config_for(data, base)
    elif cfg and "data" in cfg:
        data_cfg = base
    else:
        raise UserError(f"{path} does not say what data it was trained on (not a radiovae "
                        "checkpoint?); pass --data CONFIG_OR_DIR")
    run_dir = Path(out) if out else (path.parent.parent if path.parent.name == "checkpoints"
                                     else path.parent)
    step = ckpt.get("step")
    has_ema = isinstance(ckpt.get("ema"), dict) and any(
        str(k).startswith("ema_model.") for k in ckpt["ema"])
    del ckpt

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = load_autoencoder(path, ema=True).to(device).eval()
    dataset = build_dataset(data_cfg, split, progress=progress)
    if len(dataset) == 0:
        raise UserError(f"the {split} split of {data_cfg.name} data is empty")
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False,
                                         num_workers=data_cfg.num_workers)

    scores: dict[str, list[torch.Tensor]] = {}
    n_lat, lat_sum, lat_sq = 0, None, None
    shown_in, shown_out = [], []
    with make_progress(disable=not progress) as bar, torch.no_grad():
        task = bar.add_task(f"evaluating ({split})", total=len(dataset))
        for batch in loader:
            x = fit_size(batch["image"], data_cfg.size).to(device)
            posterior = model.encode(x)
            z = posterior.mode()
            recon = model.decode(z).clamp(-1, 1)
            target, pred = (x + 1) / 2, (recon + 1) / 2
            for k, v in image_metrics(pred, target).items():
                scores.setdefault(k, []).append(v.cpu())
            z = z.double()
            zs, zq = z.sum((0, 2, 3)), z.pow(2).sum((0, 2, 3))
            lat_sum = zs if lat_sum is None else lat_sum + zs
            lat_sq = zq if lat_sq is None else lat_sq + zq
            n_lat += z.shape[0] * z.shape[2] * z.shape[3]
            latent_shape = list(z.shape[1:])
            if sum(len(s) for s in shown_in) < GRID_MAPS:
                shown_in.append(target[:, 0].cpu())
                shown_out.append(pred[:, 0].cpu())
            bar.advance(task, x.shape[0])

    per_image = {k: torch.cat(v) for k, v in scores.items()}
    mean = lat_sum / n_lat
    std = (lat_sq / n_lat - mean.pow(2)).clamp_min(0).sqrt()
    all_mean = lat_sum.sum() / (n_lat * len(mean))
    all_std = math.sqrt(max(float(lat_sq.sum() / (n_lat * len(mean)) - all_mean**2), 0.0))
    grid = save_grid(run_dir / "eval" / f"{split}-grid.png",
                     torch.cat(shown_in)[:GRID_MAPS].numpy(), torch.cat(shown_out)[:GRID_MAPS].numpy())
    result = {
        **{k: float(v.mean()) for k, v in per_image.items()},   # nmse, rmse, ssim, psnr
        "scale_factor": 1.0 / all_std if all_std > 0 else math.inf,
        "latent": {"shape": latent_shape, "mean": float(all_mean), "std": all_std,
                   "channel_mean": mean.tolist(), "channel_std": std.tolist()},
        "split": split, "n_images": int(len(per_image["psnr"])),
        "checkpoint": str(path), "step": step, "ema": has_ema,
        "data": {k: getattr(data_cfg, k) for k in ("name", "root", "size", "simulation")},
        "grid": str(grid.relative_to(run_dir)),
        "metrics_std": {k: float(v.std()) if len(v) > 1 else 0.0 for k, v in per_image.items()},
    }
    atomic_write_text(run_dir / "evaluation.json", json.dumps(result, indent=2) + "\n")
    return result
