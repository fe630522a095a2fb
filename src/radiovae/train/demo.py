"""``radiovae demo``: the whole job on a fresh CPU machine, no download, under ten minutes on 2 cores.

    1. generate city radio maps with the built-in generator (radiovae.data.generator, the
       physics-based street-level maps, RadioMapSeer's regime; in memory, a few seconds; a few are
       also written to DIR/maps in RadioMapSeer's layout, so you see what the data looks like)
    2. train a small first-stage VAE through both phases (VAE, then VAE-GAN for the last quarter)
    3. evaluate it on held-out maps (NMSE / RMSE / SSIM / PSNR, latent scale factor)
    4. write the report (figures, sample grids, metrics, findings, verdict)

``RADIOVAE_DEMO_STEPS=N`` / ``RADIOVAE_DEMO_MAPS=M`` (or ``run_demo(out, steps=N, num_maps=M)``)
shorten the run, e.g. for the tests (the phase switch is then in the middle). Re-running on the
same DIR resumes the training. The machine's 1-thread fp32 GEMM speed is printed first, so timings
from different machines can be compared.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from radiovae.errors import UserError
from radiovae.train.config import TrainConfig, load_config

DEMO_CONFIG = "demo"
SAMPLE_MAPS, SAMPLE_TX = 4, 2


def demo_config(steps: int | None = None, num_maps: int | None = None) -> TrainConfig:
    """The shipped demo config, optionally shortened to ``steps`` (GAN from step (steps + 1) // 2)."""
    cfg = load_config(DEMO_CONFIG)
    if steps is not None:
        tr = cfg.trainer
        tr.train_num_steps = steps
        tr.save_and_sample_every = max(1, steps // 2)
        tr.log_freq = max(1, min(tr.log_freq, steps // 10))
        cfg.model.lossconfig.disc_start = (steps + 1) // 2
    if num_maps is not None:
        cfg.data.num_maps = num_maps
        cfg.data.eval_num_maps = max(1, min(cfg.data.eval_num_maps, num_maps))
    return cfg


def gemm_gflops(seconds: float = 0.5, n: int = 1024) -> float:
    """This machine's 1-thread fp32 matmul speed (GFLOP/s): the figure demo timings scale with
    (the README's were taken where it is about 50)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a, b = torch.randn(n, n), torch.randn(n, n)
        a @ b
        count, t = 0, time.perf_counter()
        while time.perf_counter() - t < seconds:
            a @ b
            count += 1
        return count * 2 * n ** 3 / (time.perf_counter() - t) / 1e9
    finally:
        torch.set_num_threads(threads)


def run_demo(out: str | os.PathLike = "radiovae-demo", steps: int | None = None,
             num_maps: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Run the demo into ``out``; returns {"evaluation", "summary", "paths", "seconds"}."""
    from radiovae.data import synthesize
    from radiovae.report import make_report
    from radiovae.train.evaluate import evaluate
    from radiovae.train.trainer import train

    if steps is None and os.environ.get("RADIOVAE_DEMO_STEPS"):
        try:
            steps = int(os.environ["RADIOVAE_DEMO_STEPS"])
        except ValueError:
            raise UserError("RADIOVAE_DEMO_STEPS must be an integer") from None
        if steps < 2:
            raise UserError("RADIOVAE_DEMO_STEPS must be at least 2 (one step per phase)")
    if num_maps is None and os.environ.get("RADIOVAE_DEMO_MAPS", "").isdigit():
        num_maps = int(os.environ["RADIOVAE_DEMO_MAPS"]) or None
    out = Path(out)
    run_dir, report_dir, maps_dir = out / "run", out / "report", out / "maps"
    cfg = demo_config(steps, num_maps)
    data = cfg.data
    t0 = time.time()

    def say(msg: str) -> None:
        if progress:
            print(msg, flush=True)

    import torch

    say(f"this machine: 1-thread fp32 GEMM {gemm_gflops():.1f} GFLOP/s, "
        f"{torch.get_num_threads()} torch threads")
    times: dict[str, float] = {}

    n_train = data.num_maps * data.tx_per_map
    say(f"radiovae demo -> {out}\n[1/4] radio maps: {data.num_maps} synthetic cities x "
        f"{data.tx_per_map} transmitters ({n_train} maps of {data.size}x{data.size}) "
        f"for training, {data.eval_num_maps * data.tx_per_map} held out; "
        f"{SAMPLE_MAPS * SAMPLE_TX} examples written to {maps_dir}")
    # the examples are maps of the regime the demo trains on
    synthesize(maps_dir, SAMPLE_MAPS, SAMPLE_TX, size=data.size, seed=data.seed,
               workers=1, progress=False, regime=data.regime)

    say(f"[2/4] training {cfg.trainer.train_num_steps} steps: VAE until step "
        f"{cfg.model.lossconfig.disc_start - 1}, then VAE-GAN (records in {run_dir})")
    t = time.time()
    train(cfg, run_dir, progress=progress)
    times["train"] = time.time() - t

    say("[3/4] evaluating the EMA weights on held-out maps")
    t = time.time()
    evaluation = evaluate(run_dir, split="test", progress=progress)
    times["evaluate"] = time.time() - t

    say(f"[4/4] writing the report into {report_dir}")
    t = time.time()
    summary = make_report(run_dir, report_dir, progress=progress)
    times["report"] = time.time() - t
    seconds = time.time() - t0
    paths = {"run": run_dir, "report": report_dir / "report.html",
             "markdown": report_dir / "report.md", "maps": maps_dir,
             "samples": run_dir / "samples", "evaluation": run_dir / "evaluation.json"}
    say(f"\ndone in {seconds / 60:.1f} min. Held-out maps ({evaluation['n_images']}): "
        f"PSNR {evaluation['psnr']:.2f} dB, SSIM {evaluation['ssim']:.4f}, "
        f"NMSE {evaluation['nmse']:.5f}, RMSE {evaluation['rmse']:.5f}; latent scale_factor "
        f"{evaluation['scale_factor']:.4g}. Verdict: {summary.verdict} "
        f"({summary.verdict_reason})\n"
        f"time: training {times['train'] / 60:.1f} min (maps generated in it), evaluation "
        f"{times['evaluate']:.0f} s, report {times['report']:.0f} s")
    for name in ("report", "markdown", "samples", "evaluation", "maps", "run"):
        say(f"  {name:<10} {paths[name]}")
    return {"evaluation": evaluation, "summary": summary, "paths": paths, "seconds": seconds,
            "times": times}
