"""GRU Optimizer Lab's engine: a NumPy GRU with hand-written BPTT, PyTorch-exact optimizers, data and training.

No Streamlit, Plotly or PyTorch here: everything above this package (figures, pages) imports it, never
the other way round.
"""

from gru_core._blas import limit_blas_threads

BLAS_THREADS = limit_blas_threads()

from gru_core.model.gru import GRUConfig, GRURegressor, clip_grad_norm, grad_norm  # noqa: E402
from gru_core.model.params import ParamDict  # noqa: E402
from gru_core.model.rnn import RNNRegressor  # noqa: E402

__all__ = ["GRUConfig", "GRURegressor", "ParamDict", "RNNRegressor", "clip_grad_norm", "grad_norm"]
__version__ = "0.1.0"
