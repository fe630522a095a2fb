"""Calibrate the generator's parameter ranges against Sionna RT traces of our own cities.

    python scripts/calibrate_generator.py trace --out calib/ [--cities 12] [--tx 2] [--size 64]
                                                [--samples 1500] [--regime street|above_roof]
    python scripts/calibrate_generator.py fit calib/ [--write src/radiovae/data/calibrated.json]
    python scripts/calibrate_generator.py convergence calib/ [--samples 1500] [--maps 4]

``trace`` generates cities (seed family CALIBRATION_SEED, never the realism benchmark's), builds a
Sionna RT scene of each (footprints extruded, radiovae.data.citytrace), places transmitters as the
generator does in both regimes (or --regime) and ray-traces them (CPU: at 64 x 64, ~5 s per map
with 300 rays per cell, ~18 s with 1,500, measured on the 2-core machine while it was busy).
Maps go to OUT/traces.npz with their rays per cell, written atomically, resumable per map.

``fit`` fits, per traced map, the propagation parameters that minimise the squared error of the
generator's gain against the traced one in RadioMapSeer's gray scale (clipped at the floor, as a
VAE sees it): first the distance law on the line-of-sight pixels, then the corner, reflection and
over-roof parameters on the other outdoor pixels (a grid over the corner losses, then
Nelder-Mead; in the street regime on the linear mean power of 4 x 4 blocks, which a tracer's
unbiased estimate keeps while its shadow is a mosaic of unlit and bright cells). It writes each parameter's range as the 10th-90th percentile of the per-map fits,
with the residuals (RMSE in dB over outdoor pixels, at the prior ranges' midpoints and fitted)
for the record (a regime with no traces in the folder keeps its shipped ranges). For scale: two
traces of one map with different ray seeds differ by 5-8 dB RMSE at 300 rays per cell, and the
300-ray trace leaves at the floor a fifth of the pixels that 1,500 rays light: fit on 1,500.

Then, street regime only, the ray sampling (radiovae.data.propagation.ray_estimate): with the
map's fitted parameters, a grid over ray_level_db, ray_beta and ray_spread_db picks the values
whose map matches the trace's shadow texture (radiovae.data.realism.shadow_texture: the share of
shadowed outdoor pixels at the floor, the speckle of the lit ones) and the median level of its
lit shadow pixels. Pixel error cannot fit these: a random speckle never lines up with the
tracer's, so it is judged by statistics, one seed per grid point (common random numbers).

``convergence`` retraces a few stored maps at another ray count and prints, for both traces, the
lit share and the linear mean gain, and the PSNR between them (the README's figures).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

from radiovae.data.city import CITY_M
from radiovae.data.citytrace import ABOVE_ROOF_M, SAMPLES_PER_CELL, load_traces, traced_set
from radiovae.data.grayscale import GAIN_CEILING_DB, GAIN_FLOOR_DB
from radiovae.data.propagation import REGIMES, Params, Scene, calibrated

CALIBRATION_SEED = 7001  # the realism benchmark's held-out cities use another family
# parameters fitted per regime, in two stages: the line-of-sight pixels fix the distance law,
# then the others fix the mechanisms that reach them (the rest keep their prior range)
FIT = {
    "street": (("n1", "n2", "offset_db"), ("corner_db", "corner_deg", "r_db")),
    "above_roof": (("n1", "n2", "offset_db"), ("knife_scale", "corner_db", "corner_deg", "r_db")),
}
BOUNDS = {"n1": (1.5, 3.0), "n2": (1.5, 5.0), "breakpoint_m": (40, 300),
          "corner_db": (0, 40), "corner_deg": (5, 300), "r_db": (0, 20), "offset_db": (-20, 20),
          "knife_scale": (0.3, 2.0)}
# the initial simplex: a plausible change of each
# the ray sampling's grid (street regime): the gain at which a cell expects one ray, the slope
# of rays per cell in power, one ray's log-normal spread
RAY_GRID = {"ray_level_db": np.arange(-140.0, -89.0, 2.5),
            "ray_beta": (0.5, 0.75, 1.0, 1.5, 2.0, 2.5),
            "ray_spread_db": (0.0, 4.0, 8.0, 10.0, 12.0, 15.0)}
RAY_FIT = {"street"}
BLOCK = 4   # street, second stage: error of BLOCK x BLOCK linear means (see block_error)
STEP = {"n1": 0.3, "n2": 0.8, "breakpoint_m": 40, "corner_db": 8.0, "corner_deg": 30.0,
        "r_db": 4.0, "offset_db": 6.0, "knife_scale": 0.3}


def gray_db(gain_db: np.ndarray) -> np.ndarray:
    """dB clipped to RadioMapSeer's range (what the gray PNG keeps)."""
    return np.clip(np.nan_to_num(gain_db, neginf=GAIN_FLOOR_DB), GAIN_FLOOR_DB, GAIN_CEILING_DB)


def geometry(m: dict) -> tuple[Scene, np.ndarray, np.ndarray]:
    """A traced map's scene, its outdoor pixels (the transmitter's own left out) and those of
    them in line of sight."""
    from radiovae.data import kernels

    scene = Scene(m["heights"], CITY_M / m["heights"].shape[0])
    free = ~scene.blocked
    free[m["ty"], m["tx"]] = False
    return scene, free, kernels.line_of_sight(scene.blocked, m["ty"], m["tx"]) & free


def map_error(m: dict, p: Params, scene: Scene, pixels: np.ndarray) -> float:
    """RMSE (dB) of the generator against the trace over ``pixels`` (outdoor, a bool mask)."""
    gen = scene.gain_db(m["ty"], m["tx"], p, m["regime"])
    diff = gray_db(gen)[pixels] - gray_db(m["traced_db"])[pixels]
    return float(np.sqrt(np.mean(diff ** 2))) if diff.size else 0.0


def block_error(m: dict, p: Params, scene: Scene, pixels: np.ndarray) -> float:
    """RMSE (dB, clipped at the floor) of the generator against the trace over BLOCK x BLOCK
    blocks of ``pixels``, each block's linear mean power. A tracer's shadow is a mosaic of unlit
    cells and cells brighter than their mean, whose linear mean is the power (its estimate is
    unbiased); a pixel error in dB pulls a smooth map down between the two, the block means much
    less (not to zero: a block with no lit cell reads the floor). The ray sampling (fitted next)
    then draws the mosaic about these means."""
    gen = scene.gain_db(m["ty"], m["tx"], p, m["regime"])
    n = gen.shape[0] // BLOCK
    cut = (slice(0, n * BLOCK), slice(0, n * BLOCK))
    px = pixels[cut]
    count = px.reshape(n, BLOCK, n, BLOCK).sum((1, 3))

    def means(db: np.ndarray) -> np.ndarray:
        lin = np.where(px & np.isfinite(db[cut]), 10 ** (np.nan_to_num(db[cut], neginf=-400) / 10),
                       0.0)
        mean = lin.reshape(n, BLOCK, n, BLOCK).sum((1, 3)) / np.maximum(count, 1)
        return gray_db(10 * np.log10(np.maximum(mean, 1e-40)))

    diff = (means(gen) - means(m["traced_db"]))[count > 0]
    return float(np.sqrt(np.mean(diff ** 2))) if diff.size else 0.0


def fit_map(m: dict, stages: tuple[tuple[str, ...], ...],
            start: Params) -> tuple[Params, float, float]:
    """Nelder-Mead per stage (line-of-sight pixels, then the others); (fit, RMSE before, after)
    over all outdoor pixels."""
    from scipy.optimize import minimize


    scene, free, los = geometry(m)
    current = {f.name: getattr(start, f.name) for f in fields(Params)}
    current["shadowing_db"] = 0.0
    current["tx_above_roof_m"] = ABOVE_ROOF_M
    before = map_error(m, Params(**current), scene, free)
    for k, (names, pixels) in enumerate(zip(stages, (los, free & ~los), strict=True)):
        error = block_error if k and m["regime"] in RAY_FIT else map_error
        lo = np.array([BOUNDS[n][0] for n in names])
        hi = np.array([BOUNDS[n][1] for n in names])

        def params(x, names=names, lo=lo, hi=hi):
            return Params(**{**current, **dict(zip(names, np.clip(x, lo, hi).tolist(),
                                                   strict=True))})

        x0 = np.array([current[n] for n in names], float)
        if "corner_db" in names:  # the corner loss's error surface has local minima: a grid first
            i, j = names.index("corner_db"), names.index("corner_deg")
            grid = []
            for db in (0.0, 6.0, 12.0, 20.0, 30.0):
                for deg in (10.0, 30.0, 90.0, 250.0):
                    x = x0.copy()
                    x[i], x[j] = db, deg
                    grid.append((error(m, params(x), scene, pixels), db, deg))
            _, x0[i], x0[j] = min(grid)
        simplex = np.vstack([x0, x0 + np.diag([STEP[n] for n in names])])
        res = minimize(lambda x, params=params, pixels=pixels, error=error: error(
                           m, params(x), scene, pixels),
                       x0, method="Nelder-Mead",
                       options={"maxfev": 200, "xatol": 0.05, "fatol": 0.01,
                                "initial_simplex": simplex})
        current.update({n: float(v) for n, v in zip(names, np.clip(res.x, lo, hi), strict=True)})
    p = Params(**current)
    return p, before, map_error(m, p, scene, free)


def texture(db: np.ndarray, free: np.ndarray, los: np.ndarray) -> np.ndarray:
    """(unlit share, speckle dB, median dB of the lit) of the shadowed outdoor pixels, on the
    clipped dB a gray map keeps."""
    from radiovae.data.realism import shadow_texture

    g = gray_db(db)
    lit = (g > GAIN_FLOOR_DB) & free
    shadow = free & ~los
    unlit, speckle = shadow_texture(g, lit, shadow)
    level = float(np.median(g[lit & shadow])) if (lit & shadow).any() else GAIN_FLOOR_DB
    return np.array([unlit, speckle, level])


TEXTURE_SCALE = np.array([0.05, 1.0, 3.0])  # what counts as one unit of miss in each statistic


def fit_rays(m: dict, p: Params) -> tuple[Params, np.ndarray, np.ndarray]:
    """The grid point of the ray sampling whose map's shadow texture is nearest the trace's;
    (params, the trace's texture, the fitted map's)."""
    from itertools import product


    scene, free, los = geometry(m)
    target = texture(m["traced_db"], free, los)
    comp = scene.components(m["ty"], m["tx"], p, m["regime"])
    best = None
    for values in product(*RAY_GRID.values()):
        q = replace(p, **dict(zip(RAY_GRID, map(float, values), strict=True)))
        got = texture(scene._combine(comp, m["ty"], m["tx"], q, np.random.default_rng(0)),
                      free, los)
        miss = float(np.nansum(((got - target) / TEXTURE_SCALE) ** 2))
        if best is None or miss < best[0]:
            best = (miss, q, got)
    return best[1], target, best[2]


def shadow_block_errors(m: dict, before: Params, after: Params) -> tuple[float, float]:
    """block_error over the shadowed outdoor pixels, at two parameter sets."""

    scene, free, los = geometry(m)
    shadow = free & ~los
    smooth = {"shadowing_db": 0.0, "tx_above_roof_m": ABOVE_ROOF_M}
    return (block_error(m, replace(before, **smooth), scene, shadow),
            block_error(m, replace(after, **smooth), scene, shadow))


def fit(folder: Path, write: Path | None, regimes: tuple[str, ...] = REGIMES) -> dict:
    maps = [m for m in load_traces(folder) if m["regime"] in regimes]
    prior = calibrated()["regimes"]
    # a regime without traces in the folder keeps its shipped ranges
    rays = ", ".join(f"{r}: {sum(m['regime'] == r for m in maps)} at "
                     + "/".join(str(s or "?") for s in sorted({m["samples"] for m in maps
                                                              if m["regime"] == r}))
                     for r in REGIMES if any(m["regime"] == r for m in maps))
    kept = [r for r in REGIMES if not any(m["regime"] == r for m in maps)]
    result = {"source": f"scripts/calibrate_generator.py fit on {len(maps)} Sionna RT traces of "
                        f"generated cities (seed family {CALIBRATION_SEED}; maps at rays per "
                        f"cell: {rays})" + (f"; {', '.join(kept)} as shipped before ("
                                            + calibrated()["source"] + ")" if kept else ""),
              "regimes": dict(prior)}
    for regime in REGIMES:
        ms = [m for m in maps if m["regime"] == regime]
        if not ms:
            continue
        ranges = prior[regime]["ranges"]
        names = {f.name for f in fields(Params)}
        mid = Params(**{k: (lo + hi) / 2 for k, (lo, hi) in ranges.items() if k in names})
        fits, before, after = [], [], []
        targets, gots, blocks = [], [], []
        for i, m in enumerate(ms):
            p, b, a = fit_map(m, FIT[regime], mid)
            extra = ""
            if regime in RAY_FIT:
                blocks.append(shadow_block_errors(m, mid, p))
                p, target, got = fit_rays(m, p)
                targets.append(target)
                gots.append(got)
                extra = (f"  shadow unlit {target[0]:.0%}/{got[0]:.0%} speckle {target[1]:.1f}/"
                         f"{got[1]:.1f} dB level {target[2]:.0f}/{got[2]:.0f} dB (trace/fit) "
                         + " ".join(f"{n}={getattr(p, n):.2f}" for n in RAY_GRID))
            fits.append(p)
            before.append(b)
            after.append(a)
            print(f"{regime} map {i + 1}/{len(ms)}: RMSE {b:.2f} -> {a:.2f} dB  "
                  + " ".join(f"{n}={getattr(p, n):.2f}" for st in FIT[regime] for n in st)
                  + extra, flush=True)
        new = {k: v for k, v in ranges.items() if k in names}
        fitted = [n for st in FIT[regime] for n in st] + (list(RAY_GRID) if regime in RAY_FIT
                                                          else [])
        for n in fitted:
            vals = np.array([getattr(p, n) for p in fits])
            new[n] = [round(float(np.percentile(vals, 10)), 3),
                      round(float(np.percentile(vals, 90)), 3)]
        new["tx_above_roof_m"] = [ABOVE_ROOF_M, ABOVE_ROOF_M]
        result["regimes"][regime] = {
            "ranges": new, "maps": len(ms),
            "rmse_db_prior_mid": round(float(np.mean(before)), 3),
            "rmse_db_fitted": round(float(np.mean(after)), 3),
        }
        if blocks:    # what the second stage minimised: the shadow's block means
            result["regimes"][regime]["block_rmse_db_shadow_prior_mid"] = round(
                float(np.mean([b[0] for b in blocks])), 3)
            result["regimes"][regime]["block_rmse_db_shadow_fitted"] = round(
                float(np.mean([b[1] for b in blocks])), 3)
        if targets:   # the shadow texture (median over the maps): traces, and fitted maps
            result["regimes"][regime]["shadow_texture"] = {
                "statistics": ["unlit share", "speckle dB", "lit median dB"],
                "traced": [round(float(v), 3) for v in np.nanmedian(targets, axis=0)],
                "fitted": [round(float(v), 3) for v in np.nanmedian(gots, axis=0)]}
        print(f"{regime}: {len(ms)} maps, RMSE at the prior ranges' midpoints "
              f"{np.mean(before):.2f} dB, fitted {np.mean(after):.2f} dB", flush=True)
    if write:
        from radiovae.io import atomic_write_text

        atomic_write_text(write, json.dumps(result, indent=1) + "\n")
        print(f"wrote {write}")
    return result


def convergence(folder: Path, samples: int, count: int, regime: str) -> list[dict]:
    """Retrace the first ``count`` maps of ``regime`` in FOLDER/traces.npz at ``samples`` rays per
    cell with another ray seed, and print per map, for the stored and the new trace: the share of
    outdoor pixels above the floor, the linear mean gain (unbiased, so equal up to noise), and the
    PSNR between the two in RadioMapSeer's gray scale (outdoor pixels): how far from converged
    the stored traces are."""
    from radiovae.data.citytrace import trace_city as trace
    from radiovae.data.citytrace import tx_height
    from radiovae.data.grayscale import db_to_gray

    rows = []
    for m in [m for m in load_traces(folder) if m["regime"] == regime][:count]:
        cell = CITY_M / m["heights"].shape[0]
        z = tx_height(m["heights"], m["ty"], m["tx"], cell, regime, ABOVE_ROOF_M)
        new = 10 * np.log10(np.maximum(trace(m["heights"], cell, [(m["ty"], m["tx"], z)],
                                             samples_per_cell=samples, seed=1234)[0], 1e-30))
        free = m["heights"] == 0
        row = {"samples": (m["samples"], samples)}
        for key, db in (("stored", m["traced_db"][free]), ("new", new[free])):
            row[key] = (float((db >= GAIN_FLOOR_DB).mean()),
                        float(10 * np.log10(np.mean(10 ** (db / 10)))))
        err = db_to_gray(m["traced_db"])[free].astype(float) - db_to_gray(new)[free]
        row["psnr"] = float(10 * np.log10(255 ** 2 / max(np.mean(err ** 2), 1e-12)))
        rows.append(row)
        print(f"{regime} city {m['city']} tx ({m['ty']}, {m['tx']}): rays per cell "
              f"{m['samples'] or '?'} -> {samples}: lit {row['stored'][0]:.0%} -> "
              f"{row['new'][0]:.0%}, linear mean {row['stored'][1]:.1f} -> {row['new'][1]:.1f} dB, "
              f"PSNR between them {row['psnr']:.1f} dB", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("trace")
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--cities", type=int, default=12)
    t.add_argument("--tx", type=int, default=2)
    t.add_argument("--size", type=int, default=64)
    t.add_argument("--samples", type=int, default=SAMPLES_PER_CELL, help="rays per cell")
    t.add_argument("--seed", type=int, default=CALIBRATION_SEED)
    t.add_argument("--regime", choices=REGIMES, help="trace only this regime (default: both)")
    f = sub.add_parser("fit")
    f.add_argument("folder", type=Path)
    f.add_argument("--write", type=Path)
    f.add_argument("--regime", choices=REGIMES, help="fit only this regime (the other keeps its "
                   "shipped ranges)")
    c = sub.add_parser("convergence", help="retrace a few maps at another ray count")
    c.add_argument("folder", type=Path)
    c.add_argument("--samples", type=int, default=SAMPLES_PER_CELL)
    c.add_argument("--maps", type=int, default=4)
    c.add_argument("--regime", choices=REGIMES, default="street")
    args = ap.parse_args(argv)
    if args.cmd != "trace" and not (args.folder / "traces.npz").is_file():
        print(f"no traces.npz in {args.folder}: run the trace step first", file=sys.stderr)
        return 2
    if args.cmd == "convergence":
        convergence(args.folder, args.samples, args.maps, args.regime)
        return 0
    if args.cmd == "trace":
        args.out.mkdir(parents=True, exist_ok=True)
        traced_set(args.seed, args.cities, args.tx, args.size, args.out, args.samples,
                   progress=True, regimes=(args.regime,) if args.regime else None)
    else:
        fit(args.folder, args.write, (args.regime,) if args.regime else REGIMES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
