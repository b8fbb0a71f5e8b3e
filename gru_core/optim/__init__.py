"""Gradient-descent optimizers in NumPy, with PyTorch's names, defaults and exact update rules.

The family, in the order it grew (each step fixes a weakness of the previous one):

* **SGD**      ``p -= lr * g``.  One learning rate for every parameter, no memory.
* **momentum** keep a running sum ``buf = momentum * buf + g`` and step along it: noise averages out,
  consistent directions accelerate (Nesterov: look ahead along ``buf`` before stepping).
* **Adagrad**  divide by the root of the *sum* of all squared gradients seen so far: rarely-updated
  parameters get big steps, frequent ones small steps; but the sum only grows, so the steps die out.
* **RMSprop**  replace that sum by an exponential moving *average* (``alpha``), so the step size stays
  alive and tracks the recent gradient scale.
* **Adam**     RMSprop's denominator + momentum's numerator, both as moving averages, each corrected for
  its zero initialisation ("bias correction").  **AdamW** decays the weights directly instead of adding
  ``weight_decay * p`` to the gradient (where Adam's denominator would rescale it).

And after it: **NAdam** (Nesterov momentum inside Adam), **RAdam** (Adam whose adaptive step is switched in
only once its variance estimate can be trusted), **Adamax** (Adam with the infinity norm), **Lion** (the sign
of an interpolated momentum: every step has the same size), in :mod:`.adam_family`; three older ideas, **Rprop**
(per-weight step sizes from gradient signs), **ASGD** (SGD with a running average of the weights) and
**Adadelta** (step sizes in the weights' own units), in :mod:`.older`; and the memory-lean or matrix-aware
**Adafactor** (factored second moments) and **Muon** (orthogonalised momentum for weight matrices), in
:mod:`.modern`.

Every optimizer here that ``torch.optim`` has reproduces it (torch 2.13, single-tensor code path) to rounding
error (Lion follows its paper's Algorithm 2); several also offer ``flavor="keras"``: the formulas and defaults of
tf.keras 2.15 (RMSprop, Adam) or Keras 3 (the newer ones), whose small differences (epsilon inside the square
root, "epsilon hat", ``rho=0.9``) are a teaching point.  The package: :mod:`.base` (the Optimizer class and the
registry's entry types), one module per family with its ``SPECS``, and this module's :data:`OPTIMIZERS`.

Usage::

    opt = make_optimizer("adam", lr=3e-3)
    opt.step(params, grads)          # updates params in place
    opt.state["head.bias"]["exp_avg"]
    opt.lr = 1e-3                    # applies from the next step

``params`` and ``grads`` are dicts ``name -> np.ndarray``.  When both are :class:`ParamDict` objects with
the same layout, the whole update runs on their contiguous ``.flat`` buffers (a handful of vectorised
operations instead of a loop over parameters); the optimizer's state buffers are then ParamDicts too, so
``opt.state[name][key]`` are views into them.
"""

from __future__ import annotations

from typing import Any

from gru_core.optim import adam_family, classic, modern, older
from gru_core.optim.adam_family import Adamax, Lion, NAdam, RAdam
from gru_core.optim.base import HyperParam, Optimizer, OptimizerSpec
from gru_core.optim.classic import SGD, Adagrad, Adam, AdamW, RMSprop
from gru_core.optim.modern import Adafactor, Muon
from gru_core.optim.older import ASGD, Adadelta, Rprop

__all__ = [
    "ASGD",
    "OPTIMIZERS",
    "SGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "HyperParam",
    "Lion",
    "Muon",
    "NAdam",
    "Optimizer",
    "OptimizerSpec",
    "RAdam",
    "RMSprop",
    "Rprop",
    "make_optimizer",
]

# The registry: every optimizer a page, the CLI, a sweep or a model file can name, in the order pages list them.
# One entry per optimizer (its module's SPECS) is all it takes to add one.
OPTIMIZERS: dict[str, OptimizerSpec] = {**classic.SPECS, **adam_family.SPECS, **older.SPECS, **modern.SPECS}


def make_optimizer(name: str, flavor: str = "pytorch", **hyper: Any) -> Optimizer:
    """Build an optimizer by registry name (case-insensitive); ``beta1``/``beta2`` are folded into betas.

    Hyperparameters not given take the defaults of ``flavor``.
    """
    key = name.lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}")
    spec = OPTIMIZERS[key]
    if flavor not in spec.flavors:
        raise ValueError(f"Invalid flavor {flavor!r} for {spec.name}; supported: {', '.join(spec.flavors)}")
    if ("beta1" in hyper or "beta2" in hyper) and "beta1" in spec.cls.HYPER_NAMES:  # else: unknown, below
        if "betas" in hyper:
            raise ValueError("give either betas=(b1, b2) or beta1=/beta2=, not both")
        defaults = spec.defaults(flavor)
        hyper["betas"] = (hyper.pop("beta1", defaults["beta1"]), hyper.pop("beta2", defaults["beta2"]))
    return spec.cls(flavor=flavor, **hyper)
