"""GRU Optimizer Lab's user interface layer: figures, what every page shares, and one package per page family.

Layers, imports only downward::

    app.py, pages/*.py      the Streamlit entry point and pages (layout only)
    gru_ui/race/            the optimizer race page's family: settings <-> RunConfig, the race session,
                            results, model files, live figures, sidebar and main panels
    gru_ui/sweep_session.py the sweep and run-history pages' state and widgets
    gru_ui/shell.py         what every page shares: frame, display switches, charts, URL, run store
    gru_ui/figures/         Plotly figure builders (no Streamlit)
    gru_core/               the engine (no Streamlit, no Plotly)
"""
