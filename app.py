"""GRU Optimizer Lab: the Streamlit entry point (``streamlit run app.py``).

The frame only: page config, this browser session's state (the race page's settings from the URL's query
parameters on its first run, and the display switches every page shares), and the navigation.  Each page
lives in ``pages/``; to add one, append a line to PAGE_LIST.

The same file is the web server's app: ``streamlit run app.py`` finds ``app`` below (an ``st.App``), imports this
file once to build it (with the live chart's own address, ``gru_ui.race.live_route``), and then runs it as each
visitor's page script (``__name__ == "__main__"``, as in AppTest).
"""

import sys

import streamlit as st

from gru_core._malloc import keep_heap_small
from gru_core.runner import apply_server_args
from gru_ui.race import live_route
from gru_ui.race.sidebar import init_session
from gru_ui.shell import init_display, presenting, sidebar_state

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


def frame() -> None:
    """One run of a visitor's page: the frame, then the page the navigation picked."""
    st.set_page_config(
        page_title="GRU Optimizer Lab", page_icon="🏁", layout="wide", initial_sidebar_state=sidebar_state()
    )
    apply_server_args(sys.argv[1:])  # `streamlit run app.py -- --backend dask --scheduler tcp://…` (README)
    init_display()
    init_session()
    pages = [
        st.Page(path, title=short if presenting() else title, icon=icon, url_path=url, default=url is None)
        for path, title, short, icon, url in PAGE_LIST
    ]
    st.navigation(pages, position="top" if len(pages) > 1 else "hidden").run()


if __name__ == "__main__":  # a visitor's page (Streamlit runs this file as its script; AppTest too)
    frame()
else:  # `streamlit run app.py` imports this file once to build the server: Streamlit plus the live chart's route
    keep_heap_small()  # the server lives long: its freed heap goes back to the system (gru_core._malloc)
    app = st.App(__file__, routes=live_route.enable(st.get_option("server.baseUrlPath")))
