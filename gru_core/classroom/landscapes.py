"""A 2-D optimizer lab: classic test functions and the paths the real optimizers take on them.

A GRU has thousands of weights, so its loss surface cannot be drawn.  Two parameters can: each
:class:`Landscape` here is a function f(x, y) with its analytic gradient, a LaTeX formula, a default start,
a plot range and its known minima.  :func:`trajectory` runs an optimizer from :mod:`gru_core.optim` (the
very classes that train the GRU, not a re-implementation) on the parameter dict ``{"xy": array([x, y])}``
and records where it goes, and :func:`grid` samples f for a contour plot.

The functions and what each one shows:

* ``quadratic``  ½(x² + κy²), κ = 50: an ill-conditioned bowl.  SGD must keep lr < 2/κ or it diverges
  along y, and then crawls along x; momentum and the adaptive methods do better.  :func:`quadratic` builds
  other condition numbers and rotated versions (rotation defeats per-coordinate step sizes).
* ``rosenbrock`` (1 − x)² + 100(y − x²)²: a curved, flat-bottomed valley; minimum (1, 1).
* ``beale``      a flat plateau with steep ridges; minimum (3, ½).
* ``saddle``     x² − y² + y⁴/4: a saddle point at the origin, bounded below by the quartic term, with
  two minima (0, ±√2), f = −1.  Started just off the ridge (y = 10⁻³), plain gradient descent lingers
  near the saddle; sign-like methods (Adam, RMSprop) leave at once.
* ``himmelblau`` (x² + y − 11)² + (x + y² − 7)²: four equal minima (f = 0); which one an optimizer reaches
  depends on its path.

Contours: f spans many orders of magnitude on most of these, so :func:`grid` can return
``log10(f − f_min + LOG_OFFSET)`` (``log=True``; ``LOG_OFFSET = 1e-3``, so the minimum sits at −3 and the
colour scale is not spent on the first decimals); :attr:`Landscape.log_scale` says which one reads better.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gru_core.optim import make_optimizer

__all__ = ["DIVERGENCE_RADIUS", "LANDSCAPES", "LOG_OFFSET", "Landscape", "get_landscape", "grid", "log_values",
           "quadratic", "suggest_lr", "trajectory"]  # fmt: skip

LOG_OFFSET = 1e-3  # log-scale contours show log10(f − f_min + LOG_OFFSET)
DIVERGENCE_RADIUS = 1e6  # a trajectory farther than this from the origin has diverged


@dataclass(frozen=True)
class Landscape:
    """A test function of two variables, with everything a page needs to draw it.

    ``f(x, y)`` and ``df(x, y) -> (∂f/∂x, ∂f/∂y)`` work element-wise on arrays of any (equal) shape;
    :meth:`value` and :meth:`gradient` take points as arrays of shape (..., 2).
    """

    key: str
    name: str
    formula: str  # LaTeX, without $ delimiters
    f: Callable[[np.ndarray, np.ndarray], np.ndarray]
    df: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
    start: tuple[float, float]  # default starting point
    x_range: tuple[float, float]  # plot window
    y_range: tuple[float, float]
    minima: tuple[tuple[float, float], ...]  # every global minimum
    f_min: float  # the minimal value
    saddles: tuple[tuple[float, float], ...] = ()  # stationary points that are neither minima nor maxima
    log_scale: bool = True  # whether log10(f − f_min + LOG_OFFSET) contours read better than f
    description: str = ""

    def value(self, xy) -> np.ndarray | float:
        """f at points ``xy`` (..., 2); a float for a single point."""
        xy = np.asarray(xy, dtype=float)
        v = self.f(xy[..., 0], xy[..., 1])
        return float(v) if np.ndim(v) == 0 else v

    def gradient(self, xy) -> np.ndarray:
        """∇f at points ``xy`` (..., 2), same shape (a new array)."""
        xy = np.asarray(xy, dtype=float)
        gx, gy = self.df(xy[..., 0], xy[..., 1])
        return np.stack([gx, gy], axis=-1)


# --------------------------------------------------------------------------------------------------
# the functions
# --------------------------------------------------------------------------------------------------


def quadratic(condition: float = 50.0, angle: float = 0.0) -> Landscape:
    """½(u² + κ v²) with (u, v) = (x, y) rotated by ``angle`` degrees; κ = ``condition`` ≥ 1.

    The Hessian has eigenvalues 1 and κ, so plain gradient descent is stable only for lr < 2/κ.
    """
    kappa = float(condition)
    if not (math.isfinite(kappa) and kappa >= 1.0):
        raise ValueError(f"condition must be a finite number >= 1, got {condition!r}")
    theta = math.radians(float(angle))
    c, s = math.cos(theta), math.sin(theta)

    def f(x, y):
        u, v = c * x + s * y, -s * x + c * y  # coordinates along the Hessian's eigenvectors
        return 0.5 * (u * u + kappa * v * v)

    def df(x, y):
        u, v = c * x + s * y, -s * x + c * y
        return c * u - s * kappa * v, s * u + c * kappa * v  # chain rule back through the rotation

    k = f"{kappa:g}"
    if angle == 0:
        formula = rf"f(x, y) = \tfrac{{1}}{{2}}\left(x^2 + {k}\,y^2\right)"
        y_range = (-2.5, 2.5)
    else:
        formula = (rf"f = \tfrac{{1}}{{2}}\left(u^2 + {k}\,v^2\right),\quad u = x\cos\theta + y\sin\theta,\ "
                   rf"v = -x\sin\theta + y\cos\theta,\ \theta = {float(angle):g}^\circ")  # fmt: skip
        y_range = (-5.0, 5.0)
    return Landscape(
        key="quadratic",
        name=f"Ill-conditioned quadratic (κ = {k})" + (f", rotated {float(angle):g}°" if angle else ""),
        formula=formula,
        f=f,
        df=df,
        start=(-4.5, 1.5),
        x_range=(-5.0, 5.0),
        y_range=y_range,
        minima=((0.0, 0.0),),
        f_min=0.0,
        description=f"A narrow bowl: curvature 1 along one axis and {k} along the other. SGD is stable "
        f"only for lr < 2/{k}; below that it crawls along the flat direction.",
    )


def _rosenbrock(x, y):
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def _rosenbrock_grad(x, y):
    w = y - x * x  # the valley's floor is y = x²
    return -2.0 * (1.0 - x) - 400.0 * x * w, 200.0 * w


def _beale_terms(x, y):
    return 1.5 - x + x * y, 2.25 - x + x * y * y, 2.625 - x + x * y**3


def _beale(x, y):
    t1, t2, t3 = _beale_terms(x, y)
    return t1 * t1 + t2 * t2 + t3 * t3


def _beale_grad(x, y):
    t1, t2, t3 = _beale_terms(x, y)
    gx = 2.0 * (t1 * (y - 1.0) + t2 * (y * y - 1.0) + t3 * (y**3 - 1.0))
    gy = 2.0 * x * (t1 + 2.0 * t2 * y + 3.0 * t3 * y * y)
    return gx, gy


def _saddle(x, y):
    return x * x - y * y + 0.25 * y**4


def _saddle_grad(x, y):
    return 2.0 * x, -2.0 * y + y**3


def _himmelblau(x, y):
    return (x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2


def _himmelblau_grad(x, y):
    a, b = x * x + y - 11.0, x + y * y - 7.0
    return 4.0 * x * a + 2.0 * b, 2.0 * a + 4.0 * y * b


_SQRT2 = math.sqrt(2.0)

LANDSCAPES: dict[str, Landscape] = {
    "quadratic": quadratic(),
    "rosenbrock": Landscape(
        key="rosenbrock",
        name="Rosenbrock",
        formula=r"f(x, y) = (1 - x)^2 + 100\,(y - x^2)^2",
        f=_rosenbrock,
        df=_rosenbrock_grad,
        start=(-1.2, 1.0),
        x_range=(-2.0, 2.0),
        y_range=(-1.0, 3.0),
        minima=((1.0, 1.0),),
        f_min=0.0,
        description="A curved valley with a nearly flat floor: finding the valley is easy, following it "
        "to (1, 1) is not.",
    ),
    "beale": Landscape(
        key="beale",
        name="Beale",
        formula=r"f(x, y) = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2",
        f=_beale,
        df=_beale_grad,
        start=(1.0, 1.5),
        x_range=(-4.5, 4.5),
        y_range=(-4.5, 4.5),
        minima=((3.0, 0.5),),
        f_min=0.0,
        description="Flat plateaus and steep ridges (gradients from 1e-2 to 1e4): a test of step-size "
        "adaptation. Minimum (3, 0.5).",
    ),
    "saddle": Landscape(
        key="saddle",
        name="Saddle",
        formula=r"f(x, y) = x^2 - y^2 + \tfrac{1}{4}\,y^4",
        f=_saddle,
        df=_saddle_grad,
        start=(-1.8, 1e-3),
        x_range=(-2.0, 2.0),
        y_range=(-2.0, 2.0),
        minima=((0.0, _SQRT2), (0.0, -_SQRT2)),
        f_min=-1.0,
        saddles=((0.0, 0.0),),
        log_scale=False,
        description="A saddle point at the origin (up along x, down along y); the quartic term keeps f "
        "bounded below, with minima at (0, ±√2). Started just off the ridge, gradient descent lingers "
        "near the saddle before it rolls off.",
    ),
    "himmelblau": Landscape(
        key="himmelblau",
        name="Himmelblau",
        formula=r"f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2",
        f=_himmelblau,
        df=_himmelblau_grad,
        start=(0.0, 0.0),
        x_range=(-5.0, 5.0),
        y_range=(-5.0, 5.0),
        # (3, 2) is exact; the others are Newton's method's float64 fixed points
        minima=(
            (3.0, 2.0),
            (-2.805118086952745, 3.131312518250573),
            (-3.779310253377747, -3.2831859912861696),
            (3.5844283403304917, -1.8481265269644034),
        ),
        f_min=0.0,
        description="Four equally deep minima: which one an optimizer finds depends on its path.",
    ),
}


def get_landscape(landscape: Landscape | str) -> Landscape:
    """A :class:`Landscape` itself, or the registry entry of that key."""
    if isinstance(landscape, Landscape):
        return landscape
    if landscape not in LANDSCAPES:
        raise ValueError(f"Unknown landscape {landscape!r}; known: {', '.join(LANDSCAPES)}")
    return LANDSCAPES[landscape]


# --------------------------------------------------------------------------------------------------
# optimizer paths and contour grids
# --------------------------------------------------------------------------------------------------


def trajectory(
    landscape: Landscape | str,
    optimizer_name: str,
    flavor: str = "pytorch",
    start=None,
    steps: int = 200,
    **hyper,
) -> dict:
    """Run ``make_optimizer(optimizer_name, flavor, **hyper)`` for ``steps`` steps on ``landscape``.

    The parameters are the dict ``{"xy": array([x, y])}``, updated in place by ``opt.step`` with the
    analytic gradient, exactly as the GRU's weights are.  Returns a dict:

    * ``points`` (n + 1, 2): the start and the point after each of the n steps taken;
    * ``values`` (n + 1,): f there;
    * ``grads`` (n, 2): the gradient each step used (at ``points[i]``);
    * ``step_sizes`` (n, 2): ``opt.effective_step_size("xy")`` right after step i: the per-coordinate
      multiplier that step applied to its gradient-like quantity (SGD: lr, times the momentum buffer if any;
      Adagrad, RMSprop: times the gradient; Adam: times the first moment ``exp_avg``, so at step 1 it is
      lr / (1 − β₁) / (|g| + eps), and |Δ| = lr);
    * ``diverged_at``: None, or the number of the step (1-based) after which the point was NaN/inf, its f
      was not finite, or it lay farther than :data:`DIVERGENCE_RADIUS` from the origin.  The run stops
      there, so n = ``diverged_at`` and ``points[-1]`` is the offending point (drop it before plotting);
    * ``landscape``, ``optimizer``, ``flavor``, ``hyperparams`` (the optimizer's, defaults included).
    """
    land = get_landscape(landscape)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    opt = make_optimizer(optimizer_name, flavor=flavor, **hyper)
    xy = np.array(land.start if start is None else start, dtype=float)
    if xy.shape != (2,) or not np.isfinite(xy).all():
        raise ValueError(f"start must be two finite numbers (x, y), got {start!r}")
    params = {"xy": xy}  # the optimizer updates this array in place
    points = np.empty((steps + 1, 2))
    values = np.empty(steps + 1)
    grads = np.empty((steps, 2))
    step_sizes = np.empty((steps, 2))
    points[0], values[0] = xy, land.value(xy)
    n = steps
    diverged_at = None
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run may overflow: it is caught below
        for i in range(steps):
            g = land.gradient(xy)
            grads[i] = g
            opt.step(params, {"xy": g})
            step_sizes[i] = opt.effective_step_size("xy")
            points[i + 1], values[i + 1] = xy, land.value(xy)
            if not (np.isfinite(xy).all() and np.isfinite(values[i + 1]) and np.hypot(*xy) <= DIVERGENCE_RADIUS):
                n = diverged_at = i + 1
                break
    return {
        "points": points[: n + 1],
        "values": values[: n + 1],
        "grads": grads[:n],
        "step_sizes": step_sizes[:n],
        "diverged_at": diverged_at,
        "landscape": land.key,
        "optimizer": optimizer_name.lower(),
        "flavor": flavor,
        "hyperparams": opt.hyperparams(),
    }


SUGGEST_GRID = tuple(m * 10.0**e for e in range(-4, 1) for m in (1, 2, 5) if m * 10.0**e <= 1.0)


def suggest_lr(landscape: Landscape | str, optimizer_name: str, flavor: str = "pytorch", steps: int = 200,
               start=None, grid_lrs=SUGGEST_GRID, **hyper) -> float:  # fmt: skip
    """A learning rate that makes ``optimizer_name`` get somewhere on ``landscape`` in ``steps`` steps: of the
    1-2-5 grid from 1e-4 to 1, the one whose path ends lowest without diverging (the registry's defaults are
    tuned for the GRU and barely move on a 2-D test function).  Ties go to the smaller rate.  Deterministic, so
    every optimizer of the registry gets a sensible starting point on every landscape without a table."""
    best, best_value = float(grid_lrs[0]), math.inf
    for lr in grid_lrs:
        r = trajectory(landscape, optimizer_name, flavor=flavor, start=start, steps=steps, **{**hyper, "lr": lr})
        end = float(r["values"][-1])
        if r["diverged_at"] is None and math.isfinite(end) and end < best_value:
            best, best_value = float(lr), end
    return best


def log_values(landscape: Landscape | str, values) -> np.ndarray:
    """``log10(f − f_min + LOG_OFFSET)``: the log-scale transform :func:`grid` applies, for trajectories."""
    land = get_landscape(landscape)
    return np.log10(np.maximum(np.asarray(values, dtype=float) - land.f_min, 0.0) + LOG_OFFSET)


def grid(landscape: Landscape | str, n: int = 200, log: bool = False, x_range=None, y_range=None):
    """Sample f on an n × n grid over the plot window: ``(xs (n,), ys (n,), Z (n, n))``.

    ``Z[i, j] = f(xs[j], ys[i])`` (rows follow y: the layout of Plotly's ``go.Contour(x=xs, y=ys, z=Z)`` and
    Matplotlib's ``contour(xs, ys, Z)``).  ``log=True`` returns :func:`log_values` of f instead, i.e.
    ``log10(f − f_min + 1e-3)`` (≥ −3, −3 at the minima); the default window is the landscape's.
    """
    land = get_landscape(landscape)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    xs = np.linspace(*(land.x_range if x_range is None else x_range), n)
    ys = np.linspace(*(land.y_range if y_range is None else y_range), n)
    Z = land.f(xs[None, :], ys[:, None])
    return xs, ys, (log_values(land, Z) if log else Z)
