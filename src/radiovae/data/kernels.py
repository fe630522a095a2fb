"""Numba kernels of the propagation model (radiovae.data.propagation): grid ray walks.

All positions are in pixel units (pixel (i, j) spans [i, i+1) x [j, j+1), its centre i+0.5, j+0.5);
``blocked`` is a bool building mask. Each kernel is single-threaded (the generator parallelises
over maps with processes) and deterministic.
"""

from __future__ import annotations

import cmath
import math

import numpy as np
from numba import njit

INF = np.inf


@njit(cache=True, inline="always")
def _setup(p0: float, p1: float):
    """Amanatides-Woo set-up along one axis: (cell, step, t to the first boundary, t per cell)."""
    d = p1 - p0
    c = int(math.floor(p0))
    if d > 0:
        return c, 1, (c + 1 - p0) / d, 1.0 / d
    if d < 0:
        return c, -1, (c - p0) / d, -1.0 / d
    return c, 0, INF, INF


@njit(cache=True)
def segment_clear(blocked, y0: float, x0: float, y1: float, x1: float) -> bool:
    """True when the segment (y0, x0) -> (y1, x1) crosses no blocked cell (the end cells
    included). A segment through the exact corner shared by two diagonal cells is blocked only
    when both side cells are (it slips between two buildings that merely touch at a point)."""
    n0, n1 = blocked.shape
    ci, si, ty, dty = _setup(y0, y1)
    cj, sj, tx, dtx = _setup(x0, x1)
    ei, ej = int(math.floor(y1)), int(math.floor(x1))
    for _ in range(n0 + n1 + 4):
        if ci < 0 or cj < 0 or ci >= n0 or cj >= n1 or blocked[ci, cj]:
            return False
        if ci == ei and cj == ej:
            return True
        if ty < tx - 1e-12:
            ci += si
            ty += dty
        elif tx < ty - 1e-12:
            cj += sj
            tx += dtx
        else:  # through a grid vertex
            ni, nj = ci + si, cj + sj
            if 0 <= ni < n0 and 0 <= nj < n1 and blocked[ni, cj] and blocked[ci, nj]:
                return False
            ci, cj = ni, nj
            ty += dty
            tx += dtx
    return True


@njit(cache=True)
def line_of_sight(blocked, ty: int, tx: int):
    """Visibility of every pixel centre from the transmitter's pixel centre (bool n0 x n1)."""
    n0, n1 = blocked.shape
    vis = np.zeros((n0, n1), np.bool_)
    y0, x0 = ty + 0.5, tx + 0.5
    for i in range(n0):
        for j in range(n1):
            if not blocked[i, j]:
                vis[i, j] = segment_clear(blocked, i + 0.5, j + 0.5, y0, x0)
    return vis


@njit(cache=True, inline="always")
def angle_loss(angle: float, corner_db: float, corner_deg: float) -> float:
    """Diffraction loss (dB) of a turn of ``angle`` degrees round a corner: 0 at a grazing turn
    (no step at the shadow edge: the traces step by ~2 dB there), growing with the angle and
    levelling off past ``corner_deg``; ``corner_db`` at a right angle."""
    return corner_db * (1.0 - math.exp(-angle / corner_deg)) / (1.0 - math.exp(-90.0 / corner_deg))


@njit(cache=True, inline="always")
def _turn_loss(ay: float, ax: float, by: float, bx: float, corner_db: float,
               corner_deg: float) -> float:
    """Diffraction loss (dB) of a turn from direction a to direction b (:func:`angle_loss`)."""
    nb = math.hypot(by, bx)
    if nb == 0.0 or (ay == 0.0 and ax == 0.0):
        return 0.0
    c = (ay * by + ax * bx) / nb
    c = min(1.0, max(-1.0, c))
    return angle_loss(math.degrees(math.acos(c)), corner_db, corner_deg)


@njit(cache=True)
def corner_paths(blocked, sy: float, sx: float, corner_db: float, corner_deg: float):
    """Dominant paths around building corners on a grid (any-angle Dijkstra, as Theta*).

    Every free cell gets the shortest taut path from the source point (sy, sx): a chain of
    corner cells, each in line of sight of the next. Returns per cell: g (path length, cells),
    par (the last corner's flat index, -1 the source, -2 unreached), turn (accumulated turn loss
    in dB up to the cell, :func:`angle_loss` at every corner) and the unit direction of the
    path's last segment (diry, dirx)."""
    n0, n1 = blocked.shape
    n = n0 * n1
    g = np.full(n, INF)
    par = np.full(n, -2, np.int64)
    turn = np.zeros(n)
    diry = np.zeros(n)
    dirx = np.zeros(n)
    closed = np.zeros(n, np.bool_)
    cap = 9 * n + 16
    hk = np.empty(cap)
    hv = np.empty(cap, np.int64)
    size = 0
    s0 = int(sy) * n1 + int(sx)
    g[s0] = math.hypot(int(sy) + 0.5 - sy, int(sx) + 0.5 - sx)
    par[s0] = -1
    hk[0], hv[0], size = g[s0], s0, 1
    while size > 0:
        key, s = hk[0], hv[0]  # pop the minimum (binary heap)
        size -= 1
        k, v = hk[size], hv[size]
        i = 0
        while True:
            c = 2 * i + 1
            if c >= size:
                break
            if c + 1 < size and hk[c + 1] < hk[c]:
                c += 1
            if hk[c] >= k:
                break
            hk[i], hv[i] = hk[c], hv[c]
            i = c
        if size > 0:
            hk[i], hv[i] = k, v
        if closed[s] or key > g[s] + 1e-9:
            continue
        closed[s] = True
        si, sj = s // n1, s % n1
        p = par[s]
        if p == -1:
            py, px = sy, sx
        else:
            py, px = p // n1 + 0.5, p % n1 + 0.5
        for di in range(-1, 2):
            for dj in range(-1, 2):
                ni, nj = si + di, sj + dj
                if (di == 0 and dj == 0) or ni < 0 or nj < 0 or ni >= n0 or nj >= n1:
                    continue
                t = ni * n1 + nj
                if closed[t] or blocked[ni, nj]:
                    continue
                cy, cx = ni + 0.5, nj + 0.5
                gp = 0.0 if p == -1 else g[p]
                straight = gp + math.hypot(cy - py, cx - px)
                # a lower bound of both candidates (g[s] = g[p] + |p s|, triangle inequality):
                # when it cannot improve t, skip the costly sight test (the result is the same)
                if straight >= g[t] - 1e-9:
                    continue
                if segment_clear(blocked, py, px, cy, cx):  # skip s: straight from s's corner
                    cand = straight
                    q = p
                    if p == -1:
                        tl = 0.0
                    else:
                        tl = turn[p] + _turn_loss(diry[p], dirx[p], cy - py, cx - px,
                                                  corner_db, corner_deg)
                    oy, ox = py, px
                else:
                    cand = g[s] + math.hypot(di, dj)
                    q = s
                    tl = turn[s] + _turn_loss(diry[s], dirx[s], di, dj, corner_db, corner_deg)
                    oy, ox = si + 0.5, sj + 0.5
                if cand < g[t] - 1e-9:
                    g[t], par[t], turn[t] = cand, q, tl
                    length = math.hypot(cy - oy, cx - ox)
                    diry[t], dirx[t] = (cy - oy) / length, (cx - ox) / length
                    j = size  # push
                    size += 1
                    while j > 0:
                        up = (j - 1) // 2
                        if hk[up] <= cand:
                            break
                        hk[j], hv[j] = hk[up], hv[up]
                        j = up
                    hk[j], hv[j] = cand, t
    return g, par, turn, diry, dirx


@njit(cache=True, inline="always")
def fresnel_te(cos_i: float, eps_re: float, eps_im: float) -> float:
    """|Gamma|^2 of a TE (perpendicular) wave on a half-space of relative permittivity
    eps_re - j eps_im, at an incidence angle of cosine cos_i (0 grazing, 1 head-on)."""
    c = min(1.0, max(0.0, cos_i))
    root = cmath.sqrt(complex(eps_re - (1.0 - c * c), -eps_im))
    g = (c - root) / (c + root)
    return g.real * g.real + g.imag * g.imag


@njit(cache=True)
def reflections(blocked, normal_y, normal_x, ty: int, tx: int, rays: int, bounces: int,
                cell_m: float, fspl: float, n1: float, n2: float, breakpoint_m: float,
                eps_re: float, eps_im: float):
    """Specular reflections off walls by ray launching from the transmitter (image sources,
    unfolded): per bounce order b, the linear power (path loss of the unfolded length, without
    the reflection losses) of rays that reached each free pixel after exactly b + 1 reflections.

    Each ray stands for a tube of width (unfolded length x angular step): a pixel crossed by it
    gets its power times the tube's share of the pixel (<= 1), so a wide beam sums to its power
    and an isolated ray (scattered off a corner) adds a trace, not a bright streak. Walls reflect
    about the outward normal (normal_y, normal_x) of the building cell the ray meets; cells
    with a zero normal (corners) stop the ray. Each bounce multiplies the ray's power by the
    wall's Fresnel reflectance |Gamma_TE|^2 at its incidence angle (vertical polarisation on a
    vertical wall; relative permittivity eps_re - j eps_im): ~0.15 head-on for concrete, -> 1 at
    grazing incidence, which is what keeps street canyons lit far along their axes."""
    n0, n1_ = blocked.shape
    out = np.zeros((bounces, n0, n1_))
    step = 0.5
    dtheta = 2.0 * math.pi / rays
    for r in range(rays):
        a = dtheta * (r + 0.5)
        dy, dx = math.sin(a), math.cos(a)
        y, x = ty + 0.5, tx + 0.5
        length = 0.0
        order = 0
        last = -1
        amp = 1.0
        for _ in range(8 * (n0 + n1_) * (bounces + 1)):
            y2, x2 = y + dy * step, x + dx * step
            i, j = int(math.floor(y2)), int(math.floor(x2))
            if i < 0 or j < 0 or i >= n0 or j >= n1_:
                break
            if blocked[i, j]:
                if order == bounces:
                    break
                ny, nx = normal_y[i, j], normal_x[i, j]
                dot = dy * ny + dx * nx
                if dot >= 0.0:
                    break
                amp *= fresnel_te(-dot, eps_re, eps_im)
                dy, dx = dy - 2.0 * dot * ny, dx - 2.0 * dot * nx
                order += 1
                last = -1
                continue
            y, x = y2, x2
            length += step
            cell = i * n1_ + j
            if order > 0 and cell != last:
                last = cell
                d = max(length * cell_m, 1.0)
                if d <= breakpoint_m:
                    loss = fspl + 10.0 * n1 * math.log10(d)
                else:
                    loss = fspl + 10.0 * n1 * math.log10(breakpoint_m) \
                        + 10.0 * n2 * math.log10(d / breakpoint_m)
                out[order - 1, i, j] += amp * 10.0 ** (-loss / 10.0) * min(1.0, length * dtheta)
    return out


@njit(cache=True)
def over_roof_nu(heights, ty: int, tx: int, tx_height: float, rx_height: float,
                 cell_m: float, wavelength: float):
    """Fresnel-Kirchhoff nu of the highest obstacle (building) between the transmitter at
    (ty, tx, tx_height) and each cell's receiver at rx_height (knife-edge, the dominant edge):
    nu = h_excess * sqrt(2 d / (lambda d1 d2)); -inf where nothing rises toward the path."""
    n0, n1 = heights.shape
    nu = np.full((n0, n1), -INF)
    y0, x0 = ty + 0.5, tx + 0.5
    for i in range(n0):
        for j in range(n1):
            y1, x1 = i + 0.5, j + 0.5
            total = math.hypot(y1 - y0, x1 - x0)
            if total == 0.0:
                continue
            dist = total * cell_m
            ci, si, tyy, dty = _setup(y0, y1)
            cj, sj, txx, dtx = _setup(x0, x1)
            t_prev = 0.0
            best = -INF
            for _ in range(n0 + n1 + 4):
                if ci == i and cj == j:
                    break
                t_next = min(tyy, txx, 1.0)
                h = heights[ci, cj]
                if h > 0.0 and not (ci == ty and cj == tx):
                    t = 0.5 * (t_prev + t_next)
                    d1, d2 = t * dist, (1.0 - t) * dist
                    if d1 > 0.0 and d2 > 0.0:
                        excess = h - (tx_height + (rx_height - tx_height) * t)
                        v = excess * math.sqrt(2.0 * dist / (wavelength * d1 * d2))
                        if v > best:
                            best = v
                t_prev = t_next
                if tyy < txx:
                    ci += si
                    tyy += dty
                else:
                    cj += sj
                    txx += dtx
                if ci < 0 or cj < 0 or ci >= n0 or cj >= n1:
                    break
            nu[i, j] = best
    return nu


@njit(cache=True)
def corner_gain(par, g, turn, diry, dirx, los, blocked, f: int, ty: int, tx: int,
                corner_db: float, corner_deg: float, n1_exp: float, n2_exp: float,
                breakpoint_m: float, offset: float, cell_m: float, fspl: float):
    """Gain (dB) of every pixel out of sight of the transmitter along its dominant corner path:
    exact from its coarse cell's last corner: the line of sight's two-slope law (exponents
    n1_exp, n2_exp, breakpoint) on the unfolded length, plus the turn loss so far and this
    corner's :func:`angle_loss` (so the gain is continuous across a shadow edge);
    -inf in sight, in buildings and where no path arrives."""
    n0, n1 = blocked.shape
    c1 = n1 // f
    out = np.full((n0, n1), -np.inf, np.float32)
    for i in range(n0):
        for j in range(n1):
            if los[i, j] or blocked[i, j]:
                continue
            p = par[(i // f) * c1 + j // f]
            if p < -1:
                continue
            y, x = i + 0.5, j + 0.5
            if p == -1:  # in sight on the coarse grid, not on the fine one: a grazing corner
                length = math.hypot(y - ty - 0.5, x - tx - 0.5)
                loss = 0.0
            else:
                py, px = (p // c1 + 0.5) * f, (p % c1 + 0.5) * f
                vy, vx = y - py, x - px
                seg = math.hypot(vy, vx)
                cos = (diry[p] * vy + dirx[p] * vx) / max(seg, 1e-9)
                angle = math.degrees(math.acos(min(1.0, max(-1.0, cos))))
                length = g[p] * f + seg
                loss = turn[p] + angle_loss(angle, corner_db, corner_deg)
            d = max(length * cell_m, 1.0)
            if d <= breakpoint_m:
                law = 10.0 * n1_exp * math.log10(d)
            else:
                law = 10.0 * n1_exp * math.log10(breakpoint_m) \
                    + 10.0 * n2_exp * math.log10(d / breakpoint_m)
            out[i, j] = -(fspl + law + offset) - loss
    return out
