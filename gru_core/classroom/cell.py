"""One GRU cell to play with: its weights from a handful of slider values, and one step of the textbook cell.

The "How a GRU works" page turns its sliders into :func:`cell_weights` (PyTorch's layout and names) and
shows what :func:`cell_step` (the engine's :func:`gru_core.model.reference.gru_cell`) makes of one input.
"""

from __future__ import annotations

import numpy as np

from gru_core.model.gru import GRURegressor
from gru_core.model.reference import gru_cell

__all__ = ["cell_step", "cell_weights"]


def cell_weights(
    hidden: int,
    w_ir: float,
    w_iz: float,
    w_in: float,
    b_r: float,
    b_z: float,
    b_n: float,
    scale: float,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """The weights of a one-input cell in PyTorch's layout and names (gate blocks r, z, n).

    Input weights and biases: the slider values, the same for every unit.  Recurrent weights: ``scale``
    times the ``gru.weight_hh_l0`` of ``GRURegressor(1, hidden, seed=seed)`` (PyTorch's initialisation).
    Hidden biases: zero (``b_ih`` carries the biases).
    """
    H = int(hidden)
    base = GRURegressor(1, H, seed=seed).params["gru.weight_hh_l0"]
    return {
        "gru.weight_ih_l0": np.repeat([w_ir, w_iz, w_in], H).astype(np.float64).reshape(3 * H, 1),
        "gru.weight_hh_l0": float(scale) * np.array(base, dtype=np.float64),
        "gru.bias_ih_l0": np.repeat([b_r, b_z, b_n], H).astype(np.float64),
        "gru.bias_hh_l0": np.zeros(3 * H),
    }


def cell_step(x: float, h_prev, weights: dict[str, np.ndarray], variant: str = "pytorch") -> dict[str, np.ndarray]:
    """One step of the engine's textbook cell: {"r", "z", "n", "h"}, each (H,)."""
    h0 = np.asarray(h_prev, dtype=np.float64).reshape(1, -1)
    r, z, n, h = gru_cell(
        np.array([[float(x)]]),
        h0,
        weights["gru.weight_ih_l0"],
        weights["gru.weight_hh_l0"],
        weights["gru.bias_ih_l0"],
        weights["gru.bias_hh_l0"],
        variant,
    )
    return {"r": r[0], "z": z[0], "n": n[0], "h": h[0]}
