"""GRU Optimizer Lab: the Streamlit entry point (placeholder until the dashboard lands)."""

import streamlit as st

st.set_page_config(page_title="GRU Optimizer Lab", layout="wide")
st.title("GRU Optimizer Lab")
st.write("The engine is here (`gru_core`); the live optimizer race is coming next.")
