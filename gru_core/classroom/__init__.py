"""What the classroom pages compute: gradient flow back through time, and optimizers on 2-D landscapes.

* :mod:`~gru_core.classroom.gradflow`: ‖∂L/∂h_t‖ for a GRU and a tanh RNN; the adding-problem race.
* :mod:`~gru_core.classroom.landscapes`: test functions f(x, y) and the real optimizers' paths on them.
"""
