"""GRU Optimizer Lab's user interface layer: figures, what every page shares, and one package per page family.

Layers, imports only downward::

    app.py, pages/*.py      the Streamlit entry point and pages (layout only: settings → engine → figures)
    gru_ui/race/            the optimizer race page: settings <-> RunConfig, the race session, results,
                            model files, live figures, sidebar and main panels
    gru_ui/sweep/           the sweep and run-history pages
    gru_ui/classroom/       the classroom pages (how a GRU works, gate inspector, vanishing gradients, lab)
    gru_ui/shell.py         what every page shares: frame, display switches, charts, URL, run store
    gru_ui/figures/         Plotly figure builders (no Streamlit)
    gru_core/               the engine (no Streamlit, no Plotly)
"""
