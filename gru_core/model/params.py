"""Named parameter arrays that are views into one flat vector.

The model exposes its weights as a dict with PyTorch's ``state_dict()`` names, and the optimizers
update that dict.  Keeping every named array as a *view* into one contiguous 1-D buffer lets an
optimizer do its whole update in a handful of vectorised operations on ``.flat`` instead of a Python
loop over parameters, while anyone (the tests, the page) can still read or write ``params["head.bias"]``.
"""

from __future__ import annotations

import math

import numpy as np


class ParamDict(dict):
    """A ``dict[str, np.ndarray]`` whose arrays are views into ``self.flat``.

    Writing into an array in place (``p[...] = x``, ``p -= lr * g``) changes ``flat`` and vice versa.
    Re-binding a key to a new array would break that link, so ``__setitem__`` copies the values into the
    existing view instead.
    """

    def __init__(self, shapes: dict[str, tuple[int, ...]], dtype=np.float64, flat: np.ndarray | None = None):
        sizes = [math.prod(s) for s in shapes.values()]
        total = sum(sizes)
        if flat is None:
            flat = np.zeros(total, dtype=dtype)
        elif flat.shape != (total,):
            raise ValueError(f"flat has shape {flat.shape}, expected ({total},)")
        super().__init__()
        self.flat = flat
        self.shapes = {k: tuple(s) for k, s in shapes.items()}
        offset = 0
        for (name, shape), size in zip(self.shapes.items(), sizes):
            dict.__setitem__(self, name, flat[offset : offset + size].reshape(shape))
            offset += size

    def __setitem__(self, key, value):
        if key not in self:
            raise KeyError(f"unknown parameter {key!r}; known: {list(self)}")
        value = np.asarray(value)
        if value.shape != self[key].shape:
            raise ValueError(f"{key}: shape {value.shape} does not match {self[key].shape}")
        self[key][...] = value

    @property
    def dtype(self):
        return self.flat.dtype

    def zeros_like(self) -> ParamDict:
        """A new ParamDict with the same names, shapes and dtype, all zeros."""
        return ParamDict(self.shapes, dtype=self.flat.dtype)

    def copy(self) -> ParamDict:  # type: ignore[override]
        """A deep copy (its own flat buffer)."""
        return ParamDict(self.shapes, dtype=self.flat.dtype, flat=self.flat.copy())

    def load(self, arrays: dict) -> None:
        """Copy every named array in (for example a PyTorch ``state_dict`` converted to NumPy), converted to
        this dict's dtype; the names must be exactly these (ValueError otherwise), shapes are checked."""
        missing = set(self) - set(arrays)
        extra = set(arrays) - set(self)
        if missing or extra:
            raise ValueError(f"parameter names differ: missing {sorted(missing)}, unexpected {sorted(extra)}")
        for k, v in arrays.items():
            self[k] = np.asarray(v, dtype=self.dtype)

    def same_layout(self, other) -> bool:
        return isinstance(other, ParamDict) and other.shapes == self.shapes

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], dtype=None) -> ParamDict:
        """Pack a plain dict of arrays into a new ParamDict (values copied)."""
        arrays = {k: np.asarray(v) for k, v in arrays.items()}
        if dtype is None:
            dtype = np.result_type(*arrays.values()) if arrays else np.float64
        out = cls({k: v.shape for k, v in arrays.items()}, dtype=dtype)
        for k, v in arrays.items():
            out[k][...] = v
        return out
