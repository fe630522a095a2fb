"""Realism: a VAE trained only on generated maps, scored on ray-traced maps of cities it never saw.

    python benchmarks/realism.py [--out realism-run] [--cities 8] [--tx 2] [--size 64]
                                 [--steps N] [--regime mixed] [--samples 1500]

1. Held-out cities (seed family HELDOUT_SEED: neither the calibration's nor the training's) are
   ray-traced with Sionna RT in both regimes (radiovae.data.citytrace; resumable, OUT/traces), and
   written with the generator's maps of the same cities and transmitters in RadioMapSeer's layout,
   OUT/heldout-<regime>/ (gain/SionnaRT and gain/SYN): `radiovae data preview` and `radiovae data
   stats` read them.
2. The demo's VAE (configs/demo.yaml; --steps shortens it) is trained on generated maps only
   (regime --regime, default both), in OUT/run.
3. Its EMA weights reconstruct, per regime, the generated and the ray-traced held-out maps; PSNR
   and SSIM of both and the gap are printed (target: gap < 3 dB in both regimes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from radiovae.data.citytrace import SAMPLES_PER_CELL

HELDOUT_SEED = 9001


def write_heldout(traces: list[dict], out: Path, seed: int) -> dict[str, Path]:
    """RadioMapSeer-layout folders per regime: traced (SionnaRT) and generated (SYN) maps."""
    from radiovae.data.generator import gain_to_gray
    from radiovae.data.grayscale import db_to_gray
    from radiovae.data.layout import Layout, write_png
    from radiovae.data.propagation import Scene, draw_params

    folders = {}
    count: dict[tuple[str, int], int] = {}
    for m in traces:
        folder = out / f"heldout-{m['regime']}"
        folders[m["regime"]] = folder
        layout = Layout(folder)
        c, k = m["city"], count.get((m["regime"], m["city"]), 0)
        count[(m["regime"], c)] = k + 1
        n = m["heights"].shape[0]
        scene = Scene(m["heights"], 256.0 / n)
        rng = np.random.default_rng([seed, c, k])
        gen = scene.gain_db(m["ty"], m["tx"], draw_params(rng, m["regime"]), m["regime"], rng)
        traced = db_to_gray(m["traced_db"])
        traced[scene.blocked] = 0
        antenna = np.zeros((n, n), np.uint8)
        antenna[m["ty"], m["tx"]] = 255
        for path, image in ((layout.buildings(c), scene.blocked.astype(np.uint8) * 255),
                            (layout.antenna(c, k), antenna),
                            (layout.gain("SionnaRT", c, k), traced),
                            (layout.gain("SYN", c, k), gain_to_gray(gen, scene.blocked,
                                                                    m["ty"], m["tx"]))):
            path.parent.mkdir(parents=True, exist_ok=True)
            write_png(path, image)
    return folders


def score(model, grays: list[np.ndarray]) -> dict[str, float]:
    """Mean PSNR / SSIM of the model's reconstructions (posterior mode) of gray maps."""
    import torch

    from radiovae.metrics import image_metrics

    x = torch.from_numpy(np.stack(grays).astype(np.float32) / 255.0 * 2 - 1).unsqueeze(1)
    with torch.no_grad():
        recon = model.decode(model.encode(x).mode()).clamp(-1, 1)
    m = image_metrics((recon + 1) / 2, (x + 1) / 2)
    return {"psnr": float(m["psnr"].mean()), "ssim": float(m["ssim"].mean()), "n": len(grays)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("realism-run"))
    ap.add_argument("--cities", type=int, default=8)
    ap.add_argument("--tx", type=int, default=2)
    ap.add_argument("--size", type=int, default=64, help="the demo's map size")
    ap.add_argument("--samples", type=int, default=SAMPLES_PER_CELL,
                    help="ray-tracing rays per cell")
    ap.add_argument("--steps", type=int, help="training steps (default: the demo's)")
    ap.add_argument("--regime", default="mixed", choices=["street", "above_roof", "mixed"],
                    help="what the VAE trains on")
    ap.add_argument("--run", type=Path, help="score this trained run dir (e.g. the demo's "
                    "radiovae-demo/run) instead of training one")
    args = ap.parse_args(argv)

    import torch

    from radiovae.data.citytrace import load_traces, traced_set
    from radiovae.data.layout import Layout, read_png
    from radiovae.model import load_autoencoder
    from radiovae.train.demo import demo_config
    from radiovae.train.resume import checkpoints
    from radiovae.train.trainer import train

    torch.set_num_threads(min(2, torch.get_num_threads()))
    t0 = time.time()
    traces_dir = args.out / "traces"
    traces_dir.mkdir(parents=True, exist_ok=True)
    traced_set(HELDOUT_SEED, args.cities, args.tx, args.size, traces_dir, args.samples,
               progress=True)
    folders = write_heldout(load_traces(traces_dir), args.out, HELDOUT_SEED)
    print(f"held-out cities traced and written ({time.time() - t0:.0f} s): "
          + ", ".join(str(f) for f in folders.values()), flush=True)

    run = args.run or args.out / "run"
    if args.run is None:
        cfg = demo_config(steps=args.steps)
        cfg["data"]["regime"] = args.regime
        cfg["data"]["size"] = args.size
        t1 = time.time()
        train(cfg, run, progress=True)
        print(f"trained {cfg['trainer']['train_num_steps']} steps on generated maps "
              f"({args.regime}) in {(time.time() - t1) / 60:.1f} min", flush=True)
    found = checkpoints(run)
    if not found:
        print(f"{run} holds no checkpoints/model-<step>.pt", file=sys.stderr)
        return 2
    config = run / "config.yaml"
    trained_on = ((yaml.safe_load(config.read_text()) or {}).get("data", {}).get("regime", "street")
                  if config.is_file() else "?")
    model = load_autoencoder(found[0], ema=True).eval()

    results = {}
    for regime, folder in sorted(folders.items()):
        layout = Layout(folder)
        names = sorted(p.name for p in (folder / "gain" / "SionnaRT").glob("*.png"))
        gen = [read_png(layout.root / "gain" / "SYN" / n) for n in names]
        traced = [read_png(layout.root / "gain" / "SionnaRT" / n) for n in names]
        g, t = score(model, gen), score(model, traced)
        results[regime] = {"generated": g, "raytraced": t, "gap_db": g["psnr"] - t["psnr"],
                           "checkpoint": str(found[0]), "trained_on": trained_on}
    print(f"\nVAE trained only on generated maps ({trained_on}, {found[0]}), EMA weights; "
          f"held-out cities "
          f"(seed family {HELDOUT_SEED}), {args.size}x{args.size}:")
    print(f"  {'regime':<11s} {'maps':>5s} {'PSNR gen':>9s} {'PSNR RT':>8s} {'gap dB':>7s} "
          f"{'SSIM gen':>9s} {'SSIM RT':>8s}  target gap < 3 dB")
    for regime, r in results.items():
        g, t = r["generated"], r["raytraced"]
        print(f"  {regime:<11s} {t['n']:5d} {g['psnr']:9.2f} {t['psnr']:8.2f} {r['gap_db']:7.2f} "
              f"{g['ssim']:9.4f} {t['ssim']:8.4f}  {'met' if r['gap_db'] < 3 else 'not met'}")
    (args.out / "realism.json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"total {(time.time() - t0) / 60:.1f} min; compare the sets: radiovae data stats "
          f"{folders.get('street', '')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
