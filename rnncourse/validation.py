"""Input checks that fail early with a message naming what was expected.

PyTorch's own errors surface deep inside ``addmm`` or ``cat`` and name internal sizes.
These helpers run at the top of the package's public functions instead, so that a learner
reads ``x must have shape (batch, seq_len, input_size=3) ... got (4, 7, 5)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["ShapeError", "check_array", "check_positive_int", "check_probability"]


class ShapeError(ValueError):
    """An input does not have the shape, dtype or size that a function expects."""


def _shape_text(names: Sequence[str], dims: Sequence[int | None]) -> str:
    parts = [n if d is None else f"{n}={d}" for n, d in zip(names, dims)]
    return "(" + ", ".join(parts) + ")"


def check_array(value: Any, name: str, dims: Sequence[str],
                sizes: dict[str, int] | None = None,
                floating: bool = True, allow_empty: bool = False) -> None:
    """Check that ``value`` is a tensor or NumPy array of the expected layout.

    Args:
        value: the input to check.
        name: its name in the caller's signature (used in the message).
        dims: names of the dimensions, e.g. ``("batch", "seq_len", "input_size")``.
        sizes: required sizes for some of those names, e.g. ``{"input_size": 3}``.
        floating: require a floating-point dtype.
        allow_empty: allow dimensions of size 0 (an empty sequence is refused by default).

    Raises:
        TypeError: ``value`` is not a tensor/array, or is not floating point.
        ShapeError: wrong number of dimensions, a wrong size, or an empty dimension.
    """
    sizes = sizes or {}
    expected = _shape_text(dims, [sizes.get(d) for d in dims])
    if not isinstance(value, (torch.Tensor, np.ndarray)):
        raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray of shape {expected}, "
                        f"got {type(value).__name__}")
    shape = tuple(value.shape)
    if len(shape) != len(dims):
        raise ShapeError(f"{name} must have {len(dims)} dimensions {expected}, "
                         f"got shape {shape} ({len(shape)} dimensions)")
    for dim_name, size in zip(dims, shape):
        want = sizes.get(dim_name)
        if want is not None and size != want:
            raise ShapeError(f"{name} must have shape {expected}, got {shape}: "
                             f"{dim_name} is {size}, expected {want}")
        if size == 0 and not allow_empty:
            raise ShapeError(f"{name} has an empty dimension {dim_name} (shape {shape}); "
                             f"a sequence needs at least one step and a batch at least one item")
    if floating:
        is_float = (value.is_floating_point() if isinstance(value, torch.Tensor)
                    else np.issubdtype(value.dtype, np.floating))
        if not is_float:
            raise TypeError(f"{name} must be floating point (float32 or float64), "
                            f"got dtype {value.dtype}")


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value`` as an int if it is a positive integer, else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_probability(value: Any, name: str) -> float:
    """Return ``value`` as a float if it lies in [0, 1), else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)
