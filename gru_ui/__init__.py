"""GRU Optimizer Lab's user interface layer: figures, Streamlit widgets, session state and URL config.

Layers, imports only downward::

    app.py, pages/*.py      the Streamlit entry point and pages
    gru_ui/widgets.py       Streamlit widgets shared by pages
    gru_ui/live_plot.py     a Plotly chart redrawn in place (a tiny st.components.v2 component)
    gru_ui/state.py         configuration, limits, URL query-parameter encoding (no Streamlit)
    gru_ui/runs.py          building a race from a configuration, uploads, exports (no Streamlit)
    gru_ui/figures.py       Plotly figure builders (no Streamlit)
    gru_core/               the engine (no Streamlit, no Plotly)
"""
