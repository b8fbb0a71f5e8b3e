"""The models: the fast GRU, its textbook twin, a tanh RNN, the flat parameter store and model files.

* :mod:`~gru_core.model.gru`: :class:`GRURegressor`, forward pass and hand-written BPTT, fast.
* :mod:`~gru_core.model.reference`: the same GRU as a student writes it beside the equations.
* :mod:`~gru_core.model.rnn`: a plain tanh RNN (why gates were invented).
* :mod:`~gru_core.model.params`: named parameter arrays that are views into one flat vector.
* :mod:`~gru_core.model.files`: a trained model as one ``.npz`` file, read without unpickling.
"""
