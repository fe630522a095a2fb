"""Ray-traced radio maps of our own generated cities (Sionna RT), for calibration and realism.

A generated city's footprints are extruded to their heights and written as a Mitsuba scene
(PLY meshes, ITU concrete walls and roofs, a medium-dry-ground plane): walls follow each
building's outline smoothed to straight segments (Douglas-Peucker on its contour, so oblique
walls reflect like walls, not like staircases), roofs are the footprint's cells. Sionna RT then
traces one transmitter at a time on the CPU (LLVM) with specular reflections and edge
diffraction and records the path gain 1.5 m above the ground on the city's own pixel grid.

Only scenes built here are traced for calibration; Sionna's bundled real-city scenes are kept
for measuring realism (radiovae.data.raytrace), never for fitting.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from radiovae.data.propagation import CARRIER_HZ, RX_HEIGHT_M, TX_STREET_HEIGHT_M

# rays per cell: ~6 M per transmitter at 64 x 64, ~18 s on 2 (busy) cores. At 300 a fifth of the
# pixels that 1,500 light stay at the floor (the estimator is unbiased in linear power, but a
# pixel no ray reaches reads -inf), and two traces with different seeds differ by 21.8 dB PSNR.
SAMPLES_PER_CELL = 1500
ABOVE_ROOF_M = 3.0  # mast height over the roofs (radiovae.data.raytrace's), traced and fitted
MAX_DEPTH = 4
CONTOUR_TOLERANCE = 0.8  # cells: a staircase of one cell becomes a straight wall


def _write_ply(path: Path, vertices: np.ndarray, faces: np.ndarray) -> None:
    head = (f"ply\nformat binary_little_endian 1.0\nelement vertex {len(vertices)}\n"
            "property float x\nproperty float y\nproperty float z\n"
            f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n")
    body = vertices.astype("<f4").tobytes()
    rows = np.empty(len(faces), dtype=[("n", "u1"), ("i", "<i4", 3)])
    rows["n"], rows["i"] = 3, faces
    path.write_bytes(head.encode() + body + rows.tobytes())


def _quad(v: list, f: list, a, b, c, d) -> None:
    base = len(v)
    v.extend([a, b, c, d])
    f.extend([(base, base + 1, base + 2), (base, base + 2, base + 3)])


def city_mesh(heights: np.ndarray, cell_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (x, y, z in metres; x = column, y = row) and triangles of the extruded city."""
    from skimage.measure import approximate_polygon, find_contours

    v: list = []
    f: list = []
    for h in np.unique(heights[heights > 0]):
        mask = heights >= h - 1e-3  # a taller neighbour's footprint is inside this level's outline
        level = heights == h
        labels, count = ndimage.label(mask)
        keep = np.unique(labels[level])
        for lab in keep[keep > 0]:
            comp = np.pad(labels == lab, 1)
            for contour in find_contours(comp.astype(float), 0.5):
                poly = approximate_polygon(contour, CONTOUR_TOLERANCE) - 1.0 + 0.5
                for (r0, c0), (r1, c1) in zip(poly[:-1], poly[1:], strict=True):
                    p0, p1 = (c0 * cell_m, r0 * cell_m), (c1 * cell_m, r1 * cell_m)
                    _quad(v, f, (*p0, 0.0), (*p1, 0.0), (*p1, h), (*p0, h))
        # roofs: runs of cells along each row
        for r in range(level.shape[0]):
            row = np.flatnonzero(np.diff(np.concatenate([[0], level[r].astype(int), [0]])))
            for c0, c1 in zip(row[::2], row[1::2], strict=True):
                x0, x1, y0, y1 = c0 * cell_m, c1 * cell_m, r * cell_m, (r + 1) * cell_m
                _quad(v, f, (x0, y0, h), (x1, y0, h), (x1, y1, h), (x0, y1, h))
    return np.asarray(v, np.float32).reshape(-1, 3), np.asarray(f, np.int32).reshape(-1, 3)


SCENE_XML = """<scene version="2.1.0">
  <bsdf type="itu-radio-material" id="concrete">
    <string name="type" value="concrete"/><float name="thickness" value="0.2"/>
  </bsdf>
  <bsdf type="itu-radio-material" id="ground">
    <string name="type" value="medium_dry_ground"/><float name="thickness" value="1.0"/>
  </bsdf>
  <shape type="ply" id="buildings"><string name="filename" value="city.ply"/>
    <boolean name="face_normals" value="true"/><ref id="concrete" name="bsdf"/></shape>
  <shape type="ply" id="floor"><string name="filename" value="ground.ply"/>
    <boolean name="face_normals" value="true"/><ref id="ground" name="bsdf"/></shape>
</scene>
"""


def write_scene(heights: np.ndarray, cell_m: float, folder: Path) -> Path:
    """The Mitsuba XML of a city (and its PLY meshes) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    v, f = city_mesh(heights, cell_m)
    _write_ply(folder / "city.ply", v, f)
    side = heights.shape[0] * cell_m
    g = np.array([(-side, -side, 0), (2 * side, -side, 0), (2 * side, 2 * side, 0),
                  (-side, 2 * side, 0)], np.float32)
    _write_ply(folder / "ground.ply", g, np.array([(0, 1, 2), (0, 2, 3)], np.int32))
    path = folder / "scene.xml"
    path.write_text(SCENE_XML)
    return path


def tx_height(heights: np.ndarray, ty: int, tx: int, cell_m: float, regime: str,
              above_roof_m: float) -> float:
    """The transmitter's height: street level, or above every roof within 20 m and the city's
    roof level (the 75th percentile of the building heights): the generator's rule."""
    if regime == "street":
        return TX_STREET_HEIGHT_M
    r = max(1, int(round(20.0 / cell_m)))
    roof = float(heights[max(0, ty - r):ty + r + 1, max(0, tx - r):tx + r + 1].max())
    level = float(np.percentile(heights[heights > 0], 75)) if (heights > 0).any() else 0.0
    return max(roof, level, TX_STREET_HEIGHT_M) + above_roof_m


def trace_city(heights: np.ndarray, cell_m: float, transmitters: list[tuple[int, int, float]],
               samples_per_cell: int = SAMPLES_PER_CELL, max_depth: int = MAX_DEPTH,
               seed: int = 0) -> np.ndarray:
    """Linear path gain (k, n, n) of each transmitter (row, col, height m) over the city's grid."""
    from radiovae.data.raytrace import _import_sionna

    rt, mi = _import_sionna()
    n = heights.shape[0]
    out = np.zeros((len(transmitters), n, n))
    with tempfile.TemporaryDirectory(prefix="radiovae-city-") as tmp:
        scene = rt.load_scene(str(write_scene(heights, cell_m, Path(tmp))), merge_shapes=True)
        scene.frequency = CARRIER_HZ
        scene.tx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="V")
        scene.rx_array = scene.tx_array
        solver = rt.RadioMapSolver()
        side = n * cell_m
        for k, (ty, tx, z) in enumerate(transmitters):
            scene.add(rt.Transmitter("tx", position=mi.Point3f((tx + 0.5) * cell_m,
                                                                (ty + 0.5) * cell_m, z)))
            try:
                rm = solver(scene, center=mi.Point3f(side / 2, side / 2, RX_HEIGHT_M),
                            orientation=mi.Point3f(0, 0, 0), size=mi.Point2f(side, side),
                            cell_size=mi.Point2f(cell_m, cell_m),
                            samples_per_tx=int(samples_per_cell * n * n), max_depth=max_depth,
                            diffraction=True, edge_diffraction=True, seed=seed + k)
                out[k] = np.array(rm.path_gain)[0]
            finally:
                scene.remove("tx")
    return out


def traced_set(seed: int, cities: int, tx: int, size: int, out: Path,
               samples: int = SAMPLES_PER_CELL, progress: bool = False,
               regimes: tuple[str, ...] | None = None) -> dict:
    """Trace cities ``(seed, 0..cities-1)`` (the generator's cities and transmitter positions)
    with ``tx`` transmitters each, in ``regimes`` (default both), into OUT/traces.npz: per city
    its heights and transmitters, per (city, regime) the traced gain in dB and the rays per cell.
    Resumable, written atomically after each (city, regime)."""
    import io

    from radiovae.data.city import CITY_M, make_city, place_transmitters
    from radiovae.data.propagation import REGIMES
    from radiovae.io import atomic_write_bytes

    path = out / "traces.npz"
    have = dict(np.load(path)) if path.is_file() else {}
    cell = CITY_M / size
    t0 = time.time()
    for c in range(cities):
        rng = np.random.default_rng([seed, c])
        city = make_city(rng, size)
        txs = place_transmitters(rng, city.buildings, tx)
        for regime in regimes or REGIMES:
            key = f"{c}_{regime}"
            if f"gain_{key}" in have and int(have.get(f"samples_{key}", 0)) == samples:
                continue  # (a map traced with another ray count, or an unknown one, is redone)
            hs = [tx_height(city.heights, int(a), int(b), cell, regime, ABOVE_ROOF_M) for a, b in txs]
            gain = trace_city(city.heights, cell, [(int(a), int(b), h) for (a, b), h in
                                                   zip(txs, hs, strict=True)],
                              samples_per_cell=samples, seed=c)
            have[f"gain_{key}"] = (10 * np.log10(np.maximum(gain, 1e-30))).astype(np.float32)
            have[f"samples_{key}"] = np.int64(samples)
            have[f"heights_{c}"] = city.heights
            have[f"tx_{c}"] = txs
            buf = io.BytesIO()
            np.savez_compressed(buf, **have)
            atomic_write_bytes(path, buf.getvalue())
            if progress:
                print(f"city {c} {regime}: traced {tx} maps ({time.time() - t0:.0f} s so far)",
                      flush=True)
    return have


def load_traces(folder: Path) -> list[dict]:
    """[{heights, ty, tx, regime, traced_db, samples}] of every traced map in folder/traces.npz
    (samples: rays per cell, 0 when the file does not say)."""
    data = np.load(folder / "traces.npz")
    maps = []
    for key in sorted(data.files):
        if not key.startswith("gain_"):
            continue
        c, regime = key[5:].split("_", 1)
        samples = int(data[f"samples_{key[5:]}"]) if f"samples_{key[5:]}" in data.files else 0
        for k, (ty, tx) in enumerate(data[f"tx_{c}"]):
            maps.append({"city": int(c), "heights": data[f"heights_{c}"], "ty": int(ty),
                         "tx": int(tx), "regime": regime, "traced_db": data[key][k],
                         "samples": samples})
    return maps
