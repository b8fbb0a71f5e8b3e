"""The loss-surface charts (gru_ui.figures.surface): pure builders, checked on hand-made results whose numbers
are known (not produced by the code under test)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _presentation import check_every_builder

from gru_ui.figures import surface as FS


@pytest.fixture(autouse=True)
def _every_figure_presentable(monkeypatch):
    """Every figure these tests build must also pass presentation mode (tests/_presentation.py)."""
    check_every_builder(monkeypatch, FS)


def result(plane: str = "pca", status: str = "finished", barrier: float = 0.05) -> dict:
    a = np.linspace(-1, 3, 5)
    b = np.linspace(-2, 2, 5)
    L = np.full((5, 5), 0.1)
    L[0, 0] = 10.0
    L[4, 4] = 0.001
    L[2, 3] = np.inf  # overflowed
    t = np.arange(-2, 7) / 4  # -0.5 … 1.5, with 0 and 1
    return {
        "plane": plane, "explained": [0.8, 0.15] if plane == "pca" else [math.nan, math.nan],
        "scales": [math.nan, math.nan] if plane == "pca" else [12.5, 12.25], "loss": "train",
        "a": a.tolist(), "b": b.tolist(), "L": L.tolist(), "origin_loss": 0.5,
        "paths": {
            "Adam": {"epochs": [0, 1, 2], "coords": [[0, 0], [1, 0.5], [2, 1]], "loss": [0.5, 0.2, 0.1],
                     "off_plane": [0, 0.1, 0.2], "dist": [0, 1.2, 2.3], "status": "finished"},
            "RMSprop": {"epochs": [0, 1], "coords": [[0, 0], [-0.5, -1]], "loss": [0.5, 0.3],
                        "off_plane": [0, 0.05], "dist": [0, 1.1], "status": status},
        },
        "cuts": {"start": {"Adam": {"t": t.tolist(), "L": np.linspace(0.5, 0.1, 9).tolist()}},
                 "ends": {"pair": ["Adam", "RMSprop"], "t": t.tolist(), "L": [0.3, 0.2, 0.1, 0.2, 0.3, 0.2, 0.3,
                                                                            0.4, 0.5], "barrier": barrier}},
    }  # fmt: skip


def test_axes_say_the_explained_share_or_the_random_scale():
    assert FS.axis_titles(result()) == ("PC1: 80 % of the movement", "PC2: 15 %")
    x, y = FS.axis_titles(result("random"))
    assert x == "random direction 1 (α = 1 at 12.5)" and y == "random direction 2 (α = 1 at 12.2)"


def test_surface_is_log_coloured_labelled_in_loss_values_and_marks_start_and_ends():
    fig = FS.surface_chart(result(), {"Adam": "#0072B2", "RMSprop": "#D55E00"})
    contour = fig.data[0]
    z = np.asarray(contour.z, dtype=float)
    assert z[0, 0] == 1.0 and z[4, 4] == -3.0 and np.isnan(z[2, 3])  # log10 of the loss; overflow left blank
    assert list(contour.colorbar.tickvals) == [-3.0, -2.0, -1.0, 0.0, 1.0]
    assert list(contour.colorbar.ticktext) == ["0.001", "0.01", "0.1", "1", "10"]
    assert contour.colorbar.title.text == "training loss (MSE, scaled units)"
    names = [t.name for t in fig.data]
    assert names[1:] == ["Adam", "Adam end", "RMSprop", "RMSprop end", "start θ0 (shared)"]
    assert fig.data[1].line.color == "#0072B2" and list(fig.data[2].x) == [2]
    assert fig.data[2].marker.symbol == "diamond"
    assert fig.layout.xaxis.title.text.startswith("PC1") and list(fig.layout.xaxis.range) == [-1, 3]
    diverged = FS.surface_chart(result(status="diverged"))
    assert diverged.data[4].marker.symbol == "x"


def test_cuts_mark_their_ends_and_say_the_barrier():
    fig = FS.cut_start_chart(result())
    assert fig.data[0].name == "θ0 → Adam's end" and list(fig.data[1].x) == [0.0, 1.0]
    assert fig.layout.yaxis.type == "linear"  # 0.1 … 0.5: no log axis for less than a factor 20
    ends = FS.cut_ends_chart(result())
    assert "a barrier 0.05 above the higher end" in ends.layout.title.text
    assert list(ends.data[1].y) == [0.1] and list(ends.data[2].y) == [0.3]
    assert ends.layout.xaxis.title.text == "t (0 = Adam's end, 1 = RMSprop's end)"
    flat = FS.cut_ends_chart(result(barrier=-0.1))
    assert "no barrier" in flat.layout.title.text
    alone = result()
    alone["cuts"]["ends"] = None
    assert "nothing to join" in FS.cut_ends_chart(alone).layout.annotations[0].text
