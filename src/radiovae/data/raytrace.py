"""Ray-traced radio maps of Sionna RT's bundled city scenes, in RadioMapSeer's layout.

Sionna RT (the optional extra ``radiovae[raytrace]``) shoots rays from each transmitter through a
3-D city (line of sight, specular reflections, refraction, edge diffraction, up to ``max_depth``
interactions) and records the path gain 1.5 m above the ground, the height of RadioMapSeer's
receivers: on a plane where the ground is flat, on a surface that follows the terrain where it is
not (san_francisco's hills). Without a GPU it runs on Dr.Jit's LLVM backend, which needs LLVM's
shared library (Debian: ``apt-get install libllvm19``; LLVM 15 aborts the process while compiling
a kernel, "LLVM ERROR: Cannot select ... fmaximum", so old versions are refused up front); its
path goes in ``DRJIT_LIBLLVM_PATH``, which this module fills in itself when it finds libLLVM 19+.

One call writes one map: a ``size`` x ``size`` window of ``cell``-metre cells, drawn with the seed
inside the scene where the buildings are, and ``tx`` transmitters over open ground, 3 m above the
roofs around them and above the window's roof level (a rooftop mast). Buildings come from the
scene's geometry (see :func:`survey`) and are 0 in the gain PNG, as in RadioMapSeer. Rays per
transmitter: 50 per cell (3.3 M at 256 x 256, a few seconds on two cores); far from the
transmitter the Monte-Carlo estimate is speckled, and streets no ray path reaches within
``max_depth`` interactions get the floor gray, 0.

Files: ``png/buildings_complete/{m}.png``, ``png/antennas/{m}_{k}.png``,
``gain/SionnaRT/{m}_{k}.png`` (image row 0 = north), and ``raytrace.json``, the index that maps
each (scene, size, cell, max_depth, seed) to its map number ``m`` with the window and transmitter
positions, so that a second call resumes: it reuses the same ``m`` and skips finished gain PNGs.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radiovae.data.grayscale import db_to_gray
from radiovae.data.layout import Layout, write_png
from radiovae.errors import UserError
from radiovae.io import atomic_write_text
from radiovae.progress import make_progress

SIMULATION = "SionnaRT"  # gain/SionnaRT/ in RadioMapSeer's layout
INDEX_FILE = "raytrace.json"
RX_HEIGHT_M = 1.5  # RadioMapSeer's receiver height
TX_ABOVE_ROOF_M = 3.0
ROOF_RADIUS_M = 20.0  # the mast clears every roof within this radius
ROOF_PERCENTILE = 75.0  # ... and the window's roof level
SAMPLES_PER_CELL = 50  # rays per transmitter = 50 x cells: ~3.3 M at 256 x 256
MIN_BUILDING_FRACTION = 0.3  # a window must hold some city (else: the densest of 32 draws)
WINDOW_TRIES = 32
MIN_LLVM = 17  # LLVM 15 aborts on x86 fminimum/fmaximum; 19 is the version installed and tested

FIX = ("install it with `pip install 'radiovae[raytrace]'` and, for the CPU, Debian's LLVM 19 "
       "(`apt-get install libllvm19`) with DRJIT_LIBLLVM_PATH set to its libLLVM "
       "(e.g. /usr/lib/x86_64-linux-gnu/libLLVM.so.19.1); `bash scripts/run.sh` does all of this")


# -- finding Sionna and LLVM -----------------------------------------------------------------------

def available_scenes() -> list[str]:
    """Names of the scenes bundled with Sionna RT, found without importing it (no LLVM needed)."""
    spec = importlib.util.find_spec("sionna")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"Sionna RT is not installed: {FIX}")
    scenes = Path(list(spec.submodule_search_locations)[0]) / "rt" / "scenes"
    return sorted(d.name for d in scenes.iterdir() if (d / f"{d.name}.xml").is_file())


def find_libllvm() -> str | None:
    """A libLLVM 19 (else 20-22) in the usual Debian / Ubuntu / apt.llvm.org places, or None."""
    for major in (19, 20, 21, 22):  # 19 first: the version the setup script installs and we test
        for pattern in (f"/usr/lib/*/libLLVM.so.{major}*", f"/usr/lib/*/libLLVM-{major}.so*",
                        f"/usr/lib/llvm-{major}/lib/libLLVM*.so*", f"/usr/lib64/libLLVM*{major}*.so*"):
            hits = sorted(glob.glob(pattern))
            if hits:
                return hits[0]
    return None


def _import_sionna():
    """Import sionna.rt on the CPU (LLVM) backend, or explain in one line how to get it working."""
    if importlib.util.find_spec("sionna") is None:
        raise UserError(f"Sionna RT is not installed: {FIX}")
    if not os.environ.get("DRJIT_LIBLLVM_PATH"):
        found = find_libllvm()
        if found:
            os.environ["DRJIT_LIBLLVM_PATH"] = found
    try:
        import drjit as dr
        import mitsuba as mi
        import sionna.rt as rt
    except ImportError as e:
        where = os.environ.get("DRJIT_LIBLLVM_PATH") or "unset"
        raise UserError(f"Sionna RT cannot start its LLVM backend ({str(e).splitlines()[0]}; "
                        f"DRJIT_LIBLLVM_PATH={where}): {FIX}") from e
    major = dr.detail.llvm_version()[0]
    if mi.variant().startswith("llvm") and 0 <= major < MIN_LLVM:  # else: abort() mid-trace
        raise UserError(f"Sionna RT found LLVM {major}, too old for its CPU kernels "
                        f"(DRJIT_LIBLLVM_PATH={os.environ.get('DRJIT_LIBLLVM_PATH')}): {FIX}")
    return rt, mi


# -- geometry --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Window:
    """A square map window: cell (i, j) has its centre at (x[j], y[i]); i grows northwards."""

    cx: float
    cy: float
    size: int
    cell: float

    def axis(self, c: float, corners: bool = False) -> np.ndarray:
        offset = 0.0 if corners else 0.5
        return c + (np.arange(self.size + corners) + offset - self.size / 2) * self.cell

    def grid(self, corners: bool = False) -> tuple[np.ndarray, np.ndarray]:
        return np.meshgrid(self.axis(self.cx, corners), self.axis(self.cy, corners))


@dataclass(frozen=True)
class Terrain:
    """What the scene's geometry says about each cell of a window (arrays [size, size])."""

    ground: np.ndarray  # height of the ground under the cell centre
    buildings: np.ndarray  # True where the receiver point (ground + 1.5 m) is indoors
    roof: np.ndarray  # height of the highest surface over the cell (the ground in the open)

    @property
    def flat(self) -> bool:
        return float(np.ptp(self.ground)) < 0.5


def _cast(mi, scene, x: np.ndarray, y: np.ndarray, z, dz: float):
    """Vertical rays from (x, y, z): hit mask, hit height, z of the hit's geometric normal."""
    z = np.broadcast_to(np.asarray(z, np.float32), x.shape)
    origin = mi.Point3f(*(mi.Float(np.ascontiguousarray(a, np.float32).ravel()) for a in (x, y, z)))
    si = scene.mi_scene.ray_intersect(mi.Ray3f(origin, mi.Vector3f(0.0, 0.0, dz)))
    return tuple(np.array(a).reshape(x.shape) for a in (si.is_valid(), si.p.z, si.n.z))


def ground_height(mi, scene, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The lowest surface over (x, y), seen from under the scene: the ground or the terrain."""
    hit, z, _ = _cast(mi, scene, x, y, float(scene.mi_scene.bbox().min.z) - 10.0, 1.0)
    return np.where(hit, z, 0.0)


def survey(mi, scene, window: Window) -> Terrain:
    """Ground, buildings and roofs of a window, from vertical rays through the cell centres.

    A cell is building when the first surface straight above its receiver point faces away
    (its normal points up, like a roof's seen from outside): that ray is leaving a closed
    building mesh, so the point is indoors. Open ground, courtyards and the space under arches
    and bridges stay free. Scenes differ in which way their normals point (munich's outwards,
    simple_street_canyon's inwards), so "up" is what the surfaces seen from above mostly show."""
    x, y = window.grid()
    ground = ground_height(mi, scene, x, y)
    hit, _, nz = _cast(mi, scene, x, y, ground + RX_HEIGHT_M, 1.0)
    hit_down, z_down, nz_down = _cast(mi, scene, x, y, float(scene.mi_scene.bbox().max.z) + 10.0,
                                      -1.0)
    up = -1.0 if hit_down.any() and np.median(nz_down[hit_down]) < 0 else 1.0
    return Terrain(ground, hit & (nz * up > 0), np.where(hit_down, z_down, ground))


def choose_window(mi, scene, size: int, cell: float, rng: np.random.Generator) -> Window:
    """A seeded window inside the scene's bounds that holds some city (centred if it can't)."""
    bbox = scene.mi_scene.bbox()
    lo, hi = np.array([bbox.min.x, bbox.min.y], float), np.array([bbox.max.x, bbox.max.y], float)
    half = size * cell / 2
    free = np.maximum(hi - lo - 2 * half, 0.0)
    best, best_frac = None, -1.0
    for _ in range(WINDOW_TRIES):
        c = np.where(free > 0, lo + half + rng.random(2) * free, (lo + hi) / 2)
        w = Window(float(c[0]), float(c[1]), size, cell)
        coarse = Window(w.cx, w.cy, 32, size * cell / 32)  # a cheap look at the building density
        frac = float(survey(mi, scene, coarse).buildings.mean())
        if frac > best_frac:
            best, best_frac = w, frac
        if frac >= MIN_BUILDING_FRACTION or not free.any():
            break
    return best


def place_transmitter(terrain: Terrain, window: Window,
                      rng: np.random.Generator) -> tuple[int, int, float]:
    """(i, j, z): a random outdoor cell away from the border, the antenna 3 m above every roof
    within 20 m and above the window's roof level (the height 3 in 4 building cells stay under):
    a rooftop-mast height."""
    free, n = ~terrain.buildings, window.size
    inner = np.zeros_like(free)
    inner[n // 8:n - n // 8, n // 8:n - n // 8] = True
    cells = np.argwhere(inner & free)
    if len(cells) == 0:
        cells = np.argwhere(free)
    if len(cells) == 0:
        raise UserError("the map window is all buildings: no place for a transmitter "
                        "(try another --seed or a larger --cell)")
    i, j = (int(v) for v in cells[rng.integers(len(cells))])
    r = max(1, int(round(ROOF_RADIUS_M / window.cell)))
    nearby = float(terrain.roof[max(0, i - r):i + r + 1, max(0, j - r):j + r + 1].max())
    tall = terrain.roof - terrain.ground
    level = float(np.percentile(tall[terrain.buildings], ROOF_PERCENTILE)) if (~free).any() else 0.0
    ground = float(terrain.ground[i, j])
    return i, j, max(nearby, ground + level, ground + RX_HEIGHT_M) + TX_ABOVE_ROOF_M


def measurement_mesh(mi, scene, window: Window):
    """A surface 1.5 m over hilly ground: two triangles per cell, corners on the terrain."""
    x, y = window.grid(corners=True)
    z = ground_height(mi, scene, x, y) + RX_HEIGHT_M
    n = window.size
    idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:], idx[1:, :-1]
    faces = np.stack([np.stack([a, b, c], -1), np.stack([a, c, d], -1)], -2)  # [n, n, 2, 3]
    mesh = mi.Mesh("radiovae-measurement", (n + 1) ** 2, 2 * n * n, has_vertex_normals=False)
    params = mi.traverse(mesh)
    params["vertex_positions"] = mi.Float(np.stack([x, y, z], -1).astype(np.float32).ravel())
    params["faces"] = mi.UInt32(faces.astype(np.uint32).ravel())
    params.update()
    return mesh


# -- the index (resumability) ----------------------------------------------------------------------

def _load_index(out: Path) -> dict:
    path = out / INDEX_FILE
    if not path.is_file():
        return {"simulation": SIMULATION, "maps": []}
    try:
        index = json.loads(path.read_text())
        if not isinstance(index.get("maps"), list):
            raise ValueError("no 'maps' list")
        return index
    except (ValueError, AttributeError) as e:
        raise UserError(f"{path} is not a radiovae ray-tracing index ({e}); "
                        "move it away or pick another --out") from e


def _save_index(out: Path, index: dict) -> None:
    atomic_write_text(out / INDEX_FILE, json.dumps(index, indent=1) + "\n")


def _map_record(index: dict, key: dict) -> dict | None:
    return next((r for r in index["maps"] if all(r.get(k) == v for k, v in key.items())), None)


# -- the ray tracer --------------------------------------------------------------------------------

def raytrace_maps(scene: str, tx: int, out: Path, size: int = 256, cell: float = 2.0,
                  max_depth: int = 4, seed: int = 0, progress: bool = True,
                  samples_per_tx: int | None = None) -> list[Path]:
    """Ray-trace ``tx`` transmitters over one window of a bundled Sionna RT scene.

    Returns the gain PNG paths ``gain/SionnaRT/{m}_{k}.png`` for k = 0..tx-1 (finished ones from
    an earlier call are kept, not recomputed). ``samples_per_tx`` defaults to 50 rays per cell."""
    if tx < 1 or size < 8 or cell <= 0 or max_depth < 0 or seed < 0:
        raise UserError(f"need tx >= 1, size >= 8, cell > 0, max_depth >= 0, seed >= 0 (got tx={tx}, "
                        f"size={size}, cell={cell}, max_depth={max_depth}, seed={seed})")
    names = available_scenes()
    if scene not in names:
        raise UserError(f"unknown Sionna RT scene {scene!r}; bundled scenes: {', '.join(names)}")
    out = Path(out)
    layout = Layout(out)
    samples = int(samples_per_tx or SAMPLES_PER_CELL * size * size)
    key = {"scene": scene, "size": size, "cell": float(cell), "max_depth": max_depth, "seed": seed}

    index = _load_index(out)
    record = _map_record(index, key)
    paths = [layout.gain(SIMULATION, record["map"] if record else 0, k) for k in range(tx)]
    if record and len(record["tx"]) >= tx and all(p.is_file() for p in paths):
        return paths  # all done: no need to start the ray tracer at all

    rt, mi = _import_sionna()
    sc = rt.load_scene(getattr(rt.scene, scene), merge_shapes=True)
    sc.tx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="V")
    sc.rx_array = sc.tx_array
    if record is None:
        window = choose_window(mi, sc, size, cell, np.random.default_rng([seed, 0]))
        # A new map number: past every map this index knows and every mask already in the
        # folder (generated maps or RadioMapSeer's own), so nothing is overwritten.
        m = max([r["map"] for r in index["maps"]] + list(layout.map_ids()), default=-1) + 1
        record = {"map": m, **key, "center": [window.cx, window.cy],
                  "frequency_hz": float(sc.frequency[0]), "rx_height_m": RX_HEIGHT_M,
                  "samples_per_tx": samples, "tx": []}
        index["maps"].append(record)
    m = record["map"]
    window = Window(*record["center"], size, float(cell))
    terrain = survey(mi, sc, window)
    while len(record["tx"]) < tx:  # transmitter k is a pure function of (seed, k)
        k = len(record["tx"])
        i, j, z = place_transmitter(terrain, window, np.random.default_rng([seed, 1, k]))
        x, y = window.axis(window.cx)[j], window.axis(window.cy)[i]
        record["tx"].append({"row": size - 1 - i, "col": j, "xyz": [float(x), float(y), z]})
    _save_index(out, index)

    north_up = np.ascontiguousarray(terrain.buildings[::-1])
    if not layout.buildings(m).is_file():
        write_png(layout.buildings(m), north_up.astype(np.uint8) * 255)
    # flat ground: Sionna's planar map; hills (san_francisco): a surface that follows the terrain
    surface = None if terrain.flat else measurement_mesh(mi, sc, window)
    solver = rt.RadioMapSolver()
    paths = [layout.gain(SIMULATION, m, k) for k in range(tx)]
    with make_progress(disable=not progress) as bar:
        task = bar.add_task(f"ray tracing {scene} map {m}", total=tx)
        for k, path in enumerate(paths):
            if not path.is_file():
                t = record["tx"][k]
                gain = _trace(rt, mi, sc, solver, window, terrain, surface, t["xyz"], max_depth,
                              samples, seed=(seed * 1000 + k) % 2**31)
                antenna = np.zeros((size, size), np.uint8)
                antenna[t["row"], t["col"]] = 255
                gray = db_to_gray(10 * np.log10(np.maximum(gain[::-1], 1e-30)))
                gray[north_up] = 0
                write_png(layout.antenna(m, k), antenna)
                write_png(path, gray)  # last: its presence marks (m, k) as done
            bar.advance(task)
    return paths


def _trace(rt, mi, scene, solver, window: Window, terrain: Terrain, surface, xyz: list[float],
           max_depth: int, samples: int, seed: int) -> np.ndarray:
    """Linear path gain [size, size] (row = y index, south first) of one transmitter."""
    scene.add(rt.Transmitter("tx", position=mi.Point3f(*xyz)))
    n, cell = window.size, window.cell
    common = dict(samples_per_tx=samples, max_depth=max_depth, diffraction=True,
                  edge_diffraction=True, seed=seed)  # roofs' free edges: over-the-roof paths
    try:
        if surface is None:
            height = float(np.median(terrain.ground)) + RX_HEIGHT_M
            rm = solver(scene, center=mi.Point3f(window.cx, window.cy, height),
                        orientation=mi.Point3f(0, 0, 0), size=mi.Point2f(n * cell, n * cell),
                        cell_size=mi.Point2f(cell, cell), **common)
            return np.array(rm.path_gain)[0]
        rm = solver(scene, measurement_surface=surface, **common)
        return np.array(rm.path_gain)[0].reshape(n, n, 2).mean(-1)  # the two triangles of a cell
    finally:
        scene.remove("tx")


def raytrace_cli(args) -> int:
    """``radiovae data raytrace``: write the maps, then say where they are."""
    paths = raytrace_maps(args.scene, args.tx, Path(args.out), size=args.size, cell=args.cell,
                          max_depth=args.max_depth, seed=args.seed,
                          progress=getattr(args, "progress", True))
    print(f"{len(paths)} ray-traced radio maps of {args.scene} in {args.out} "
          f"(gain/{SIMULATION}/, index {INDEX_FILE})")
    return 0
