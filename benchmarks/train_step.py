"""Benchmark radiovae's VAE-GAN training step against a RadioDiff-style step on the same modules.

    .venv/bin/python benchmarks/train_step.py            # cpu_small, 64/ch32, 128/ch64, paper
    .venv/bin/python benchmarks/train_step.py --quick    # without the (slow) paper config

The RadioDiff-style baseline does what RadioDiff's train_vae.py + LPIPSWithDiscriminator do per
step (gradient_accumulate_every = 2: generator pass, then discriminator pass): the autoencoder
runs forward twice (once per optimizer), the discriminator and both adaptive-weight gradients are
computed in phase 1 and multiplied by disc_factor = 0, the discriminator optimizer steps on zero
gradients, and gradients are clipped after the optimizers stepped. Both steps use the same
modules, fp32, ``torch.set_num_threads(2)``, no perceptual term.

Figures: seconds per step (the fastest of the timed steps, as timeit does: background load only
ever adds time; ours and the baseline interleaved in one process so load hits both alike), the
process CPU time per step (steadier than wall time on a shared machine), speed-ups, peak memory
(the growth of a fresh subprocess's VmHWM over its post-setup RSS: what the training steps add),
FLOPs per step (torch.utils.flop_counter) and the achieved FLOP/s against a large fp32 matmul
measured in the same run. The ours step uses :func:`radiovae.train.step.build_optimizers` (fused
AdamW); the baseline RadioDiff's plain AdamW over the autoencoder only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from radiovae.model import AutoencoderKL, VAEGANLoss
from radiovae.train.step import VAEGANStep, build_optimizers

THREADS = 2
CONFIGS = {  # name: (resolution, ch, num_res_blocks, disc ndf, batch, timed steps)
    "cpu_small": (64, 32, 1, 32, 8, 4),  # configs/cpu_small.yaml (the demo's scale)
    "64/ch32": (64, 32, 2, 64, 2, 5),
    "128/ch64": (128, 64, 2, 64, 2, 3),
    "paper": (256, 128, 2, 64, 1, 2),    # RadioDiff's 256x256, ch 128, ch_mult [1,2,4]: slow on CPU
}
TARGETS = {("128/ch64", 1): 1.4, ("128/ch64", 2): 1.25, ("64/ch32", 1): 1.8}


def build(name: str, disc_start: int):
    res, ch, nrb, ndf = CONFIGS[name][:4]
    torch.manual_seed(0)
    ddconfig = {"resolution": res, "ch": ch, "ch_mult": [1, 2, 4], "num_res_blocks": nrb,
                "z_channels": 3, "in_channels": 1, "out_ch": 1, "attn_resolutions": []}
    ae = AutoencoderKL(ddconfig, embed_dim=3)
    loss = VAEGANLoss(disc_start=disc_start, kl_weight=1e-6, disc_weight=0.5, disc_ndf=ndf)
    return ae, loss


class RadioDiffStep:
    """RadioDiff's train_vae.py loop body with its loss (optimizer_idx 0, then 1), our modules."""

    def __init__(self, ae: AutoencoderKL, loss: VAEGANLoss):
        self.ae, self.loss = ae, loss
        self.opt_ae = torch.optim.AdamW(ae.parameters(), lr=5e-6)  # no logvar, as RadioDiff
        self.opt_disc = torch.optim.AdamW(loss.discriminator.parameters(), lr=5e-6)
        self.accumulate = 2

    def __call__(self, img: torch.Tensor, step: int) -> None:
        loss, disc = self.loss, self.loss.discriminator
        for ga_ind in range(self.accumulate):
            rec, post = self.ae(img)  # training_step: a fresh forward for each optimizer
            disc_factor = loss.disc_factor_at(step)
            if ga_ind == 0:
                nll, kl, _ = loss.nll_kl(img, rec, post)
                g_loss = -disc(rec).mean()  # computed whatever disc_factor is
                d_weight = loss.adaptive_weight(nll, g_loss, self.ae.get_last_layer())
                total = (nll + loss.kl_weight * kl + d_weight * disc_factor * g_loss)
                total = total / self.accumulate
                total.item()
                self.opt_ae.zero_grad()
                self.opt_disc.zero_grad()
                total.backward()
                self.opt_ae.step()
            else:
                logits_real, logits_fake = disc(img.detach()), disc(rec.detach())
                d_loss = disc_factor * 0.5 * (F.relu(1.0 - logits_real).mean()
                                              + F.relu(1.0 + logits_fake).mean())
                d_loss = d_loss / self.accumulate
                d_loss.item()
                self.opt_disc.zero_grad()
                d_loss.backward()
                self.opt_disc.step()
        params = [*self.ae.parameters(), *loss.parameters()]
        torch.nn.utils.clip_grad_norm_(params, 1.0)  # after the steps: it changes nothing


def make_step(name: str, phase: int, kind: str):
    """A callable x -> None doing one training step of ``kind`` ("ours" / "radiodiff")."""
    disc_start, step = (10**9, 0) if phase == 1 else (0, 0)
    ae, loss = build(name, disc_start)
    if kind == "ours":
        ours = VAEGANStep(ae, loss, *build_optimizers(ae, loss, lr=5e-6))
        return lambda x: ours([x], step)
    theirs = RadioDiffStep(ae, loss)
    return lambda x: theirs(x, step)


def batch(res: int, n: int) -> torch.Tensor:
    return torch.rand(n, 1, res, res, generator=torch.Generator().manual_seed(0)) * 2 - 1


def _status_mib(field: str) -> float:
    """VmRSS / VmHWM from /proc/self/status. (ru_maxrss is no use in a subprocess: Linux carries
    the parent's high-water mark across fork + exec.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status")


def peak_rss_mib() -> float:
    return _status_mib("VmHWM")


def rss_mib() -> float:
    return _status_mib("VmRSS")


def worker(name: str, mode: str, phase: int, steps: int, threads: int) -> None:
    """Subprocess: peak memory of ``steps`` steps of one kind (max RSS only ever grows)."""
    torch.set_num_threads(threads)
    fn = make_step(name, phase, mode)
    x = batch(CONFIGS[name][0], CONFIGS[name][4])
    base = rss_mib()
    for _ in range(steps):
        fn(x)
    print(json.dumps({"peak_mib": peak_rss_mib() - base}))


def peak_memory(name: str, mode: str, phase: int, steps: int = 1) -> float:
    out = subprocess.run([sys.executable, __file__, "--worker", name, mode, str(phase),
                          str(steps), str(torch.get_num_threads())],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"]


def matmul_flops(n: int = 2048, repeats: int = 8) -> tuple[float, float]:
    """FLOP/s of an n x n fp32 matmul: (per wall second, per CPU second), fastest of ``repeats``."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    walls, cpus = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        a @ b
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return 2 * n**3 / min(walls), 2 * n**3 / min(cpus)


def count_flops(fn, x) -> float:
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        fn(x)
    return counter.get_total_flops()


def bench(name: str, phase: int, with_memory: bool) -> dict:
    res, ch, _, _, n, timed = CONFIGS[name]
    ours, theirs = make_step(name, phase, "ours"), make_step(name, phase, "radiodiff")
    x = batch(res, n)
    if timed > 2:  # warm-up (allocations, AdamW state, oneDNN kernels); noise at paper scale
        ours(x)
        theirs(x)
    t_ours, t_theirs, c_ours, c_theirs = [], [], [], []
    for _ in range(timed):  # interleaved: background load affects both alike
        for fn, wall, cpu in ((ours, t_ours, c_ours), (theirs, t_theirs, c_theirs)):
            t, c = time.perf_counter(), time.process_time()
            fn(x)
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
    row = {"config": name, "phase": phase, "resolution": res, "ch": ch, "batch": n,
           "ours_s": min(t_ours), "radiodiff_s": min(t_theirs),
           "ours_median_s": statistics.median(t_ours),
           "radiodiff_median_s": statistics.median(t_theirs),
           "ours_cpu_s": min(c_ours), "radiodiff_cpu_s": min(c_theirs),
           "flops_ours": count_flops(ours, x), "flops_radiodiff": count_flops(theirs, x)}
    row["speedup"] = row["radiodiff_s"] / row["ours_s"]
    row["speedup_cpu_time"] = row["radiodiff_cpu_s"] / row["ours_cpu_s"]
    if with_memory:
        row["peak_mib_ours"] = peak_memory(name, "ours", phase)
        row["peak_mib_radiodiff"] = peak_memory(name, "radiodiff", phase)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the paper config")
    ap.add_argument("--configs", nargs="*", default=None, choices=list(CONFIGS))
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    ap.add_argument("--threads", type=int, default=THREADS, help="torch threads (default 2)")
    ap.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        name, mode, phase, steps, threads = args.worker
        worker(name, mode, int(phase), int(steps), int(threads))
        return
    torch.set_num_threads(args.threads)
    names = args.configs or [c for c in CONFIGS if not (args.quick and c == "paper")]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, fp32")
    mm, mm_cpu = matmul_flops()
    print(f"fp32 matmul 2048^3: {mm / 1e9:.1f} GFLOP/s, {mm_cpu / 1e9:.1f} GFLOP per CPU second")
    rows = []
    for name in names:
        for phase in (1, 2):
            row = bench(name, phase, with_memory=not args.no_memory)
            rows.append(row)
            achieved = row["flops_ours"] / row["ours_s"]
            achieved_cpu = row["flops_ours"] / row["ours_cpu_s"]
            row["achieved_vs_matmul"] = achieved / mm
            row["achieved_vs_matmul_cpu_time"] = achieved_cpu / mm_cpu
            target = TARGETS.get((name, phase))
            mem = (f"; peak RSS +{row['peak_mib_ours']:.0f} MiB vs "
                   f"+{row['peak_mib_radiodiff']:.0f} MiB" if "peak_mib_ours" in row else "")
            print(f"{name:9s} phase {phase}: ours {row['ours_s']:.3f} s/step "
                  f"({1 / row['ours_s']:.2f} steps/s), RadioDiff-style {row['radiodiff_s']:.3f} s "
                  f"-> {row['speedup']:.2f}x" + (f" (target >= {target}x)" if target else "")
                  + f"  [medians {row['ours_median_s']:.3f} / {row['radiodiff_median_s']:.3f} s;"
                  f" CPU time {row['ours_cpu_s']:.3f} / {row['radiodiff_cpu_s']:.3f} s"
                  f" -> {row['speedup_cpu_time']:.2f}x]")
            print(f"{'':9s}          FLOPs/step {row['flops_ours'] / 1e9:.1f} G vs "
                  f"{row['flops_radiodiff'] / 1e9:.1f} G; achieved {achieved / 1e9:.1f} GFLOP/s "
                  f"= {achieved / mm:.0%} of matmul (per CPU second: {achieved_cpu / 1e9:.1f} = "
                  f"{achieved_cpu / mm_cpu:.0%}){mem}", flush=True)
    mm_after, mm_cpu_after = matmul_flops()
    print(f"fp32 matmul again at the end: {mm_after / 1e9:.1f} GFLOP/s, {mm_cpu_after / 1e9:.1f} "
          "per CPU second (a large change means background load disturbed the run)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"matmul_flops": [mm, mm_after], "matmul_flops_cpu": [mm_cpu, mm_cpu_after],
                       "threads": torch.get_num_threads(), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
