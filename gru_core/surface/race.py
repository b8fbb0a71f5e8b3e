"""One race's loss surface, as the race page shows it: what to draw (:class:`SurfaceSettings`, with its URL form)
and the numbers of the picture (:func:`race_surface`: plane, grid, projected paths, 1-D cuts).

Input: the race's recorded paths (``HostedRace.trajectories()``: θ0, each contestant's parameter vectors and
epochs, its status, the parameter shapes), the model's configuration and the windows to measure the loss on.
Output: plain data (lists and small arrays), small enough to travel from a worker process or a Dask actor:
a 31 × 31 grid plus a few hundred numbers per path.

Which arithmetic: the grid in float32 by default (``precision="fast"``: twice as fast, within a few 1e-5 of
float64: invisible in a contour plot), everything printed as a number in float64: the loss at θ0, along each
path (at the real parameters, not their in-plane shadows) and along the cuts, so a cut's ends are the end
points' losses exactly.  A diverged contestant's non-finite points are left out of the plane and the picture
(said in ``notes``); its path ends at its last finite point.

No Streamlit, no Plotly.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from gru_core.jsonio import to_jsonable
from gru_core.model.gru import GRUConfig, GRURegressor
from gru_core.surface.landscape import (
    _Evaluator,
    default_extent,
    pca_plane,
    project,
    random_plane,
    residual_norms,
)

__all__ = ["CUT_POINTS", "SURFACE_QUERY_PREFIX", "SurfaceCancelled", "SurfaceSettings", "race_surface",
           "surface_csv", "surface_json", "surface_work"]  # fmt: skip

SURFACE_QUERY_PREFIX = "surf."  # the page's URL parameters for the surface: surf.plane=random&surf.n=41 …
CUT_POINTS = 41  # points of a 1-D cut over [0, 1] (a quarter more continue past each end)
CUT_EXTEND = 0.25


class SurfaceCancelled(Exception):
    """Raised inside :func:`race_surface` when its ``stop`` says so."""


@dataclass(frozen=True)
class SurfaceSettings:
    """What surface to draw.  Every field has a default a link may leave out."""

    plane: str = "pca"  # "pca": the paths' first two principal directions; "random": filter-normalised (Li et al.)
    loss: str = "train"  # "train": the training windows' MSE; "val": the validation windows'
    n: int = 31  # grid points per side (n × n forward passes over the data)
    zoom: float = 1.0  # the window around the paths: 1 = the paths plus a quarter on each side; 2 = twice as wide
    seed: int = 0  # the random directions' seed (plane="random")
    pair: tuple[str, ...] = ()  # the two contestants whose end points the second cut joins; (): the first two
    precision: str = "fast"  # "fast": the grid in float32; "exact": in float64 (twice the time)

    PLANES = ("pca", "random")
    LOSSES = ("train", "val")
    PRECISIONS = ("fast", "exact")
    N_RANGE = (7, 61)
    ZOOM_RANGE = (0.25, 4.0)  # the page's slider

    def validate(self) -> SurfaceSettings:
        """Self, or ValueError saying what is wrong."""
        if self.plane not in self.PLANES:
            raise ValueError(f"plane must be one of {self.PLANES}, got {self.plane!r}")
        if self.loss not in self.LOSSES:
            raise ValueError(f"loss must be one of {self.LOSSES}, got {self.loss!r}")
        if self.precision not in self.PRECISIONS:
            raise ValueError(f"precision must be one of {self.PRECISIONS}, got {self.precision!r}")
        if isinstance(self.n, bool) or not isinstance(self.n, (int, np.integer)) or not (
                self.N_RANGE[0] <= self.n <= self.N_RANGE[1]):  # fmt: skip
            raise ValueError(f"n must be a whole number from {self.N_RANGE[0]} to {self.N_RANGE[1]}, got {self.n!r}")
        if not (isinstance(self.zoom, (int, float)) and math.isfinite(self.zoom)
                and self.ZOOM_RANGE[0] <= self.zoom <= self.ZOOM_RANGE[1]):  # fmt: skip
            raise ValueError(f"zoom must be from {self.ZOOM_RANGE[0]:g} to {self.ZOOM_RANGE[1]:g}, got {self.zoom!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or not 0 <= self.seed < 2**31:
            raise ValueError(f"seed must be a whole number from 0 to 2^31 - 1, got {self.seed!r}")
        if len(self.pair) not in (0, 2) or (len(self.pair) == 2 and self.pair[0] == self.pair[1]):
            raise ValueError(f"pair must name two different contestants (or none), got {self.pair!r}")
        return self

    def to_dict(self) -> dict:
        d = asdict(self)
        d["pair"] = list(self.pair)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SurfaceSettings:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in d.items() if k in known}
        if "pair" in values:
            values["pair"] = tuple(str(x) for x in values["pair"] or ())
        return cls(**values).validate()

    # ---- the URL -----------------------------------------------------------------------------------------

    def to_query(self) -> dict[str, str]:
        """The settings that differ from the defaults, as ``surf.<field>`` query parameters."""
        out, base = {}, SurfaceSettings()
        for f in fields(self):
            v = getattr(self, f.name)
            if v == getattr(base, f.name):
                continue
            out[SURFACE_QUERY_PREFIX + f.name] = ",".join(v) if f.name == "pair" else f"{v:g}" if isinstance(
                v, float) else str(v)  # fmt: skip
        return out

    @classmethod
    def from_query(cls, params: Mapping[str, Any]) -> tuple[SurfaceSettings, list[str]]:
        """Settings from query parameters (values: str or list of str; other parameters are ignored) and what
        was ignored and why.  Never raises: a bad value keeps its default and is reported."""
        s, notes = cls(), []
        for raw_name, raw in list(params.items())[:100]:
            name = str(raw_name)
            if not name.startswith(SURFACE_QUERY_PREFIX):
                continue
            field_name = name[len(SURFACE_QUERY_PREFIX):]
            text = str(raw[-1] if isinstance(raw, (list, tuple)) and raw else raw)[:200]
            try:
                if field_name in ("n", "seed"):
                    value: Any = int(text)
                elif field_name == "zoom":
                    value = float(text)
                elif field_name == "pair":
                    value = tuple(p.strip() for p in text.split(",") if p.strip())
                elif field_name in ("plane", "loss", "precision"):
                    value = text.strip().lower()
                else:
                    notes.append(f"{name} (unknown surface setting)")
                    continue
                s = replace(s, **{field_name: value}).validate()
            except (ValueError, TypeError) as exc:
                s = replace(s, **{field_name: getattr(cls(), field_name)})
                notes.append(f"{name}={text[:40]} ({exc})")
        return s, notes


# --------------------------------------------------------------------------------------------------------------
# the picture's numbers
# --------------------------------------------------------------------------------------------------------------


def _finite_paths(paths: Mapping) -> tuple[dict, dict, list[str]]:
    """name -> (epochs, params) with the non-finite points left out; and the notes saying so."""
    out, dropped, notes = {}, {}, []
    for name, P in paths["params"].items():
        P = np.asarray(P, dtype=np.float64).reshape(len(P), -1)
        e = np.asarray(paths["epochs"][name], dtype=np.float64)
        ok = np.isfinite(P).all(axis=1)
        if not ok.all():
            notes.append(f"{name}: {int((~ok).sum())} point(s) with NaN or inf weights left out (it diverged)")
            dropped[name] = int((~ok).sum())
        if ok.any():
            out[name] = (e[ok], P[ok])
    return out, dropped, notes


def surface_work(settings: SurfaceSettings, paths: Mapping) -> int:
    """Forward passes over the data the picture takes (the progress bar's total)."""
    k = sum(len(p) for p in paths["params"].values())
    cuts = len(paths["params"]) + (1 if len(paths["params"]) >= 2 else 0)
    m = CUT_POINTS + 2 * round(CUT_EXTEND * (CUT_POINTS - 1))
    return settings.n**2 + k + cuts * m


def race_surface(model_config: GRUConfig, windows: Mapping[str, tuple], paths: Mapping,
                 settings: SurfaceSettings | None = None, *, progress: Callable[[int, int], None] | None = None,
                 stop: Callable[[], bool] | None = None, workers: int | None = None) -> dict:  # fmt: skip
    """The numbers of one race's loss-surface picture.

    ``windows``: ``{"train": (X, y), "val": (X, y)}`` (scaled units, as the race trains on); ``paths``: the race's
    recorded paths (``HostedRace.trajectories()``); ``progress(done, total)``: forward passes so far; ``stop()``:
    True ends the work (:class:`SurfaceCancelled`).  Returns plain data:

    ``plane`` ("pca" | "random"), ``explained`` (PCA: each axis's share of the paths' squared distance from θ0),
    ``scales`` (random: Li et al.'s α = 1 on each axis), ``a``/``b`` (the grid's axes: distances in parameter
    space from θ0, same unit on both), ``L`` (n × n, rows follow b), ``paths`` (name → epochs, coords (k, 2),
    ``off_plane`` (k,): distance of each point from the plane, ``dist``: from θ0, ``loss``: the real loss there,
    ``status``), ``origin_loss``, ``cuts`` (``start`` name → t, L; ``ends``: the pair, t, L, ``barrier``: the
    highest loss between the two end points minus the higher end), ``notes``, ``seconds``.
    """
    settings = (settings or SurfaceSettings()).validate()
    t0 = time.perf_counter()
    if settings.loss not in windows or windows[settings.loss] is None or len(windows[settings.loss][0]) == 0:
        raise ValueError(f"this run has no {'validation' if settings.loss == 'val' else 'training'} windows: "
                         "draw the other loss")  # fmt: skip
    X, y = windows[settings.loss]
    origin = np.asarray(paths["origin"], dtype=np.float64)
    finite, _, notes = _finite_paths(paths)
    if not finite:
        raise ValueError("no contestant has a finite recorded point: nothing to draw")
    names = list(finite)
    template = GRURegressor.from_config(model_config)
    if template.num_params != origin.size:
        raise ValueError(f"the paths have {origin.size} parameters, the model {template.num_params}")
    if settings.plane == "pca":
        plane = pca_plane(origin, {k: v[1] for k, v in finite.items()})
    else:
        shapes = paths.get("shapes") or template.params.shapes
        plane = random_plane(origin, shapes, settings.seed)
    if plane.note:
        notes.append(plane.note)

    total = surface_work(settings, paths)
    done = [0]
    lock = threading.Lock()

    def tick(k: int) -> None:  # from the evaluator's threads
        with lock:
            done[0] += k
            now = min(done[0], total)
        if progress is not None and k:
            progress(now, total)
        if stop is not None and stop():
            raise SurfaceCancelled("stopped")

    exact = _Evaluator(template, X, y, np.float64)
    grid_ev = exact if settings.precision == "exact" else _Evaluator(template, X, y, np.float32)
    per = exact.B * exact.O

    def losses(flats_fn, count, ev=exact) -> np.ndarray:
        return ev.map(count, flats_fn, True, workers, tick) / per

    out_paths = {}
    for name, (epochs, P) in finite.items():
        coords = project(plane, P)
        L = losses(lambda lo, hi, P=P: P[lo:hi], len(P))
        out_paths[name] = {"epochs": epochs.tolist(), "coords": coords.tolist(),
                           "off_plane": residual_norms(plane, P).tolist(),
                           "dist": np.linalg.norm(P - origin, axis=1).tolist(), "loss": L.tolist(),
                           "status": str((paths.get("status") or {}).get(name, ""))}  # fmt: skip
    origin_loss = float(losses(lambda lo, hi: origin[None, :], 1)[0])

    amin, amax, bmin, bmax = default_extent({k: np.asarray(v["coords"]) for k, v in out_paths.items()})
    ca, cb, ha, hb = (amin + amax) / 2, (bmin + bmax) / 2, (amax - amin) / 2, (bmax - bmin) / 2
    z = float(settings.zoom)
    extent = (ca - z * ha, ca + z * ha, cb - z * hb, cb + z * hb)
    n = int(settings.n)
    a, b = np.linspace(extent[0], extent[1], n), np.linspace(extent[2], extent[3], n)
    A, Bv = np.tile(a, n), np.repeat(b, n)  # point i·n + j is (a[j], b[i])
    grid = losses(lambda lo, hi: plane.origin + A[lo:hi, None] * plane.d1 + Bv[lo:hi, None] * plane.d2, n * n,
                  grid_ev).reshape(n, n)  # fmt: skip

    k = int(round(CUT_EXTEND * (CUT_POINTS - 1)))
    t = np.arange(-k, CUT_POINTS + k) / (CUT_POINTS - 1)  # t = 0 and t = 1 exactly

    def cut(p0, p1) -> np.ndarray:
        return losses(lambda lo, hi: (1.0 - t[lo:hi, None]) * p0 + t[lo:hi, None] * p1, len(t))

    ends = {name: P[-1] for name, (_, P) in finite.items()}
    start_cuts = {name: {"t": t.tolist(), "L": cut(origin, end).tolist()} for name, end in ends.items()}
    pair = tuple(p for p in settings.pair if p in ends)
    if len(pair) != 2:
        if settings.pair:
            notes.append(f"the cut between {' and '.join(settings.pair)}: not both have an end point; the first two "
                         "are joined instead")  # fmt: skip
        pair = tuple(names[:2])
    end_cut = None
    if len(pair) == 2:
        Le = cut(ends[pair[0]], ends[pair[1]])
        inside = Le[(t >= 0) & (t <= 1)]
        end_cut = {"pair": list(pair), "t": t.tolist(), "L": Le.tolist(),
                   "barrier": float(np.max(inside) - max(Le[t == 0][0], Le[t == 1][0]))}  # fmt: skip
    if progress is not None:
        progress(total, total)
    return {
        "plane": plane.kind, "explained": plane.explained.tolist(), "scales": plane.scales.tolist(),
        "loss": settings.loss, "precision": settings.precision, "settings": settings.to_dict(),
        "a": a.tolist(), "b": b.tolist(), "L": grid.tolist(), "extent": list(extent),
        "paths": out_paths, "origin_loss": origin_loss,
        "cuts": {"start": start_cuts, "ends": end_cut},
        "notes": notes, "n_params": int(origin.size), "windows": int(len(X)),
        "seconds": time.perf_counter() - t0,
    }  # fmt: skip


# --------------------------------------------------------------------------------------------------------------
# exports
# --------------------------------------------------------------------------------------------------------------


def surface_csv(result: Mapping[str, Any]) -> str:
    """The grid as CSV, one row per point: ``a,b,loss`` (a, b: the plane's coordinates, distances in weight space
    from θ0; loss: the MSE in scaled units; empty where it overflowed)."""
    a, b, L = (np.asarray(result[k], dtype=np.float64) for k in ("a", "b", "L"))
    lines = [f"a,b,{result.get('loss', 'train')}_loss"]
    for i, bi in enumerate(b):
        for j, aj in enumerate(a):
            v = L[i, j]
            lines.append(f"{aj!r},{bi!r},{v!r}" if math.isfinite(v) else f"{aj!r},{bi!r},")
    return "\n".join(lines) + "\n"


def surface_json(result: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> str:
    """Everything of the picture as JSON (grid, paths, cuts, settings, notes) plus ``meta`` (the race's link,
    seed, …); NaN and inf written as null."""
    return json.dumps(to_jsonable({"meta": dict(meta or {}), **dict(result)}), indent=1, allow_nan=False)
