r"""Gradient checking: compare analytic gradients with centred finite differences.

Works for any scalar function of named NumPy arrays or torch tensors::

    def f(params):                         # params: {"W": array, "b": array, ...}
        return float(loss(params))
    report = check_gradients(f, analytic_grads, params)   # per-parameter relative errors
    assert report, report                  # truthy when every error is below the tolerance

The numerical gradient of one entry ``p_i`` is the centred difference

.. math:: \frac{\partial f}{\partial p_i} \approx \frac{f(p + \epsilon e_i) - f(p - \epsilon e_i)}
   {2\epsilon},

whose truncation error is :math:`O(\epsilon^2)`; in float64 with ``eps = 1e-6`` it agrees with the
exact derivative to about 1e-9 of the gradient's scale. The comparison measure is

.. math:: \mathrm{err}(a, b) = \frac{\max_i |a_i - b_i|}{\max(10^{-8}, \max_i (|a_i| + |b_i|))},

the largest absolute difference relative to the scale of the two gradients: 0 for identical
arrays, 1 for ``b = -a`` or ``b = 0``. (Dividing entry by entry instead makes entries that are
nearly zero report large errors that are only finite-difference noise.)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = ["relative_error", "numerical_gradient", "check_gradients", "compare_gradients",
           "GradCheckReport"]

Array = np.ndarray | torch.Tensor


def _to_numpy(value: Any, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double().numpy()
    if isinstance(value, np.ndarray):
        return value.astype(np.float64, copy=False)
    raise TypeError(f"{name} must be a numpy.ndarray or torch.Tensor, got {type(value).__name__}")


def relative_error(a: Array, b: Array) -> float:
    """``max|a - b| / max(1e-8, max(|a| + |b|))`` for two arrays/tensors of one shape."""
    a_np, b_np = _to_numpy(a, "a"), _to_numpy(b, "b")
    if a_np.shape != b_np.shape:
        raise ValueError(f"cannot compare shapes {a_np.shape} and {b_np.shape}")
    if a_np.size == 0:
        return 0.0
    scale = float(np.max(np.abs(a_np) + np.abs(b_np)))
    return float(np.max(np.abs(a_np - b_np))) / max(1e-8, scale)


def _check_params(params: Mapping[str, Array]) -> None:
    if not isinstance(params, Mapping) or not params:
        raise TypeError("params must be a non-empty dict {name: array or tensor}, got "
                        f"{type(params).__name__}")
    for name, p in params.items():
        if not isinstance(p, (np.ndarray, torch.Tensor)):
            raise TypeError(f"params[{name!r}] must be a numpy.ndarray or torch.Tensor, "
                            f"got {type(p).__name__}")
        is_float = p.is_floating_point() if isinstance(p, torch.Tensor) \
            else np.issubdtype(p.dtype, np.floating)
        if not is_float:
            raise TypeError(f"params[{name!r}] must be floating point, got dtype {p.dtype}")
        if p.dtype not in (np.float64, torch.float64):
            warnings.warn(f"params[{name!r}] is {p.dtype}: finite differences need float64 to "
                          "be accurate (expect errors around 1e-3 in float32)", stacklevel=3)


def numerical_gradient(f: Callable[[Mapping[str, Array]], Any], params: Mapping[str, Array],
                       eps: float = 1e-6) -> dict[str, Array]:
    """Centred finite-difference gradient of a scalar function ``f(params)``.

    Each entry of each parameter is moved by ``+eps`` and ``-eps`` *in place* (under
    ``torch.no_grad()`` for tensors) and restored afterwards, so ``f`` must read ``params``
    anew at every call. Costs ``2 * (number of entries)`` calls of ``f``.

    Args:
        f: returns a scalar (a Python number, 0-d array, or one-element tensor).
        params: ``{name: array or tensor}``; float64 is strongly recommended.
        eps: the step.

    Returns:
        ``{name: gradient}``, each of the type, dtype and shape of its parameter.
    """
    _check_params(params)
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    grads: dict[str, Array] = {}
    with torch.no_grad():
        for name, p in params.items():
            g = np.zeros(tuple(p.shape))
            for index in np.ndindex(*p.shape):
                original = float(p[index])
                p[index] = original + eps
                f_plus = float(f(params))
                p[index] = original - eps
                f_minus = float(f(params))
                p[index] = original
                g[index] = (f_plus - f_minus) / (2 * eps)
            grads[name] = (torch.as_tensor(g, dtype=p.dtype, device=p.device)
                           if isinstance(p, torch.Tensor) else g.astype(p.dtype))
    return grads


@dataclass
class GradCheckReport:
    """Per-parameter relative errors of one gradient check; truthy when all are ``<= tol``."""

    errors: dict[str, float]
    max_abs_errors: dict[str, float]
    tol: float
    what: str = field(default="analytic vs numerical")

    @property
    def passed(self) -> bool:
        return all(e <= self.tol for e in self.errors.values())

    @property
    def max_error(self) -> float:
        return max(self.errors.values())

    @property
    def worst(self) -> str:
        """Name of the parameter with the largest relative error."""
        return max(self.errors, key=lambda n: self.errors[n])

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        width = max(len(n) for n in self.errors)
        lines = [f"Gradient check ({self.what}), tolerance {self.tol:.0e}:"]
        for name, err in self.errors.items():
            mark = "ok  " if err <= self.tol else "FAIL"
            lines.append(f"  {mark} {name:<{width}}  relative error {err:.2e}   "
                         f"max |difference| {self.max_abs_errors[name]:.2e}")
        verdict = "passed" if self.passed else f"FAILED (worst: {self.worst})"
        lines.append(f"  -> {verdict}")
        return "\n".join(lines)

    __repr__ = __str__


def compare_gradients(grads_a: Mapping[str, Array], grads_b: Mapping[str, Array],
                      tol: float = 1e-7, what: str = "a vs b") -> GradCheckReport:
    """Compare two sets of gradients, name by name (e.g. NumPy BPTT vs autograd).

    Raises:
        KeyError: the two dicts do not have the same names.
        ValueError: a pair of gradients differs in shape.
    """
    if set(grads_a) != set(grads_b):
        raise KeyError(f"the gradients name different parameters: {sorted(grads_a)} vs "
                       f"{sorted(grads_b)}")
    errors, max_abs = {}, {}
    for name in grads_a:
        a, b = _to_numpy(grads_a[name], name), _to_numpy(grads_b[name], name)
        if a.shape != b.shape:
            raise ValueError(f"gradient {name!r} has shape {a.shape} on one side and "
                             f"{b.shape} on the other")
        errors[name] = relative_error(a, b)
        max_abs[name] = float(np.max(np.abs(a - b))) if a.size else 0.0
    return GradCheckReport(errors, max_abs, tol, what)


def check_gradients(f: Callable[[Mapping[str, Array]], Any], analytic_grads: Mapping[str, Array],
                    params: Mapping[str, Array], eps: float = 1e-6,
                    tol: float = 1e-7) -> GradCheckReport:
    """Check ``analytic_grads`` against the centred finite differences of ``f`` at ``params``.

    Args:
        f: scalar function of ``params`` (see :func:`numerical_gradient`).
        analytic_grads: ``{name: gradient}`` for every name in ``params`` (extra names are
            ignored, so a dict that also holds e.g. an ``h0`` gradient can be passed as is).
        params: the point at which to check; left unchanged.
        eps: finite-difference step.
        tol: largest acceptable relative error (1e-7 suits float64 with ``eps = 1e-6``).

    Returns:
        A :class:`GradCheckReport` with one relative error per parameter.
    """
    missing = [n for n in params if n not in analytic_grads]
    if missing:
        raise KeyError(f"analytic_grads has no gradient for {missing}")
    numeric = numerical_gradient(f, params, eps)
    return compare_gradients({n: analytic_grads[n] for n in params}, numeric, tol,
                             what="analytic vs centred finite differences")
