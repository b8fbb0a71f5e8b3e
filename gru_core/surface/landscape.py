"""The loss landscape's mathematics (after Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets"):
trajectories, the plane they are drawn on, and the losses over that plane, for any GRU and any paths.

This module owns the numbers behind the picture, not the picture (no Streamlit, no Plotly):

* :class:`TrajectoryRecorder` keeps a bounded record of one optimizer's parameter vectors (every epoch, or
  every 2nd, 4th, … once ``max_points`` is reached: memory stays within ``max_points × n_params`` floats).
* :func:`pca_plane` is the plane through θ0 spanned by the first two principal directions of every
  recorded change θ_t − θ0 of every optimizer together; :func:`random_plane` is Li et al.'s alternative,
  two filter-normalised Gaussian directions (:func:`filter_normalize`), orthonormalised.
* :func:`project` / :func:`in_plane` map parameter vectors to plane coordinates (a, b) and back;
  :func:`default_extent` picks the window to draw.
* :func:`loss_grid` (the surface on an n × n grid), :func:`line_losses` (1-D cuts: θ0 → an end point, or
  one end point → another, where a bump between two minima shows a barrier), :func:`batch_losses` and
  :func:`batched_predict` evaluate the model at many parameter vectors at once.

The loss is the race's: mean squared error over all windows and outputs in scaled units (``torch.nn.MSELoss``,
:meth:`GRURegressor.loss_and_grads`), in evaluation mode (no dropout).  Pass the training windows for the
training surface, the validation windows for the validation surface.

**How the many forward passes are made fast.**  Setting the model's weights to each of the 961 points of a
31 × 31 grid and calling its forward pass takes 7.5-10 s on the race page's default run (784 windows, T = 20,
H = 32, on this project's 2-core AMD EPYC while a test run kept one core busy): 120 epochs of the race.
Here a forward pass written for this purpose runs blocks of (parameter set, window) columns:

* P parameter sets stacked as (P, 3H, H+D+1) weights against (P, H+D+1, Bc) states ``[h_t; x_t; 1]``, so one
  batched product per step gives the reset and update gates' whole pre-activations (input and both biases
  included) and the candidate's recurrent part.  Small data sets put several parameter sets in a block, large
  ones are split into window chunks, about :data:`BLOCK_COLUMNS` columns a block, so that one step's arrays
  stay in the core's L2 cache (196 columns was fastest of 64-784 here).
* Gates from ``tanh`` alone: σ(x) = (1 + tanh(x/2))/2, the halves folded into the weights.  NumPy's float64
  tanh costs 1.7 ns an element here, against 3.0 ns for exp plus the add and divide the exp form needs.
* Blocks spread over ``workers`` threads (NumPy releases the GIL in its loops and products).

Nothing is approximated: every window is used, and the results equal the model's own forward pass to rounding
(tested at rtol 1e-12 in float64).  Measured with ``bench/bench_surface.py`` (default run, test run going on):
the 31 × 31 grid in float64 takes 5.5 s on one thread and 3.5-4.6 s on two (one race epoch: 0.06 s);
``dtype=np.float32`` takes 2.0 s and agrees with float64 to 3.5e-5 relative at most, invisible in a contour
plot (the page can choose it on a busy server).

What bounds the time: per grid point, window and step, a 3H × (H+D+1) product (2·3H(H+2) FLOPs at D = 1) and
3H tanh.  On the default grid that is 98 GFLOP (1.9 s at the 53 GFLOP/s one core's BLAS reaches on these
shapes) and 1.45·10⁹ tanh (2.4 s): a floor of 4.3 s of one core in float64; the measured 5.5 s adds eight
cheap passes a step over (H, columns) arrays and the Python loop.  Memory per worker: one block's states
((T+1)(H+D+1) × columns per layer), the candidate's input part (T·H × columns) and a step's scratch, about
2.4 MB at the default sizes, plus P parameter vectors; a grid's points are generated block by block.

Directions are unit vectors and orthogonal to each other, so a plane coordinate is a Euclidean distance in
parameter space, the same unit for PCA and random planes.  For a random plane, a coordinate of ‖θ0‖ is
Li et al.'s α = 1 (see :func:`random_plane`).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from gru_core.model.gru import GRURegressor, check_inputs

__all__ = [
    "BLOCK_COLUMNS", "Plane", "TrajectoryRecorder", "batch_losses", "batched_predict", "default_extent",
    "filter_normalize", "in_plane", "line_losses", "loss_grid", "pca_plane", "project", "random_plane",
    "residual_norms",
]  # fmt: skip

BLOCK_COLUMNS = 200  # (parameter set, window) columns a block (784 windows: 4 chunks of 196); see the docstring
_BLOCK_WEIGHTS = 1 << 22  # at most this many parameter values in one block (tiny data sets, large H)


# --------------------------------------------------------------------------------------------------
# trajectories
# --------------------------------------------------------------------------------------------------


class TrajectoryRecorder:
    """A bounded record of one optimizer's parameter vectors.

    :meth:`record` keeps a copy of every call until ``max_points`` are stored; then every other stored point
    is dropped (the first one stays) and only every 2nd later call is kept, then every 4th, and so on.  The
    most recent call is always kept as well (the end of the path), in a slot that the next call reuses if
    it is not one of the kept ones.  So at most ``max_points`` vectors are ever held, however long the run,
    the first point (θ0) and the latest are always there, and the others are evenly spaced in calls.

    Thread-safe: a training thread may record while another thread reads :meth:`points`.
    """

    def __init__(self, max_points: int = 200):
        if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 2:
            raise ValueError(f"max_points must be an integer >= 2 (the first and the latest point), got {max_points!r}")
        self.max_points = int(max_points)
        self.stride = 1  # calls between kept points
        self.calls = 0  # record() calls so far
        self.n_params: int | None = None
        self._calls: list[int] = []  # the call number of each stored point
        self._epochs: list[float] = []
        self._params: list[np.ndarray] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._calls)

    @property
    def nbytes(self) -> int:
        """Bytes held by the stored parameter vectors."""
        return sum(p.nbytes for p in self._params)

    def _pop(self, j: int) -> np.ndarray:
        self._calls.pop(j)
        self._epochs.pop(j)
        return self._params.pop(j)

    def record(self, epoch: float, flat: np.ndarray) -> None:
        """Remember ``flat`` (copied) at ``epoch`` (any number: epochs, fractional epochs, steps)."""
        flat = np.asarray(flat)
        if flat.ndim != 1 or flat.size == 0:
            raise ValueError(f"flat must be a non-empty 1-D parameter vector, got shape {flat.shape}")
        epoch = float(epoch)
        with self._lock:
            if self.n_params is None:
                self.n_params = flat.size
            elif flat.size != self.n_params:
                raise ValueError(f"flat has {flat.size} values, earlier points had {self.n_params}")
            i = self.calls
            self.calls += 1
            spare = None
            if self._calls and self._calls[-1] % self.stride != 0:  # kept only for being the latest: give way
                spare = self._pop(len(self._calls) - 1)
            while len(self._calls) + 1 > self.max_points:  # no room: keep every 2nd (the first stays)
                self.stride *= 2
                for j in range(len(self._calls) - 1, -1, -1):
                    if self._calls[j] % self.stride != 0:
                        dropped = self._pop(j)
                        spare = dropped if spare is None else spare
            if spare is None or spare.dtype != flat.dtype:
                spare = np.empty(flat.size, dtype=flat.dtype)
            np.copyto(spare, flat)
            self._calls.append(i)
            self._epochs.append(epoch)
            self._params.append(spare)

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """``(epochs (k,), params (k, n))``: copies, in recording order."""
        with self._lock:
            if not self._params:
                return np.zeros(0), np.zeros((0, self.n_params or 0))
            return np.asarray(self._epochs, dtype=np.float64), np.stack(self._params)


# --------------------------------------------------------------------------------------------------
# planes
# --------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Plane:
    """The plane ``origin + a·d1 + b·d2``; ``d1``, ``d2`` are unit vectors, orthogonal to each other.

    ``explained``: for ``kind="pca"`` the share of the recorded changes' sum of squares (or variance, with
    ``center=True``) along d1 and d2; NaN for ``kind="random"``.  ``scales``: for ``kind="random"`` the norms of
    the two filter-normalised directions before they were made unit vectors (≈ ‖θ0‖: a coordinate a = scales[0]
    is Li et al.'s α = 1); NaN for PCA.  ``note``: empty, or what was done in a degenerate case.
    """

    origin: np.ndarray
    d1: np.ndarray
    d2: np.ndarray
    explained: np.ndarray = field(default_factory=lambda: np.full(2, np.nan))
    kind: str = "pca"
    note: str = ""
    scales: np.ndarray = field(default_factory=lambda: np.full(2, np.nan))

    @property
    def basis(self) -> np.ndarray:
        """``[d1, d2]`` as the columns of an (n, 2) array."""
        return np.stack([self.d1, self.d2], axis=1)


def _vector(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D parameter vector, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf")
    return x


def _points(points, n: int, name: str = "points") -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    if p.ndim == 1:
        p = p[None, :]
    if p.ndim != 2 or p.shape[1] != n:
        raise ValueError(f"{name} must have shape (k, {n}), got {np.shape(points)}")
    return p


def _orthonormal_to(v: np.ndarray, d1: np.ndarray) -> np.ndarray:
    """``v`` minus its component along the unit vector ``d1``, made a unit vector (Gram–Schmidt, done twice)."""
    for _ in range(2):
        v = v - (v @ d1) * d1
    norm = float(np.linalg.norm(v))
    if not norm > 0:
        raise ValueError("the two directions are parallel")
    return v / norm


def pca_plane(origin, trajectories: Mapping[str, np.ndarray], *, center: bool = False, seed: int = 0) -> Plane:
    """The plane through ``origin`` (θ0) spanned by the first two principal directions of the changes.

    ``trajectories``: name → (k_i, n) parameter vectors (e.g. :meth:`TrajectoryRecorder.points`' second value).
    Every row of every trajectory contributes its change θ_t − θ0.  The directions are the top two right
    singular vectors of that (Σk_i, n) matrix of changes *about θ0* (not about their mean): the plane through
    θ0 that the changes leave by the least sum of squares, which is what the paths drawn from θ0 need.
    ``explained`` is then each direction's share of Σ‖θ_t − θ0‖².  ``center=True`` subtracts the changes'
    mean first (textbook PCA, ``explained`` = variance ratios); the plane still passes through θ0.

    Signs: each direction is oriented so that the end points' mean coordinate on it is ≥ 0.  Rows with NaN
    or inf (a diverged run) are left out, and the note says so.  Degenerate cases, said in ``note``: no change
    at all gives two random orthonormal directions (seeded by ``seed``) and ``explained`` = (0, 0); changes
    along one line only (second singular value below 10⁻⁵ of the first: less than 10⁻¹⁰ of the sum of squares,
    nothing to draw, and below what the Gram matrix resolves reliably) give d2 random, orthogonal to d1.

    Computed from the (Σk_i)² Gram matrix of the changes (an n × n one when there are more points than
    parameters), then refined by a Rayleigh–Ritz step on the top two directions: O(n (Σk_i)²) time.
    """
    origin = _vector(origin, "origin")
    n = origin.size
    rows = [_points(t, n, f"trajectory {name!r}") for name, t in trajectories.items()]
    M = np.concatenate(rows) - origin if rows else np.zeros((0, n))
    ends = np.array([r[-1] for r in rows if len(r)]).reshape(-1, n) - origin
    notes = []
    finite = np.isfinite(M).all(axis=1)
    if not finite.all():
        notes.append(f"{int((~finite).sum())} point(s) with NaN or inf left out")
        M = M[finite]
        ends = ends[np.isfinite(ends).all(axis=1)]
    if center and len(M):
        M = M - M.mean(axis=0)
    total = float(np.einsum("ij,ij->", M, M))
    rng = np.random.default_rng(seed)
    if not total > 0:
        d1 = _orthonormal_to(rng.standard_normal(n), np.zeros(n))
        d2 = _orthonormal_to(rng.standard_normal(n), d1)
        notes.append(f"no recorded point differs from the origin: both directions are random (seed {seed})")
        return Plane(origin, d1, d2, np.zeros(2), "pca", "; ".join(notes))
    V = _top_two_directions(M)
    s = np.linalg.norm(M @ V, axis=0)  # singular values along the refined directions
    d1 = V[:, 0]
    if s[1] <= 1e-5 * s[0]:
        d2 = _orthonormal_to(rng.standard_normal(n), d1)
        notes.append(f"the changes lie on one line (second singular value {s[1]:.3g} against {s[0]:.3g}): "
                     f"d2 is a random direction orthogonal to d1 (seed {seed})")  # fmt: skip
    else:
        d2 = V[:, 1]
    explained = np.array([s[0] ** 2, (M @ d2) @ (M @ d2)]) / total
    if len(ends):
        if (ends @ d1).mean() < 0:
            d1 = -d1
        if (ends @ d2).mean() < 0:
            d2 = -d2
    return Plane(origin, d1, d2, explained, "pca", "; ".join(notes))


def _top_two_directions(M: np.ndarray) -> np.ndarray:
    """The top two right singular vectors of M (k, n) as the columns of an (n, 2) array."""
    k, n = M.shape
    if k <= n:
        _, U = np.linalg.eigh(M @ M.T)  # ascending
        U = U[:, ::-1][:, :2] if k >= 2 else np.concatenate([U, np.zeros((k, 1))], axis=1)
        V = M.T @ U  # (n, 2): the directions, unnormalised
        if not np.linalg.norm(V[:, 1]) > 0:  # one point only, or exactly collinear: any second column will do
            V[:, 1] = np.random.default_rng(0).standard_normal(n)
    else:
        _, V = np.linalg.eigh(M.T @ M)
        V = V[:, ::-1][:, :2].copy()
    # Rayleigh–Ritz: an orthonormal basis of span(V), then the exact SVD of M restricted to it
    Q, _ = np.linalg.qr(V)
    _, _, Wt = np.linalg.svd(M @ Q)  # Wt (2, 2)
    V = Q @ Wt.T
    V[:, 1] = _orthonormal_to(V[:, 1], V[:, 0] / np.linalg.norm(V[:, 0]))
    V[:, 0] /= np.linalg.norm(V[:, 0])
    return V


def _layout(shapes: Mapping[str, tuple], n: int) -> list[tuple[str, int, int, tuple]]:
    out, off = [], 0
    for name, shape in shapes.items():
        size = math.prod(shape)
        out.append((name, off, off + size, tuple(shape)))
        off += size
    if off != n:
        raise ValueError(f"shapes hold {off} values but the parameter vector has {n}")
    return out


def filter_normalize(direction, origin, shapes: Mapping[str, tuple]) -> np.ndarray:
    """Li et al.'s filter normalisation: a copy of ``direction`` in which every "filter" has the norm of the
    same filter of ``origin``.  Here a filter is a row of a weight matrix (one unit's incoming weights: a row
    of ``weight_ih``, ``weight_hh`` or ``head.weight``) and a bias vector as a whole.  ``shapes``: name → shape
    in the order of the flat vector (``model.params.shapes``).  A filter of ``origin`` that is zero (Keras's
    zero biases) gives a zero filter; a zero filter of ``direction`` stays zero.
    """
    direction = _vector(direction, "direction")
    origin = _vector(origin, "origin")
    if direction.shape != origin.shape:
        raise ValueError(f"direction has {direction.size} values, origin {origin.size}")
    out = direction.copy()
    for _, start, stop, shape in _layout(shapes, origin.size):
        rows = shape[0] if len(shape) >= 2 else 1
        d = out[start:stop].reshape(rows, -1)
        o = origin[start:stop].reshape(rows, -1)
        dn = np.linalg.norm(d, axis=1, keepdims=True)
        on = np.linalg.norm(o, axis=1, keepdims=True)
        d *= np.divide(on, dn, out=np.zeros_like(dn), where=dn > 0)
    return out


def random_plane(origin, shapes: Mapping[str, tuple], seed: int) -> Plane:
    """Li et al.'s random plane (Section 4): two Gaussian directions, each filter-normalised to θ0
    (:func:`filter_normalize`), then made orthonormal so that (a, b) are well-defined coordinates: d1 = u/‖u‖,
    d2 = the part of v orthogonal to d1, made a unit vector (Gram–Schmidt).  In n dimensions two Gaussian
    directions are nearly orthogonal already (cos ≈ 1/√n), so this changes v's filter norms by a factor
    1 ± O(1/√n) only.  ``scales`` = (‖u‖, ‖v‖) (both ‖θ0‖ when no filter of θ0 is zero): Li et al. plot
    θ0 + α u + β v, which is a = α‖u‖ here.
    """
    origin = _vector(origin, "origin")
    rng = np.random.default_rng(seed)
    u = filter_normalize(rng.standard_normal(origin.size), origin, shapes)
    v = filter_normalize(rng.standard_normal(origin.size), origin, shapes)
    nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    if not nu > 0:
        raise ValueError("every filter of the origin is zero: filter-normalised directions are zero")
    d1 = u / nu
    d2 = _orthonormal_to(v, d1)
    note = (f"filter-normalised Gaussian directions (seed {seed}), orthonormalised by Gram–Schmidt; "
            f"a = {nu:.4g} is Li et al.'s α = 1")  # fmt: skip
    return Plane(origin, d1, d2, np.full(2, np.nan), "random", note, np.array([nu, nv]))


def project(plane: Plane, points) -> np.ndarray:
    """Coordinates (k, 2) of ``points`` (k, n): points ≈ origin + a·d1 + b·d2 + a residual orthogonal to the
    plane (the orthogonal projection, since d1 and d2 are orthonormal)."""
    p = _points(points, plane.origin.size)
    return (p - plane.origin) @ plane.basis


def in_plane(plane: Plane, coords) -> np.ndarray:
    """Parameter vectors (k, n) at plane coordinates ``coords`` (k, 2)."""
    c = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
    return plane.origin + c @ plane.basis.T


def residual_norms(plane: Plane, points) -> np.ndarray:
    """How far each point lies off the plane (k,): ‖p − in_plane(project(p))‖.  On a random plane the paths
    lie almost entirely off it (Li et al. Section 7); compare with ‖p − origin‖."""
    p = _points(points, plane.origin.size)
    return np.linalg.norm(p - in_plane(plane, project(plane, p)), axis=1)


def default_extent(coords_of_all_paths, margin: float = 0.25, min_ratio: float = 0.2) -> tuple[float, ...]:
    """``(amin, amax, bmin, bmax)`` around every path's coordinates and the origin, widened by ``margin`` × the
    range on each side.  ``coords_of_all_paths``: one (k, 2) array, or a list or dict of them; NaN rows are
    ignored.  A path nearly along one axis would give a sliver, so the shorter range is first widened (about
    its centre) to ``min_ratio`` × the longer one.  Nothing but the origin: (−1, 1, −1, 1).
    """
    if isinstance(coords_of_all_paths, Mapping):
        parts = list(coords_of_all_paths.values())
    elif isinstance(coords_of_all_paths, np.ndarray):
        parts = [coords_of_all_paths]
    else:
        parts = list(coords_of_all_paths)
    pts = np.concatenate([np.zeros((1, 2))] + [np.asarray(c, dtype=np.float64).reshape(-1, 2) for c in parts])
    pts = pts[np.isfinite(pts).all(axis=1)]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = hi - lo
    if not span.max() > 0:
        return (-1.0, 1.0, -1.0, 1.0)
    centre = (lo + hi) / 2
    span = np.maximum(span, min_ratio * span.max())
    lo, hi = centre - span * (0.5 + margin), centre + span * (0.5 + margin)
    return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))


# --------------------------------------------------------------------------------------------------
# many forward passes at once
# --------------------------------------------------------------------------------------------------


class _Workspace:
    """One block's buffers (P parameter sets × Bc windows) and per-step views, built once per thread.

    Layer k keeps its states for every step as rows ``[h_t; u_t; 1]`` of ``S[k]`` (T+1, P, H+D_k+1, Bc), u_t
    being the layer's input at step t (the series, or the layer below's h_{t+1}), so one product per step gives
    the reset and update gates' whole pre-activations, input and biases included.
    """

    def __init__(self, ev: _Evaluator, P: int, Bc: int):
        T, H, dt = ev.T, ev.H, ev.dtype
        self.S = []
        for k in range(ev.L):
            S = np.empty((T + 1, P, H + (ev.D if k == 0 else H) + 1, Bc), dt)
            S[:, :, -1, :] = 1.0
            self.S.append((S, list(S), [x[:, :H] for x in S]))
        self.gin = np.empty((T, P, H, Bc), dt)  # the candidate's input part of every step   # (T, P, H, Bc)
        self.gh = np.empty((P, 3 * H, Bc), dt)  # one step's product                         # (P, 3H, Bc)
        self.a = np.empty((P, H, Bc), dt)  # the candidate
        self.m = np.empty((P, H, Bc), dt) if ev.variant == "classic" else None
        self.gh_rz, self.t_r, self.t_z, self.gh_n = self.gh[:, : 2 * H], self.gh[:, :H], self.gh[:, H : 2 * H], \
            self.gh[:, 2 * H :]  # fmt: skip


class _Evaluator:
    """The model's forward pass for many parameter vectors at once (see the module docstring)."""

    def __init__(self, model: GRURegressor, X, y=None, dtype=None):
        if not isinstance(model, GRURegressor):
            raise TypeError(f"model must be a GRURegressor, got {type(model).__name__}")
        self.dtype = np.dtype(model.dtype if dtype is None else dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
        X, y = check_inputs(X, y, model.input_size, model.output_size, np.float64)
        self.B, self.T, self.D = X.shape
        self.H, self.O, self.L, self.variant = model.hidden_size, model.output_size, model.num_layers, model.variant
        self.layout = {name: (s, e, shape) for name, s, e, shape in _layout(model.params.shapes, model.num_params)}
        self.n = model.num_params
        cols = max(1, BLOCK_COLUMNS)
        if self.B >= cols:  # one parameter set per block, the windows in chunks
            self.P = 1
            bounds = np.linspace(0, self.B, -(-self.B // cols) + 1).round().astype(int)
        else:  # all windows, several parameter sets per block (their weights within _BLOCK_WEIGHTS floats)
            self.P = max(1, min(cols // self.B, _BLOCK_WEIGHTS // self.n))
            bounds = np.array([0, self.B])
        self.chunks = []  # (X (T, 1, D, Bc), y (O, Bc) or None)
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            xc = np.ascontiguousarray(X[lo:hi].transpose(1, 2, 0)[:, None], dtype=self.dtype)  # (T, 1, D, Bc)
            yc = None if y is None else np.ascontiguousarray(y[lo:hi].T, dtype=self.dtype)
            self.chunks.append((xc, yc))
        self._local = threading.local()

    def _workspace(self, P: int, Bc: int) -> _Workspace:
        cache = getattr(self._local, "ws", None)
        if cache is None:
            cache = self._local.ws = {}
        ws = cache.get((P, Bc))
        if ws is None:
            ws = cache[(P, Bc)] = _Workspace(self, P, Bc)
        return ws

    def _weights(self, flats: np.ndarray) -> tuple[list, np.ndarray, np.ndarray]:
        """For P parameter vectors (P, n): per layer the step product's weights, the candidate's input weights
        (and for "classic" its recurrent ones), scaled for the tanh-only gates; and the head."""
        P, H, dt = len(flats), self.H, self.dtype

        def get(name):
            s, e, shape = self.layout[name]
            return flats[:, s:e].reshape(P, *shape)

        layers = []
        H2 = 2 * H
        for k in range(self.L):
            W_ih, W_hh = get(f"gru.weight_ih_l{k}"), get(f"gru.weight_hh_l{k}")
            b_ih, b_hh = get(f"gru.bias_ih_l{k}"), get(f"gru.bias_hh_l{k}")
            Din = W_ih.shape[2]
            # against [h; u; 1]: σ(x) = (1 + tanh(x/2)) / 2, so the r and z rows are halved, and so are the n rows
            # because r ⊙ (W_hn h + b_hn) = (1 + t_r) ⊙ ½(W_hn h + b_hn)
            rows = 3 * H if self.variant == "pytorch" else H2
            Wm = np.zeros((P, rows, H + Din + 1), dt)
            Wm[:, :, :H] = W_hh[:, :rows]
            Wm[:, :H2, H:-1] = W_ih[:, :H2]
            Wm[:, :H2, -1] = b_ih[:, :H2] + b_hh[:, :H2]
            Win = np.empty((P, H, Din + 1), dt)  # the candidate's input part, against [u; 1]
            Win[:, :, :Din] = W_ih[:, H2:]
            Win[:, :, Din] = b_ih[:, H2:]
            Wn = None
            if self.variant == "pytorch":
                Wm[:, H2:, -1] = b_hh[:, H2:]  # b_hn is multiplied by r
            else:
                Win[:, :, Din] += b_hh[:, H2:]  # classic: every hidden bias is additive
                Wn = np.ascontiguousarray(W_hh[:, H2:] * 0.5, dtype=dt)  # W_hn (r ⊙ h) = ½W_hn ((1 + t_r) ⊙ h)
            Wm *= 0.5
            layers.append((Wm, Win, Wn))
        Wo = np.ascontiguousarray(get("head.weight"), dtype=dt)  # (P, O, H)
        bo = np.ascontiguousarray(get("head.bias")[:, :, None], dtype=dt)  # (P, O, 1)
        return layers, Wo, bo

    def _forward(self, ws: _Workspace, layers, Wo, bo, xc) -> np.ndarray:
        """y_hat (P, O, Bc) for one block; ``xc`` (T, 1, D, Bc) is the block's windows."""
        T, H = self.T, self.H
        add, mul, sub, tanh, matmul = np.add, np.multiply, np.subtract, np.tanh, np.matmul
        a, m, gh, gh_rz, t_r, t_z, gh_n, gin = ws.a, ws.m, ws.gh, ws.gh_rz, ws.t_r, ws.t_z, ws.gh_n, ws.gin
        for k, (Wm, Win, Wn) in enumerate(layers):
            S, seq, hseq = ws.S[k]
            np.copyto(S[:T, :, H:-1], xc if k == 0 else ws.S[k - 1][0][1:, :, :H])  # u_t
            hseq[0].fill(0.0)
            matmul(Win, S[:T, :, H:], out=gin)  # W_in u_t + b_in for every step at once
            for t in range(T):
                if Wn is None:  # pytorch
                    matmul(Wm, seq[t], out=gh)  # ½ pre-activations of r, z; ½ (W_hn h + b_hn)
                    tanh(gh_rz, out=gh_rz)
                    gh_rz += 1.0  # 2r, 2z
                    mul(t_r, gh_n, out=a)  # r ⊙ (W_hn h + b_hn)
                    a += gin[t]
                else:  # classic
                    matmul(Wm, seq[t], out=gh_rz)
                    tanh(gh_rz, out=gh_rz)
                    gh_rz += 1.0
                    mul(t_r, hseq[t], out=a)  # 2 r ⊙ h
                    matmul(Wn, a, out=m)
                    add(m, gin[t], out=a)
                n = tanh(a, out=a)  # the candidate
                h = sub(hseq[t], n, out=hseq[t + 1])  # h_{t-1} − n
                h *= t_z
                h *= 0.5
                h += n  # h_t = n + z ⊙ (h_{t-1} − n)
        y_hat = matmul(Wo, ws.S[-1][2][T])
        y_hat += bo
        return y_hat

    def run(self, flats: np.ndarray, sse: bool) -> np.ndarray:
        """For P ≤ self.P parameter vectors: the sum of squared errors (P,) or the predictions (P, O, B)."""
        layers, Wo, bo = self._weights(flats)
        P = len(flats)
        out = np.zeros(P) if sse else np.empty((P, self.O, self.B), self.dtype)
        lo = 0
        with np.errstate(all="ignore"):
            for xc, yc in self.chunks:
                Bc = xc.shape[3]
                y_hat = self._forward(self._workspace(P, Bc), layers, Wo, bo, xc)
                if sse:
                    y_hat -= yc
                    out += np.einsum("pob,pob->p", y_hat, y_hat, dtype=np.float64)
                else:
                    out[:, :, lo : lo + Bc] = y_hat
                lo += Bc
        return out

    def map(self, count: int, make_flats: Callable[[int, int], np.ndarray], sse: bool, workers: int | None,
            progress: Callable[[int], None] | None = None):  # fmt: skip
        """Evaluate parameter vectors 0..count-1, made block by block by ``make_flats(lo, hi)`` (hi − lo, n).
        ``progress(k)`` is called after each block with the k vectors it evaluated (from the worker threads); an
        exception it raises (a stop) ends the evaluation."""
        starts = list(range(0, count, self.P))
        if workers is None:
            workers = min(os.cpu_count() or 1, 4)
        workers = max(1, min(int(workers), len(starts)))

        def task(lo: int) -> np.ndarray:
            hi = min(lo + self.P, count)
            if progress is not None:
                progress(0)  # a stop asked meanwhile ends the blocks still queued before they start
            out = self.run(np.asarray(make_flats(lo, hi), dtype=np.float64), sse)
            if progress is not None:
                progress(hi - lo)
            return out

        if workers == 1:
            parts = [task(lo) for lo in starts]
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="gru-surface") as pool:
                parts = list(pool.map(task, starts))
        if not parts:
            return np.zeros(0) if sse else np.zeros((0, self.O, self.B), self.dtype)
        return np.concatenate(parts)


def _flats_checked(flats, n: int) -> np.ndarray:
    flats = np.asarray(flats, dtype=np.float64)
    if flats.ndim == 1:
        flats = flats[None, :]
    if flats.ndim != 2 or flats.shape[1] != n:
        raise ValueError(f"flats must have shape (P, {n}), got {np.shape(flats)}")
    return flats


def batched_predict(model_template: GRURegressor, flats, X, *, dtype=None, workers: int | None = None) -> np.ndarray:
    """Predictions (P, B, O) of the model with each of the P parameter vectors ``flats`` (P, n) on X (B, T, D),
    evaluation mode.  ``model_template`` gives the architecture; its own weights are neither used nor changed.
    ``dtype``: the arithmetic (default the model's).  ``workers``: threads (default: the cores, at most 4)."""
    ev = _Evaluator(model_template, X, None, dtype)
    flats = _flats_checked(flats, ev.n)
    out = ev.map(len(flats), lambda lo, hi: flats[lo:hi], False, workers)
    return np.ascontiguousarray(out.transpose(0, 2, 1))


def batch_losses(model_template: GRURegressor, X, y, flats, *, dtype=None, workers: int | None = None) -> np.ndarray:
    """The MSE (P,) at each of the parameter vectors ``flats`` (P, n) (e.g. a recorded path)."""
    ev = _Evaluator(model_template, X, y, dtype)
    flats = _flats_checked(flats, ev.n)
    return ev.map(len(flats), lambda lo, hi: flats[lo:hi], True, workers) / (ev.B * ev.O)


def loss_grid(model_template: GRURegressor, X, y, plane: Plane, extent=(-1.0, 1.0, -1.0, 1.0), n: int = 31, *,
              dtype=None, workers: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """The MSE on an n × n grid of ``plane``: ``(a (n,), b (n,), L (n, n))`` with ``L[i, j]`` the loss at
    ``origin + a[j]·d1 + b[i]·d2`` (rows follow b, as a contour plot's z).  ``extent`` = (amin, amax, bmin, bmax)
    (:func:`default_extent`).  Where the weights make the loss overflow, L holds inf or NaN.

    ``dtype``: the arithmetic, default the model's (float64: equal to the model's own forward to rounding);
    ``np.float32`` is about twice as fast and agrees to a few 1e-5 relative.  ``workers``: threads (default: the
    cores, at most 4).  Time and memory: see the module docstring."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    amin, amax, bmin, bmax = (float(v) for v in extent)
    if not (np.isfinite([amin, amax, bmin, bmax]).all() and amin < amax and bmin < bmax):
        raise ValueError(f"extent must be finite (amin, amax, bmin, bmax), amin < amax, bmin < bmax; got {extent!r}")
    ev = _Evaluator(model_template, X, y, dtype)
    if plane.origin.size != ev.n:
        raise ValueError(f"the plane lives in {plane.origin.size} dimensions, the model has {ev.n} parameters")
    a, b = np.linspace(amin, amax, n), np.linspace(bmin, bmax, n)
    A, Bv = np.tile(a, n), np.repeat(b, n)  # point i·n + j is (a[j], b[i])

    def make(lo, hi):
        return plane.origin + A[lo:hi, None] * plane.d1 + Bv[lo:hi, None] * plane.d2

    L = ev.map(n * n, make, True, workers) / (ev.B * ev.O)
    return a, b, L.reshape(n, n)


def line_losses(model_template: GRURegressor, X, y, p0, p1, n: int = 41, extend: float = 0.25, *,
                dtype=None, workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The MSE along the line (1 − t)·p0 + t·p1: ``(t (m,), L (m,))``.

    ``n`` points cover [0, 1] (t = 0 and t = 1 exactly, so the ends are p0 and p1 bit for bit), and the same
    spacing continues ``round(extend·(n − 1))`` points past each end: m = n + 2·that (61 by default).
    θ0 → an end point shows the descent; end point → end point shows whether a barrier separates them.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if not (math.isfinite(extend) and extend >= 0):
        raise ValueError(f"extend must be a finite number >= 0, got {extend!r}")
    ev = _Evaluator(model_template, X, y, dtype)
    p0, p1 = _vector(p0, "p0"), _vector(p1, "p1")
    if p0.size != ev.n or p1.size != ev.n:
        raise ValueError(f"p0 and p1 must have the model's {ev.n} parameters, got {p0.size} and {p1.size}")
    k = int(round(extend * (n - 1)))
    t = np.arange(-k, n + k) / (n - 1)

    def make(lo, hi):
        tt = t[lo:hi, None]
        return (1.0 - tt) * p0 + tt * p1

    return t, ev.map(len(t), make, True, workers) / (ev.B * ev.O)
