"""The Sweep and Run history pages' own code, one module per concern (no Streamlit outside widgets.py).

* :mod:`~gru_ui.sweep.limits`: what one visitor may ask of the server (stated on the pages).
* :mod:`~gru_ui.sweep.data`: the series a sweep may run on: registry datasets and CSV uploads kept by the store.
* :mod:`~gru_ui.sweep.form`: the sweep form = a base :class:`~gru_core.config.RunConfig` + a grid of
  ``{setting name: text}``, its widget values, and the :class:`~gru_core.sweep.SweepSpec` it makes.
* :mod:`~gru_ui.sweep.estimate`: how many cells and how long, before anything runs.
* :mod:`~gru_ui.sweep.job`: :class:`~gru_ui.sweep.job.PageSweep`, the page's sweep on the engine's runner, and the
  page's limit of sweeps at once.
* :mod:`~gru_ui.sweep.results`: the tables, the verdict and the exports of a stored sweep.
* :mod:`~gru_ui.sweep.history`: the run history: filters, labels, dates, exports and deletes.
* :mod:`~gru_ui.sweep.widgets`: the Streamlit pieces ``pages/sweep.py`` and ``pages/history.py`` draw with.

Numbers come from the engine (``gru_core.sweep``, ``gru_core.stats``, ``gru_core.store``) and are formatted
by ``gru_core.fmt``; the run store's picker is ``gru_ui.shell``'s.
"""
