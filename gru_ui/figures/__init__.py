"""Pure Plotly figure builders, one module per page family: data in, ``go.Figure`` out, no Streamlit.

* :mod:`~gru_ui.figures.style`: colours (Okabe-Ito, by optimizer), axes, fonts, the base layout.
* :mod:`~gru_ui.figures.present`: presentation mode (projectors) for any figure.
* :mod:`~gru_ui.figures.race`: loss curves, gate heatmaps, forecasts, the series preview.
* :mod:`~gru_ui.figures.classroom`: the GRU cell, gate inspector, vanishing gradients, optimizer landscapes.
* :mod:`~gru_ui.figures.sweep`: sweep and run-history charts.

A new chart goes into its family's module and takes its look from ``style``.  This package re-exports the
shared style, presentation mode and the race charts, so ``from gru_ui import figures as F`` reads well.
"""

from gru_ui.figures.present import *  # noqa: F401,F403
from gru_ui.figures.present import __all__ as _present
from gru_ui.figures.race import *  # noqa: F401,F403
from gru_ui.figures.race import __all__ as _race
from gru_ui.figures.style import *  # noqa: F401,F403
from gru_ui.figures.style import __all__ as _style

__all__ = [*_style, *_present, *_race]
