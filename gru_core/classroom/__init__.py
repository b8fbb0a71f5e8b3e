"""What the classroom pages compute: gradient flow back through time, optimizers on 2-D landscapes,
what a trained GRU's gates do on windows of a series, and one GRU cell to play with.

* :mod:`~gru_core.classroom.gradflow`: ‖∂L/∂h_t‖ for a GRU and a tanh RNN; the adding-problem race.
* :mod:`~gru_core.classroom.landscapes`: test functions f(x, y) and the real optimizers' paths on them.
* :mod:`~gru_core.classroom.inspector`: a model file and a series → windows, gate traces, units sorted by
  saturation, gradient norms per step (the gate inspector).
* :mod:`~gru_core.classroom.cell`: one GRU cell's weights from slider values, and one step of it.
"""
