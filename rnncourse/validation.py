"""Input checks that fail early with a message naming what was expected.

PyTorch's own errors surface deep inside ``addmm`` or ``cat`` and name internal sizes.
These helpers run at the top of the package's public functions instead, so that a learner
reads ``x must have shape (batch, seq_len, input_size=3) ... got (4, 7, 5)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["ShapeError", "check_array", "check_positive_int", "check_probability",
           "check_rnn_call", "check_cell_call", "check_torch_rnn_call", "checked_by"]


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


def _check_tensor(value: Any, name: str, expected: str) -> None:
    if not isinstance(value, torch.Tensor):
        hint = ("; convert a NumPy array with torch.from_numpy(x)"
                if isinstance(value, np.ndarray) else "")
        raise TypeError(f"{name} must be a torch.Tensor of shape {expected}, "
                        f"got {type(value).__name__}{hint}")


def _check_like(value: torch.Tensor, name: str, param: torch.Tensor) -> None:
    if value.dtype != param.dtype:
        raise TypeError(f"{name} has dtype {value.dtype} but the parameters are {param.dtype}; "
                        f"convert one of them ({name}.to({param.dtype}) or "
                        f"module.to({value.dtype}))")
    if value.device != param.device:
        raise ValueError(f"{name} is on device {value.device} but the parameters are on "
                         f"{param.device}; move one of them ({name}.to('{param.device}') or "
                         f"module.to('{value.device}'))")


def _state_tuple(hx: Any, names: Sequence[str]) -> tuple[Any, ...]:
    """``hx`` as a tuple of one entry per state name (a bare tensor when there is one)."""
    if len(names) == 1:
        return (hx,)
    if isinstance(hx, (tuple, list)) and len(hx) == len(names):
        return tuple(hx)
    got = (f"a {type(hx).__name__} of length {len(hx)}" if isinstance(hx, (tuple, list))
           else type(hx).__name__)
    raise TypeError(f"the state must be a tuple ({', '.join(names)}) of {len(names)} tensors, "
                    f"got {got}")


def check_rnn_call(input: Any, hx: Any, *, input_size: int, hidden_size: int,
                   num_states: int, batch_first: bool, state_names: Sequence[str],
                   param: torch.Tensor) -> tuple[bool, tuple[torch.Tensor, ...] | None]:
    """Check a call ``layer(input, hx)`` the way ``torch.nn.RNN/GRU/LSTM`` expect it.

    Args:
        input: ``(L, N, H_in)``, ``(N, L, H_in)`` if ``batch_first``, or ``(L, H_in)`` unbatched.
        hx: ``None``, one tensor (``state_names == ("h",)``) or a tuple of
            ``len(state_names)`` tensors (``("h", "c")`` for an LSTM), each
            ``(num_states, N, H)`` — never batch-first — or ``(num_states, H)`` unbatched.
        num_states: ``num_layers * num_directions``.
        param: a parameter of the layer, whose dtype and device the tensors must share.

    Returns:
        ``(batched, state)``: whether ``input`` has a batch dimension, and the state as a tuple
        of ``(num_states, N, H)`` tensors (a batch dimension of 1 added when unbatched), or
        ``None`` when ``hx`` is ``None``.
    """
    seq = ("batch", "seq_len", "input_size") if batch_first else ("seq_len", "batch",
                                                                  "input_size")
    expected = _shape_text(seq, [None, None, input_size])
    _check_tensor(input, "input", expected)
    if input.dim() not in (2, 3):
        raise ShapeError(f"input must have 3 dimensions {expected}, or 2 (seq_len, "
                         f"input_size={input_size}) for one unbatched sequence, got shape "
                         f"{tuple(input.shape)}")
    batched = input.dim() == 3
    if batched:
        check_array(input, "input", seq, {"input_size": input_size})
    else:
        check_array(input, "input (unbatched)", ("seq_len", "input_size"),
                    {"input_size": input_size})
    _check_like(input, "input", param)
    if hx is None:
        return batched, None
    names = [f"{n}_0" for n in state_names]
    states = _state_tuple(hx, names)
    batch = input.shape[0 if batch_first else 1] if batched else None
    dims = (("num_layers*num_directions", "batch", "hidden_size") if batched
            else ("num_layers*num_directions", "hidden_size"))
    sizes = {"num_layers*num_directions": num_states, "hidden_size": hidden_size}
    if batch is not None:
        sizes["batch"] = batch
    for name, state in zip(names, states):
        _check_tensor(state, name, _shape_text(dims, [sizes.get(d) for d in dims]))
        try:
            check_array(state, name if batched else f"{name} (unbatched input)", dims, sizes)
        except ShapeError as err:
            note = (" (the state is never batch-first, even when the input is)"
                    if batch_first and batched and tuple(state.shape[:2]) != (num_states, batch)
                    else "")
            raise ShapeError(f"{err}{note}") from None
        _check_like(state, name, param)
    if not batched:
        states = tuple(s.unsqueeze(1) for s in states)
    return batched, states


def check_cell_call(input: Any, hx: Any, *, input_size: int, hidden_size: int,
                    state_names: Sequence[str], param: torch.Tensor
                    ) -> tuple[bool, tuple[torch.Tensor, ...] | None]:
    """Check a one-step call ``cell(input, hx)`` as ``torch.nn.RNNCell/GRUCell/LSTMCell`` do.

    ``input`` is ``(N, H_in)`` or ``(H_in,)``; ``hx`` is ``None``, a tensor, or a tuple of
    ``len(state_names)`` tensors, each ``(N, H)`` (``(H,)`` when ``input`` is unbatched).
    Returns ``(batched, state)`` with the state as a tuple of ``(N, H)`` tensors, or ``None``.
    """
    _check_tensor(input, "input", f"(batch, input_size={input_size})")
    if input.dim() not in (1, 2):
        raise ShapeError(f"input must have 2 dimensions (batch, input_size={input_size}), or 1 "
                         f"for one unbatched step, got shape {tuple(input.shape)}")
    batched = input.dim() == 2
    dims = ("batch", "input_size") if batched else ("input_size",)
    check_array(input, "input", dims, {"input_size": input_size})
    _check_like(input, "input", param)
    if hx is None:
        return batched, None
    states = _state_tuple(hx, state_names)
    sdims = ("batch", "hidden_size") if batched else ("hidden_size",)
    sizes = {"hidden_size": hidden_size, **({"batch": input.shape[0]} if batched else {})}
    for name, state in zip(state_names, states):
        _check_tensor(state, name, _shape_text(sdims, [sizes.get(d) for d in sdims]))
        check_array(state, name, sdims, sizes)
        _check_like(state, name, param)
    return batched, states if batched else tuple(s.unsqueeze(0) for s in states)


def check_torch_rnn_call(module: Any, input: Any, hx: Any = None) -> None:
    """Check a call ``module(input, hx)`` of a ``torch.nn.RNN``, ``GRU`` or ``LSTM`` in plain words.

    PyTorch finds the same mistakes, but names them in its own terms (``Expected hidden size
    (1, 4, 5), got [4, 1, 5]``) or, for an LSTM given one tensor instead of ``(h_0, c_0)``, with
    an ``IndexError`` from inside the module. This check reads the module's configuration and
    says which tensor is wrong, which shape was expected and why: the input layout follows
    ``batch_first``, the state never does; an LSTM's state is a tuple, and with ``proj_size``
    its ``h`` is ``proj_size`` wide and its ``c`` ``hidden_size``. A ``PackedSequence`` input is
    checked through its data and its batch size. Returns ``None`` when the call is valid.

    Example::

        >>> gru = torch.nn.GRU(3, 5, batch_first=True)
        >>> check_torch_rnn_call(gru, torch.zeros(4, 7, 3), torch.zeros(4, 1, 5))
        Traceback (most recent call last):
        ShapeError: h_0 must have shape (num_layers*num_directions=1, batch=4, hidden_size=5), \
got (4, 1, 5) ... (the state is never batch-first, even when the input is)
    """
    from torch.nn.utils.rnn import PackedSequence

    if not isinstance(module, torch.nn.RNNBase):
        raise TypeError("module must be a torch.nn.RNN, GRU or LSTM, got "
                        f"{type(module).__name__}")
    num_states = module.num_layers * (2 if module.bidirectional else 1)
    is_lstm = isinstance(module, torch.nn.LSTM)
    hidden = {"h": getattr(module, "proj_size", 0) or module.hidden_size, "c": module.hidden_size}
    names = ("h", "c") if is_lstm else ("h",)
    param = next(module.parameters())
    if isinstance(input, PackedSequence):  # data (sum of lengths, H_in); batch = longest step
        check_array(input.data, "the packed input's data", ("total_steps", "input_size"),
                    {"input_size": module.input_size})
        batch = int(input.batch_sizes[0])
        input = input.data.new_zeros((1, batch, module.input_size))  # a stand-in of that batch
        batch_first = False
    else:
        batch_first = module.batch_first
    if hx is not None:
        hx = _state_tuple(hx, [f"{n}_0" for n in names])
    for k, name in enumerate(names):
        try:
            check_rnn_call(input, None if hx is None else hx[k], input_size=module.input_size,
                           hidden_size=hidden[name], num_states=num_states,
                           batch_first=batch_first, state_names=(name,), param=param)
        except ShapeError as err:
            if hidden["h"] == hidden["c"] or hx is None:
                raise
            raise ShapeError(f"{err} (with proj_size={hidden['h']} an LSTM's h is proj_size "
                             f"wide, its c hidden_size={hidden['c']})") from None


def checked_by(check: Callable[..., None]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run ``check(*args, **kwargs)`` before the decorated function, with the same arguments.

    This keeps a function that the book prints down to its equations: the input checks live
    in ``check``, which raises a clear error before the maths runs.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            check(*args, **kwargs)
            return fn(*args, **kwargs)

        return run

    return decorate
