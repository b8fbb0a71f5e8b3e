"""GRU Optimizer Lab: the Streamlit entry point (``streamlit run app.py``).

The frame only: page config, this browser session's state (the race page's settings from the URL's query
parameters on its first run, and the display switches every page shares), and the navigation.  Each page
lives in ``pages/``; to add one, append an ``st.Page`` to PAGES.
"""

import sys

import streamlit as st

from gru_core.runner import apply_server_args
from gru_ui.race.sidebar import init_session
from gru_ui.shell import init_display, sidebar_state

st.set_page_config(
    page_title="GRU Optimizer Lab", page_icon="🏁", layout="wide", initial_sidebar_state=sidebar_state()
)
apply_server_args(sys.argv[1:])  # `streamlit run app.py -- --backend dask --scheduler tcp://…` (README)
init_display()
init_session()

PAGES = [
    st.Page("pages/race.py", title="Optimizer race", icon=":material/flag:", default=True),
    st.Page("pages/gru_explained.py", title="How a GRU works", icon=":material/psychology:", url_path="gru_explained"),
    st.Page("pages/gate_inspector.py", title="Gate inspector", icon=":material/biotech:", url_path="gate_inspector"),
    st.Page("pages/vanishing.py", title="Vanishing gradients", icon=":material/trending_down:", url_path="vanishing"),
    st.Page("pages/optimizer_lab.py", title="Optimizer lab", icon=":material/explore:", url_path="optimizer_lab"),
    st.Page("pages/sweep.py", title="Sweep", icon=":material/grid_on:", url_path="sweep"),
    st.Page("pages/history.py", title="Run history", icon=":material/history:", url_path="history"),
]

pg = st.navigation(PAGES, position="top" if len(PAGES) > 1 else "hidden")
pg.run()
