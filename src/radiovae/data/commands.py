"""``radiovae data synth | raytrace | preview | stats``: thin handlers over radiovae.data."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from radiovae.errors import UserError


def synth(args: argparse.Namespace) -> int:
    from radiovae.data.generator import SIMULATION, synthesize
    from radiovae.progress import console

    if args.size < 16:
        raise UserError(f"--size must be at least 16 pixels, got {args.size}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a directory")
    synthesize(out, args.maps, args.tx, size=args.size, seed=args.seed, workers=args.workers,
               regime=getattr(args, "regime", "street"))
    console.print(f"wrote {args.maps} maps x {args.tx} transmitters ({args.size}x{args.size}) "
                  f"to {out} (gain/{SIMULATION}/, png/buildings_complete/, png/antennas/)")
    return 0


def raytrace(args: argparse.Namespace) -> int:
    from radiovae.data.raytrace import raytrace_cli

    return raytrace_cli(args)


def preview(args: argparse.Namespace) -> int:
    from radiovae.data.summary import preview as make_preview
    from radiovae.progress import console

    path = make_preview(args.root, args.out, samples=args.samples)
    console.print(f"wrote {path}")
    return 0


def stats(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from radiovae.data.summary import STATS_SAMPLE_LIMIT, text_histogram, write_histogram_png
    from radiovae.data.summary import stats as compute

    roots = [args.root, *getattr(args, "other", [])]
    for root in roots:  # all checked before any is read
        if not Path(root).expanduser().is_dir():
            raise UserError(f"data folder {root} does not exist or is not a directory")
    results = [r for root in roots for r in _labelled(compute(root), root, len(roots) > 1)]
    out = Console()
    if not out.is_terminal:  # piped / captured: do not squeeze the table into 80 columns
        out = Console(width=140)
    table = Table(title=f"radio maps in {', '.join(map(str, roots))}")
    for col in ("data set", "simulation", "maps", "tx/map", "samples", "size", "buildings",
                "coverage", "mean dB", "median dB"):
        table.add_column(col, justify="left" if col in ("data set", "simulation") else "right")
    for s in results:
        tx = str(s.tx_min) if s.tx_min == s.tx_max else f"{s.tx_min}-{s.tx_max}"
        table.add_row(s.dataset, s.simulation, str(s.maps), tx, str(s.samples),
                      f"{s.size[0]}x{s.size[1]}", f"{s.building_share:.1%}", f"{s.coverage:.1%}",
                      f"{s.mean_db:.1f}", f"{s.median_db:.1f}")
    out.print(table)
    if any(s.sampled < s.samples for s in results):
        out.print(f"statistics from at most {STATS_SAMPLE_LIMIT} radio maps per simulation, "
                  f"evenly spaced; counts are exact")
    out.print("coverage: share of non-building pixels above the floor (gray > 0); mean / median "
              "over non-building pixels, the floor counted as the floor")
    for s in results:
        name = s.simulation if s.dataset == "." else f"{s.dataset}/{s.simulation}"
        out.print(f"gain histogram {name} (non-building pixels):", highlight=False)
        for line in text_histogram(s.histogram):
            out.print(line, highlight=False)
    _print_features(out, roots)
    png = Path(args.root) / "stats.png"
    if os.access(Path(args.root), os.W_OK):
        out.print(f"wrote {write_histogram_png(results, png)}")
    else:
        out.print(f"{args.root} is not writable: no histogram PNG written")
    return 0


def _labelled(results: list, root: str, several: bool) -> list:
    """With several roots, name each data set by its root (a/b, not just '.')."""
    if several:
        for r in results:
            r.dataset = Path(root).name if r.dataset == "." else f"{Path(root).name}/{r.dataset}"
    return results


def _print_features(out, roots: list[str]) -> None:
    """The realism features of every simulation found, side by side (radiovae.data.realism)."""
    from rich.table import Table

    from radiovae.data.realism import histogram_overlap, set_features
    from radiovae.data.summary import find_datasets
    from radiovae.progress import make_progress

    sets = []
    with make_progress(disable=not out.is_terminal) as bar:
        for root in roots:
            for sims in find_datasets(root):
                for sim in sims:
                    label = sim.name if sim.root == Path(root).expanduser() else \
                        f"{sim.root.name}/{sim.name}"
                    if len(roots) > 1:
                        label = f"{Path(root).name}:{label}"
                    task = bar.add_task(f"features {label}", total=None)
                    sets.append(set_features(sim, label, progress=bar, task=task))
    table = Table(title="realism features (median over maps, outdoor pixels)")
    table.add_column("feature")
    for s in sets:
        table.add_column(s.name, justify="right")
    two = len(sets) == 2
    if two:
        table.add_column("difference", justify="right")
    rows = [("maps", "maps", "{:.0f}"), ("LOS share", "los_share", "{:.1%}"),
            ("lit share (above floor)", "lit_share", "{:.1%}"),
            ("shadow-edge drop (dB)", "edge_drop_db", "{:.1f}"),
            ("canyon anisotropy (0-1)", "anisotropy", "{:.3f}"),
            ("mean gain, lit (dB)", "mean_db", "{:.1f}"),
            ("shadow unlit (out of LOS)", "shadow_unlit", "{:.1%}"),
            ("shadow speckle (dB)", "shadow_speckle_db", "{:.1f}")]
    for title, key, fmt in rows:
        vals = [getattr(s, key) for s in sets]
        cells = [fmt.format(v) for v in vals]
        if two:
            cells.append(fmt.format(vals[1] - vals[0]))
        table.add_row(title, *cells)
    out.print(table)
    if two:
        out.print(f"gain histograms overlap {histogram_overlap(*sets):.1%} (shared share of "
                  f"outdoor pixels on ~2 dB bins; 100% = identical)")
