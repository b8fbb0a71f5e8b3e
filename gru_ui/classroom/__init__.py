"""Page support of the classroom pages: their widgets, session state and cached engine calls.

One module per page; the numbers come from ``gru_core.classroom``, the charts from
``gru_ui.figures.classroom``, and the page files in ``pages/`` only lay out settings → engine → figures.

* :mod:`~gru_ui.classroom.cell`: "How a GRU works": the cell's sliders, their weights, one step, its tables.
* :mod:`~gru_ui.classroom.inspector`: "Gate inspector": where the models come from (this session's race,
  uploaded files), the cached statistics, which units the line plot shows.
* :mod:`~gru_ui.classroom.lab`: "Optimizer lab": the contestants' widgets and the cached paths and contours.
* :mod:`~gru_ui.classroom.vanishing`: "Vanishing gradients": the page's limits, the cached race, its time.
"""
