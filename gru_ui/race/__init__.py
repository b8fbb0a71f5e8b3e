"""The optimizer race page's family (``pages/race.py``): settings, the race in the server's runner, results, files.

Modules, imports only downward (Streamlit only in the last three)::

    settings.py   the page's default run, its own limits, presets, widget keys <-> RunConfig, the URL
    upload.py     the series: a registry dataset or an uploaded CSV, within the page's limits
    session.py    checks before Train, the runner's RaceJob, the server's race registry, cap and watchdog, RaceHandle
    changes.py    learning rates changed mid-race: pending, merged, described, replayed by the link
    results.py    the results table, verdict, forecast data, CSV/JSON exports
    models.py     model files: download a trained contestant, upload one to continue training
    live.py       the live figures, rebuilt only when what they show changed (shared with the benchmark)
    live_text.py  the live race in words: its heading line, each optimizer's status as HTML, its stamp
    live_plot.py  live elements redrawn in place (a tiny st.components.v2 component), polling their addresses
    live_route.py the live elements' own addresses on the server (Starlette routes: the newest version by token)
    surface.py    the loss-surface section: its settings (in the URL), the runner's SurfaceJob, progress, charts
    sidebar.py    the settings widgets and the session's first run from the URL
    panels.py     the main sections: scenarios, preview, live views, forecasts and results, model files

A run is a :class:`gru_core.config.RunConfig` throughout; nothing here keeps a second list of settings.
"""
