"""The ``radiovae`` command: wires each sub-command to the stage that does the work.

Handlers live beside their stage (``radiovae.<stage>.commands``) and are imported only when their
command runs, so ``radiovae report`` never imports torch. A handler takes the parsed arguments and
returns an exit status. Bad input raises :class:`radiovae.errors.UserError`: one line on stderr,
exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence

from radiovae import __version__
from radiovae.errors import UserError


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return value


def _smoothing(text: str):
    from radiovae.report.series import Smoothing  # only when --smoothing is given

    try:
        return Smoothing.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--smoothing ")) from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="radiovae",
        description="Radio maps, RadioDiff first-stage VAE-GAN training, and training reports.",
    )
    parser.add_argument("--version", action="version", version=f"radiovae {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, handler: str, help: str, parent=sub) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=help, description=help)
        p.set_defaults(handler=handler)
        return p

    # -- report / watch -----------------------------------------------------------------------
    def run_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("paths", nargs="+", metavar="PATH",
                       help="RadioDiff text logs, CSV, JSONL, TensorBoard events, or directories "
                            "(a radiovae run dir too); several files are one run with resumes")
        p.add_argument("--out", default="radiovae-report", metavar="DIR",
                       help="output directory (default: %(default)s)")
        p.add_argument("--total-steps", type=_positive_int, metavar="N",
                       help="planned training steps (default: from the log or its config)")
        p.add_argument("--disc-start", type=_positive_int, metavar="N",
                       help="step where the discriminator starts (default: from the config)")

    p = command("report", "radiovae.report.commands:report",
                "Analyse training records and write report.md / report.html / summary.json / figures.")
    run_args(p)
    p.add_argument("--smoothing", type=_smoothing, default=None, metavar="W",
                   help="smoothed curves: TensorBoard's debiased EMA with weight W in [0, 1) "
                        "(default 0.6, as TensorBoard), or 'median' for a rolling median")

    p = command("watch", "radiovae.report.commands:watch",
                "Follow growing training records; refresh the report and a live terminal panel.")
    run_args(p)
    p.add_argument("--interval", type=_positive_float, default=10.0, metavar="S",
                   help="seconds between refreshes (default: %(default)s)")
    p.add_argument("--max-refreshes", type=_positive_int, metavar="N",
                   help="stop after N refreshes (default: until Ctrl-C or the end of training)")

    p = command("compare", "radiovae.report.compare:compare_command",
                "Compare runs aligned by step: overlaid figures, final / lowest values, findings "
                "and config keys that differ, as report.md / report.html / comparison.json.")
    p.add_argument("runs", nargs="+", metavar="RUN",
                   help="one run each: what `report` takes (a file or a directory), or the files "
                        "of one resumed run joined by commas: train_1.log,train_2.log")
    p.add_argument("--labels", metavar="A,B,...",
                   help="a name per RUN, comma-separated (default: from the paths)")
    p.add_argument("--out", default="radiovae-compare", metavar="DIR",
                   help="output directory (default: %(default)s)")

    # -- data ---------------------------------------------------------------------------------
    data = command("data", "", "Radio maps: generate, ray-trace, preview, summarize.")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=_Parser)

    p = command("synth", "radiovae.data.commands:synth",
                "Generate procedural city radio maps in RadioMapSeer's layout.", data_sub)
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--maps", type=_positive_int, required=True, metavar="M")
    p.add_argument("--tx", type=_positive_int, required=True, metavar="K",
                   help="transmitters per map")
    p.add_argument("--size", type=_positive_int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=_positive_int, default=os.cpu_count() or 1)
    p.add_argument("--regime", default="street", choices=["street", "above_roof", "mixed", "grid"],
                   help="transmitter at street level (RadioMapSeer's), above the roofs, "
                        "half and half, or the first generator's grid-block maps "
                        "(default: %(default)s)")

    p = command("raytrace", "radiovae.data.commands:raytrace",
                "Ray-trace radio maps of a Sionna RT scene (needs radiovae[raytrace]).", data_sub)
    p.add_argument("--scene", required=True,
                   help="Sionna RT scene: munich, etoile, florence, san_francisco, ...")
    p.add_argument("--tx", type=_positive_int, required=True, metavar="K")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--size", type=_positive_int, default=256)
    p.add_argument("--cell", type=_positive_float, default=2.0, help="metres per pixel")
    p.add_argument("--max-depth", type=_positive_int, default=4)
    p.add_argument("--seed", type=int, default=0)

    p = command("preview", "radiovae.data.commands:preview",
                "Grid of buildings / transmitter / gain samples.", data_sub)
    p.add_argument("root", metavar="DIR")
    p.add_argument("--out", metavar="PNG", help="default: DIR/preview.png")
    p.add_argument("--samples", type=_positive_int, default=6)

    p = command("stats", "radiovae.data.commands:stats",
                "Counts, gain histogram, coverage and per-simulation summary; with a second "
                "folder, how close the two sets look (LOS share, shadow edges, canyons).",
                data_sub)
    p.add_argument("root", metavar="DIR")
    p.add_argument("other", metavar="OTHER", nargs="*",
                   help="more folders of maps to compare with DIR")

    # -- train / eval / demo -----------------------------------------------------------------
    p = command("train", "radiovae.train.commands:train",
                "Train the first-stage VAE (resumes from the run dir's latest checkpoint).")
    p.add_argument("--config", required=True, metavar="F")
    p.add_argument("--run-dir", required=True, metavar="D")
    p.add_argument("--max-steps", type=_positive_int, metavar="N",
                   help="stop after step N with a checkpoint")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override one config value (dotted key, YAML value), e.g. "
                        "--set data.root=/data/RadioMapSeer --set trainer.lr=1e-5; repeatable")

    p = command("export", "radiovae.train.commands:export",
                "Write a checkpoint in another trainer's format (RadioDiff's model-N.pt).")
    p.add_argument("checkpoint", metavar="CKPT", help="a radiovae checkpoint (or run dir)")
    p.add_argument("out", metavar="OUT", help="output file (.pt) or directory (gets model-N.pt)")
    p.add_argument("--format", required=True, choices=["radiodiff"])
    p.add_argument("--perceptual-from", metavar="PT",
                   help="a RadioDiff model-N.pt whose LPIPS weights (loss.perceptual_loss.*) to "
                        "include: RadioDiff's strict Trainer.load needs them")

    p = command("eval", "radiovae.train.commands:evaluate",
                "Evaluate a checkpoint: NMSE / RMSE / SSIM / PSNR, grids, latent statistics.")
    p.add_argument("--checkpoint", required=True, metavar="C")
    p.add_argument("--data", metavar="CONFIG_OR_DIR",
                   help="data config (YAML) or data directory (default: the run's own data)")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--out", metavar="DIR", help="default: the checkpoint's run dir")

    p = command("demo", "radiovae.train.commands:demo",
                "Generate maps, train a small VAE through both phases, evaluate, report.")
    p.add_argument("--out", default="radiovae-demo", metavar="DIR")
    return parser


def _resolve(spec: str):
    module, func = spec.split(":")
    return getattr(importlib.import_module(module), func)


class Terminated(SystemExit):
    """SIGTERM, raised where the process is, so that cleanups run (temporary folders removed,
    workers ended) as on Ctrl-C; exit status 128 + 15."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated(128 + signum)


_CLEAN_ON_SIGTERM = ("report", "watch", "compare")   # train keeps the default (torchrun's own)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    previous = None
    if args.command in _CLEAN_ON_SIGTERM and threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _run(args)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    try:
        status = int(_resolve(args.handler)(args) or 0)
    except UserError as exc:
        sys.stderr.write(f"radiovae: error: {exc}\n")
        status = 2
    except KeyboardInterrupt:
        sys.stderr.write("radiovae: interrupted\n")
        status = 130
    except Terminated as exc:
        sys.stderr.write("radiovae: terminated\n")
        status = int(exc.code)
    except Exception as exc:   # a bug: its traceback as usual, but under torchrun still the exit below
        if not _started_process_group():
            raise
        if _peer_left(exc):   # another rank stopped first and says why itself: one line here
            detail = " ".join(str(exc).split())[:160]
            sys.stderr.write(f"radiovae: error: another process of this run stopped, so this one "
                             f"stops too (the first error above says why; here: {detail})\n")
        else:
            traceback.print_exc()
        status = 1
    if _started_process_group():   # `radiovae train` under torchrun / accelerate
        from radiovae.train.distributed import end_process

        return end_process(status)   # os._exit: see end_process for why
    return status


_PEER_LEFT = ("connection closed by peer", "connection reset by peer", "broken pipe",
              "socket closed", "connection refused")


def _peer_left(exc: BaseException) -> bool:
    """A collective failed because another process of the run is gone (gloo / NCCL words)."""
    import torch.distributed as torch_dist

    text = str(exc).lower()
    return (isinstance(exc, getattr(torch_dist, "DistError", ())) or isinstance(exc, RuntimeError)
            ) and any(words in text for words in _PEER_LEFT)


def _started_process_group() -> bool:
    """Whether this process started torch.distributed (only ``radiovae train`` does)."""
    distributed = sys.modules.get("radiovae.train.distributed")
    return distributed is not None and distributed.owns_process_group()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
