"""The limits of the Sweep and Run history pages: what one visitor may ask of a shared server.

The sizes of single settings (hidden units, epochs, batch, lookback, …) are the settings' own classroom
limits, :attr:`gru_core.config.Setting.limit`; here only what belongs to sweeps, uploads and the history.
The pages state these numbers to the visitor.
"""

from __future__ import annotations

import os
from typing import Any

from gru_core.config import MAX_CONTESTANTS
from gru_ui.limits import MAX_SEED, UPLOAD_MB, UPLOAD_ROWS

LIMITS: dict[str, Any] = {
    "confirm_cells": 500,  # a bigger grid needs a tick in "yes, run it"
    "max_cells": 5000,  # refused above this
    "max_values": 20,  # values per grid field
    "max_seeds": 50,
    "max_seed": MAX_SEED,  # the largest seed
    "max_optimizers": MAX_CONTESTANTS,
    "max_sweeps": int(os.environ.get("GRU_LAB_MAX_SWEEPS", 2)),  # sweeps running or waiting in line on the server
    "max_workers": max(1, os.cpu_count() or 1),
    "compare_runs": 12,  # runs overlaid on the history page
    "upload_mb": UPLOAD_MB,  # CSV uploads: the same for every page (gru_ui.limits)
    "rows": UPLOAD_ROWS,
}
