"""CLI handlers: ``radiovae train``, ``export``, ``eval``, ``demo``."""

from __future__ import annotations

import argparse
import sys


def train(args: argparse.Namespace) -> int:
    """Exit status 0 when done, 3 when non-finite losses stopped the run (checkpoint written),
    2 on bad input or a failed checkpoint write (full disk; the previous checkpoint stays)."""
    from radiovae.errors import UserError
    from radiovae.train.distributed import leave_process_group
    from radiovae.train.resume import SaveFailed, disk_full
    from radiovae.train.trainer import EXIT_DIVERGED, TrainingDiverged, train

    finished = False
    try:
        train(args.config, args.run_dir, max_steps=args.max_steps,
              overrides=getattr(args, "overrides", ()))
        finished = True
    except SaveFailed as exc:   # rank 0 says it; the other ranks stop with the same status
        if exc.quiet:
            return 2
        raise
    except TrainingDiverged as exc:
        sys.stderr.write(f"radiovae: training stopped: {exc}\n")
        return EXIT_DIVERGED
    except OSError as exc:   # a full disk anywhere else (setting up the records, ...)
        if not disk_full(exc):
            raise
        raise UserError(f"no space left on device while writing {exc.filename or args.run_dir}: "
                        "training stopped; the checkpoints already written are intact; free "
                        "space and rerun the same command to resume") from None
    finally:   # under torchrun (cli.main then ends the process: distributed.end_process)
        leave_process_group(finished)
    return 0


def export(args: argparse.Namespace) -> int:
    from radiovae.train.export import export_radiodiff

    path, note = export_radiodiff(args.checkpoint, args.out, perceptual_from=args.perceptual_from)
    print(f"wrote {path}")
    if note:
        sys.stderr.write(f"radiovae: notice: {note}\n")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    from radiovae.train.evaluate import evaluate

    result = evaluate(args.checkpoint, data=args.data, split=args.split, out=args.out)
    print(f"{result['split']} split, {result['n_images']} maps, step {result['step']} "
          f"({'EMA' if result['ema'] else 'online'} weights): NMSE {result['nmse']:.6f}  "
          f"RMSE {result['rmse']:.6f}  SSIM {result['ssim']:.4f}  PSNR {result['psnr']:.2f} dB\n"
          f"latent {result['latent']['shape']}: mean {result['latent']['mean']:.4f}, "
          f"std {result['latent']['std']:.4f} -> scale_factor {result['scale_factor']:.6g}\n"
          f"grid: {result['grid']}; results: evaluation.json")
    return 0


def demo(args: argparse.Namespace) -> int:
    from radiovae.train.demo import run_demo

    run_demo(args.out)
    return 0
