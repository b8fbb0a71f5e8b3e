"""The race drawn on the GRU's own loss surface (after Li et al. 2018, "Visualizing the Loss Landscape of Neural
Nets"): where did each optimizer go from the shared start, along what path, and is there a hill between them?

* :mod:`~gru_core.surface.landscape`: the mathematics for any paths: the bounded :class:`TrajectoryRecorder`
  (a race keeps one per contestant), the PCA and filter-normalised random planes, projections, and the fast
  batched forward pass behind :func:`loss_grid`, :func:`line_losses` and :func:`batch_losses`.
* :mod:`~gru_core.surface.race`: one race's picture: :class:`SurfaceSettings` (what to draw, and its URL form)
  and :func:`race_surface` (plane, grid, projected paths with their real losses, the 1-D cuts).

The runner computes it off the web server (:mod:`gru_core.runner.surface`); the page draws it
(``gru_ui.race.surface``, ``gru_ui.figures.surface``).  No Streamlit, no Plotly.
"""

from gru_core.surface.landscape import (
    BLOCK_COLUMNS,
    Plane,
    TrajectoryRecorder,
    batch_losses,
    batched_predict,
    default_extent,
    filter_normalize,
    in_plane,
    line_losses,
    loss_grid,
    pca_plane,
    project,
    random_plane,
    residual_norms,
)
from gru_core.surface.race import (
    SURFACE_QUERY_PREFIX,
    SurfaceCancelled,
    SurfaceSettings,
    race_surface,
    surface_csv,
    surface_json,
    surface_work,
)

__all__ = [
    "BLOCK_COLUMNS", "SURFACE_QUERY_PREFIX", "Plane", "SurfaceCancelled", "SurfaceSettings", "TrajectoryRecorder",
    "batch_losses", "batched_predict", "default_extent", "filter_normalize", "in_plane", "line_losses", "loss_grid",
    "pca_plane", "project", "race_surface", "random_plane", "residual_norms", "surface_csv", "surface_json",
    "surface_work",
]  # fmt: skip
