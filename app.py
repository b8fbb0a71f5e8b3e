"""GRU Optimizer Lab: the Streamlit entry point (``streamlit run app.py``).

The frame only: page config, this browser session's state (the race page's settings from the URL's query
parameters on its first run, and the display switches every page shares), and the navigation.  Each page
lives in ``pages/``; to add one, append a line to PAGE_LIST.
"""

import sys

import streamlit as st

from gru_core.runner import apply_server_args
from gru_ui.race.sidebar import init_session
from gru_ui.shell import init_display, presenting, sidebar_state

st.set_page_config(
    page_title="GRU Optimizer Lab", page_icon="🏁", layout="wide", initial_sidebar_state=sidebar_state()
)
apply_server_args(sys.argv[1:])  # `streamlit run app.py -- --backend dask --scheduler tcp://…` (README)
init_display()
init_session()

# (file, title, short title for presentation mode: every link stays in the top bar at 1024 px, icon, URL path)
PAGE_LIST = [
    ("pages/race.py", "Optimizer race", "Race", ":material/flag:", None),
    ("pages/gru_explained.py", "How a GRU works", "GRU", ":material/psychology:", "gru_explained"),
    ("pages/gate_inspector.py", "Gate inspector", "Gates", ":material/biotech:", "gate_inspector"),
    ("pages/vanishing.py", "Vanishing gradients", "Gradients", ":material/trending_down:", "vanishing"),
    ("pages/optimizer_lab.py", "Optimizer lab", "Lab", ":material/explore:", "optimizer_lab"),
    ("pages/sweep.py", "Sweep", "Sweep", ":material/grid_on:", "sweep"),
    ("pages/history.py", "Run history", "History", ":material/history:", "history"),
]
PAGES = [
    st.Page(path, title=short if presenting() else title, icon=icon, url_path=url, default=url is None)
    for path, title, short, icon, url in PAGE_LIST
]

pg = st.navigation(PAGES, position="top" if len(PAGES) > 1 else "hidden")
pg.run()
