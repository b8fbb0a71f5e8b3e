"""What every page allows one visitor, on a server a whole class shares (no Streamlit here).

The sizes of single run settings (hidden units, epochs, lookback, …) are the settings' own classroom limits,
:attr:`gru_core.config.Setting.limit`; here only what the pages add: uploads, seeds, the split's percentage
boxes.  A page family's own limits (races at once, sweep cells, …) live in its ``settings``/``limits`` module.
"""

UPLOAD_MB = 5  # the largest CSV a visitor may upload (.streamlit/config.toml's maxUploadSize says the same)
UPLOAD_ROWS = 200_000  # … and its most rows
MODEL_UPLOAD_MB = 50  # the largest model file (.npz) a visitor may upload: the race page and the gate inspector
MAX_SEED = 2**31 - 1  # the largest seed a page offers
# The split as the pages' percentage boxes offer it: train %, validation %, and what the test part keeps at least
TRAIN_PCT = (10, 95)
VAL_PCT = (0, 45)
MIN_TEST_PCT = 5
