r"""Backpropagation through time (BPTT) for a one-layer tanh RNN with a linear output layer.

The model, for time steps :math:`t = 1, \dots, T` and a batch of :math:`B` sequences
(row-major, one row per sequence, as in PyTorch)::

    a_t = x_t W_xh^T + h_{t-1} W_hh^T + b_h          (B, hidden)
    h_t = tanh(a_t)                                  (B, hidden)
    y_t = h_t W_ho^T + b_o                           (B, output)
    L   = sum_t l_t(y_t)

BPTT runs the recursion backwards from ``t = T`` (``R_t = dL/da_t``, ``*`` elementwise)::

    delta_t = dL/dh_t = (dl_t/dy_t) W_ho + R_{t+1} W_hh      (the second term is 0 at t = T)
    R_t     = (1 - h_t**2) * delta_t

and sums the contributions of every step to the shared weights::

    dL/dW_ho = sum_t (dl_t/dy_t)^T h_t      dL/db_o = sum_t sum_b dl_t/dy_t
    dL/dW_xh = sum_t R_t^T x_t              dL/db_h = sum_t sum_b R_t
    dL/dW_hh = sum_t R_t^T h_{t-1}          dL/dh_0 = R_1 W_hh

Parameters are a dict of NumPy arrays with the names of :data:`PARAM_NAMES`; their shapes
follow ``torch.nn.RNN`` (``weight_ih_l0`` is ``W_xh``, ``weight_hh_l0`` is ``W_hh``, the two
biases add up to ``b_h``) and ``torch.nn.Linear`` (``W_ho``, ``b_o``). Everything here is
self-contained NumPy; :func:`torch_loss_and_grads` computes the same quantities with PyTorch's
own modules and autograd, as the reference the NumPy code is checked against.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from .validation import ShapeError, check_array, check_positive_int, checked_by

__all__ = [
    "PARAM_NAMES", "Params", "Cache", "init_params", "params_from_torch", "rnn_forward",
    "mse_loss", "cross_entropy_loss", "rnn_step_backward", "rnn_backward", "state_gradients",
    "step_jacobians", "loss_and_grads", "truncation_windows", "truncated_bptt_grads",
    "truncated_input_gradients", "torch_loss_and_grads", "detach_state", "RNNRegressor",
    "train_tbptt", "linear_readout_r2", "saved_tensor_bytes", "plot_unrolled_graph",
]

PARAM_NAMES: tuple[str, ...] = ("W_xh", "W_hh", "b_h", "W_ho", "b_o")
"""Names of the parameters, in the order of the chapter's equations."""

Params = dict[str, np.ndarray]
Cache = dict[str, np.ndarray]
LossName = Literal["mse", "cross_entropy"]


def init_params(input_size: int, hidden_size: int, output_size: int,
                rng: np.random.Generator | None = None,
                dtype: type[np.floating] = np.float64) -> Params:
    """Random parameters drawn like PyTorch's defaults: ``U(-1/sqrt(hidden), 1/sqrt(hidden))``.

    Returns:
        ``{"W_xh": (hidden, input), "W_hh": (hidden, hidden), "b_h": (hidden,),
        "W_ho": (output, hidden), "b_o": (output,)}``
    """
    input_size = check_positive_int(input_size, "input_size")
    hidden_size = check_positive_int(hidden_size, "hidden_size")
    output_size = check_positive_int(output_size, "output_size")
    rng = rng if rng is not None else np.random.default_rng(0)
    bound = 1.0 / np.sqrt(hidden_size)
    shapes = {"W_xh": (hidden_size, input_size), "W_hh": (hidden_size, hidden_size),
              "b_h": (hidden_size,), "W_ho": (output_size, hidden_size), "b_o": (output_size,)}
    return {name: rng.uniform(-bound, bound, size=shape).astype(dtype)
            for name, shape in shapes.items()}


def params_from_torch(rnn: nn.RNN, linear: nn.Linear) -> Params:
    """Copy the weights of a one-layer ``nn.RNN(tanh)`` and an ``nn.Linear`` into a dict.

    ``b_h = bias_ih_l0 + bias_hh_l0`` (PyTorch keeps two biases that always appear summed).
    Arrays are float64 copies, whatever the modules' dtype.
    """
    if not isinstance(rnn, nn.RNN) or rnn.num_layers != 1 or rnn.bidirectional \
            or rnn.nonlinearity != "tanh":
        raise ValueError("rnn must be a one-layer, unidirectional nn.RNN with nonlinearity "
                         f"'tanh', got {rnn!r}")
    if not isinstance(linear, nn.Linear) or linear.in_features != rnn.hidden_size:
        raise ValueError(f"linear must be an nn.Linear with in_features={rnn.hidden_size}, "
                         f"got {linear!r}")

    def arr(t: torch.Tensor | None, shape: tuple[int, ...]) -> np.ndarray:
        return np.zeros(shape) if t is None else t.detach().cpu().double().numpy().copy()

    hidden, out = rnn.hidden_size, linear.out_features
    return {"W_xh": arr(rnn.weight_ih_l0, (hidden, rnn.input_size)),
            "W_hh": arr(rnn.weight_hh_l0, (hidden, hidden)),
            "b_h": arr(getattr(rnn, "bias_ih_l0", None), (hidden,))
            + arr(getattr(rnn, "bias_hh_l0", None), (hidden,)),
            "W_ho": arr(linear.weight, (out, hidden)),
            "b_o": arr(linear.bias, (out,))}


def _check_params(params: Mapping[str, np.ndarray]) -> tuple[int, int, int]:
    missing = [n for n in PARAM_NAMES if n not in params]
    if missing:
        raise KeyError(f"params is missing {missing}; expected the keys {list(PARAM_NAMES)}")
    for name in PARAM_NAMES:
        if not isinstance(params[name], np.ndarray):
            raise TypeError(f"params[{name!r}] must be a numpy.ndarray, "
                            f"got {type(params[name]).__name__}")
    check_array(params["W_xh"], "params['W_xh']", ("hidden_size", "input_size"))
    hidden, input_size = params["W_xh"].shape
    check_array(params["W_hh"], "params['W_hh']", ("hidden_size", "hidden_size"),
                {"hidden_size": hidden})
    check_array(params["b_h"], "params['b_h']", ("hidden_size",), {"hidden_size": hidden})
    check_array(params["W_ho"], "params['W_ho']", ("output_size", "hidden_size"),
                {"hidden_size": hidden})
    output = params["W_ho"].shape[0]
    check_array(params["b_o"], "params['b_o']", ("output_size",), {"output_size": output})
    return input_size, hidden, output


def rnn_forward(params: Params, x: np.ndarray, h0: np.ndarray | None = None,
                batch_first: bool = False) -> tuple[np.ndarray, Cache]:
    r"""Run the RNN over a batch of sequences.

    Args:
        params: the parameters (see :data:`PARAM_NAMES`).
        x: inputs, ``(T, batch, input_size)``, or ``(batch, T, input_size)`` if ``batch_first``.
        h0: initial state ``(batch, hidden_size)`` (``torch.nn.RNN``'s ``h_0`` without its
            ``num_layers`` dimension); zeros when ``None``.
        batch_first: layout of ``x`` and of the returned ``y``, as in ``torch.nn.RNN``.

    Returns:
        ``(y, cache)``: outputs ``y`` of shape ``(T, batch, output_size)`` (or batch first) and
        the cache the backward pass needs: ``x`` (time-major) and ``h`` of shape
        ``(T + 1, batch, hidden_size)`` with ``h[0] = h_0`` and ``h[t] = h_t``.
    """
    input_size, hidden, _ = _check_params(params)
    dims = ("batch", "seq_len", "input_size") if batch_first else ("seq_len", "batch",
                                                                   "input_size")
    check_array(x, "x", dims, {"input_size": input_size})
    x_tm = np.swapaxes(x, 0, 1) if batch_first else x
    steps, batch = x_tm.shape[:2]
    if h0 is None:
        h0 = np.zeros((batch, hidden), dtype=params["W_hh"].dtype)
    check_array(h0, "h0", ("batch", "hidden_size"), {"batch": batch, "hidden_size": hidden})
    h = np.empty((steps + 1, batch, hidden), dtype=np.result_type(x_tm, params["W_hh"]))
    h[0] = h0
    for t in range(steps):
        h[t + 1] = np.tanh(x_tm[t] @ params["W_xh"].T + h[t] @ params["W_hh"].T + params["b_h"])
    y = h[1:] @ params["W_ho"].T + params["b_o"]
    return (np.swapaxes(y, 0, 1) if batch_first else y), {"x": x_tm, "h": h}


def mse_loss(y: np.ndarray, target: np.ndarray, batch_first: bool = False
             ) -> tuple[float, np.ndarray]:
    r"""``L = sum_t mean_{b,o} (y_t - target_t)^2`` and ``dL/dy`` (same shape as ``y``).

    Per step this is ``torch.nn.functional.mse_loss(y_t, target_t)``; summed over time.
    """
    dims = ("batch", "seq_len", "output_size") if batch_first else ("seq_len", "batch",
                                                                   "output_size")
    check_array(y, "y", dims)
    check_array(target, "target", dims, dict(zip(dims, y.shape)))
    per_step = y.shape[0] * y.shape[2] if batch_first else y.shape[1] * y.shape[2]
    diff = y - target
    return float(np.sum(diff**2) / per_step), 2.0 * diff / per_step


def cross_entropy_loss(logits: np.ndarray, labels: np.ndarray, batch_first: bool = False
                       ) -> tuple[float, np.ndarray]:
    r"""``L = sum_t mean_b -log softmax(y_t)[label]`` and ``dL/dy = (softmax(y) - onehot) / B``.

    Per step this is ``torch.nn.functional.cross_entropy(y_t, labels_t)``; summed over time.

    Args:
        logits: ``(T, batch, classes)`` (or batch first).
        labels: integer class indices ``(T, batch)`` (or batch first) in ``[0, classes)``.
    """
    dims = ("batch", "seq_len", "classes") if batch_first else ("seq_len", "batch", "classes")
    check_array(logits, "logits", dims)
    if not isinstance(labels, np.ndarray) or labels.shape != logits.shape[:2] \
            or not np.issubdtype(labels.dtype, np.integer):
        raise ShapeError(f"labels must be an integer numpy array of shape {logits.shape[:2]}, "
                         f"got {type(labels).__name__} "
                         f"{getattr(labels, 'shape', '')} {getattr(labels, 'dtype', '')}")
    classes = logits.shape[2]
    if labels.min() < 0 or labels.max() >= classes:
        raise ValueError(f"labels must lie in [0, {classes}), got values in "
                         f"[{labels.min()}, {labels.max()}]")
    batch = logits.shape[0] if batch_first else logits.shape[1]
    shifted = logits - logits.max(axis=2, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    onehot = np.eye(classes, dtype=logits.dtype)[labels]
    loss = -float(np.sum(log_p * onehot)) / batch
    return loss, (np.exp(log_p) - onehot) / batch


def rnn_step_backward(delta: np.ndarray, h: np.ndarray, h_prev: np.ndarray, x: np.ndarray,
                      W_hh: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""Backward through one step ``h = tanh(x W_xh^T + h_prev W_hh^T + b_h)``.

    Args:
        delta: ``dL/dh_t``, the *total* derivative of the loss w.r.t. this step's state,
            ``(batch, hidden)``.
        h: ``h_t``, ``(batch, hidden)``; ``h_prev``: ``h_{t-1}``, ``(batch, hidden)``.
        x: ``x_t``, ``(batch, input)``; ``W_hh``: ``(hidden, hidden)``.

    Returns:
        ``(dW_xh, dW_hh, db_h, dh_prev)``: this step's contributions ``R^T x``, ``R^T h_prev``,
        ``sum_b R`` with ``R = (1 - h**2) * delta``, and ``R W_hh``, the part of
        ``dL/dh_{t-1}`` that flows back through the recurrence.
    """
    r = (1.0 - h**2) * delta
    return r.T @ x, r.T @ h_prev, r.sum(axis=0), r @ W_hh


def _check_backward(params: Params, cache: Cache, dy: np.ndarray,
                    dh_last: np.ndarray | None = None, batch_first: bool = False,
                    recurrent: bool = True) -> None:
    steps, batch = cache["x"].shape[:2]
    dims = ("batch", "seq_len", "output_size") if batch_first else ("seq_len", "batch",
                                                                   "output_size")
    check_array(dy, "dy", dims, {"seq_len": steps, "batch": batch,
                                 "output_size": params["W_ho"].shape[0]})


@checked_by(_check_backward)
def rnn_backward(params: Params, cache: Cache, dy: np.ndarray, dh_last: np.ndarray | None = None,
                 batch_first: bool = False, recurrent: bool = True) -> Params:
    r"""BPTT: the gradients of ``L`` from ``dL/dy_t`` for every step.

    Args:
        params: the parameters used in :func:`rnn_forward`.
        cache: the cache :func:`rnn_forward` returned.
        dy: ``dL/dy_t``, shape of ``y`` (``(T, batch, output)`` or batch first).
        dh_last: extra gradient arriving at ``h_T`` from outside the sequence (e.g. from a
            later chunk), ``(batch, hidden)``; zero when ``None``.
        batch_first: layout of ``dy``.
        recurrent: ``False`` drops the term ``R_{t+1} W_hh`` of the recursion for ``delta_t``,
            i.e. treats ``h_{t-1}`` as a constant: the *immediate* partial derivatives that
            many texts mistake for the gradient. Only for demonstrating that error.

    Returns:
        ``{"W_xh", "W_hh", "b_h", "W_ho", "b_o", "h0"}``, each the shape of its parameter
        (``h0``: ``(batch, hidden)``).
    """
    x, h = cache["x"], cache["h"]                 # x: (T, N, I); h: (T + 1, N, H), h[0] = h_0
    dy = np.swapaxes(dy, 0, 1) if batch_first else dy
    grads = {name: np.zeros_like(params[name]) for name in PARAM_NAMES}
    grads["W_ho"] = np.einsum("tbo,tbh->oh", dy, h[1:])
    grads["b_o"] = dy.sum(axis=(0, 1))
    from_future = np.zeros_like(h[0]) if dh_last is None else dh_last
    for t in reversed(range(len(x))):         # t indexes x[t], h[t + 1] = h_{t+1} in the maths
        delta = dy[t] @ params["W_ho"] + from_future
        dW_xh, dW_hh, db_h, dh_prev = rnn_step_backward(delta, h[t + 1], h[t], x[t],
                                                        params["W_hh"])
        grads["W_xh"] += dW_xh
        grads["W_hh"] += dW_hh
        grads["b_h"] += db_h
        from_future = dh_prev if recurrent else np.zeros_like(dh_prev)
    grads["h0"] = dh_prev
    return grads


@checked_by(_check_backward)
def state_gradients(params: Params, cache: Cache, dy: np.ndarray,
                    dh_last: np.ndarray | None = None, batch_first: bool = False,
                    recurrent: bool = True) -> np.ndarray:
    r"""Every ``delta_t = dL/dh_t`` (all paths from ``h_t`` to ``L``), by the backward recursion.

    ``delta_T = g_T W_ho`` (plus ``dh_last``) and ``delta_t = g_t W_ho + R_{t+1} W_hh`` with
    ``R_{t+1} = (1 - h_{t+1}**2) * delta_{t+1}`` (row-major batch), the quantity
    :func:`rnn_backward` carries from step to step. Arguments as :func:`rnn_backward`.

    Returns:
        ``(T, batch, hidden)``: ``delta[t - 1]`` is ``delta_t`` (time-major, whatever
        ``batch_first``).
    """
    h = cache["h"]                                # (T + 1, N, H), h[0] = h_0
    dy = np.swapaxes(dy, 0, 1) if batch_first else dy
    delta = np.empty_like(h[1:])
    from_future = np.zeros_like(h[0]) if dh_last is None else dh_last
    for t in reversed(range(len(delta))):      # delta[t] = delta_{t+1} in the maths
        delta[t] = dy[t] @ params["W_ho"] + from_future
        from_future = ((1.0 - h[t + 1] ** 2) * delta[t]) @ params["W_hh"]
    return delta


def step_jacobians(params: Params, cache: Cache) -> np.ndarray:
    r"""The Jacobians ``dh_t/dh_{t-1} = diag(1 - h_t**2) W_hh`` of every step and sequence.

    Returns:
        ``(T, batch, hidden, hidden)``: entry ``[t - 1, b, i, j]`` is
        ``d h_{t,i} / d h_{t-1,j}`` for sequence ``b`` (column-vector convention, as in the
        chapter's equations).
    """
    _check_params(params)
    h = cache["h"]                                                    # (T + 1, N, H)
    return (1.0 - h[1:, :, :, None] ** 2) * params["W_hh"][None, None]  # (T, N, H, H)


def loss_and_grads(params: Params, x: np.ndarray, target: np.ndarray,
                   h0: np.ndarray | None = None, loss: LossName = "mse",
                   batch_first: bool = False, recurrent: bool = True) -> tuple[float, Params]:
    """Forward, loss and BPTT in one call; returns ``(L, grads)`` (see :func:`rnn_backward`).

    ``target`` is ``y``-shaped for ``"mse"`` and integer labels ``(T, batch)`` for
    ``"cross_entropy"`` (batch first when ``batch_first``).
    """
    losses = {"mse": mse_loss, "cross_entropy": cross_entropy_loss}
    if loss not in losses:
        raise ValueError(f"loss must be 'mse' or 'cross_entropy', got {loss!r}")
    y, cache = rnn_forward(params, x, h0, batch_first)
    value, dy = losses[loss](y, target, batch_first)
    return value, rnn_backward(params, cache, dy, batch_first=batch_first, recurrent=recurrent)


def _check_k1_k2(k1: int, k2: int | None) -> tuple[int, int]:
    k1 = check_positive_int(k1, "k1")
    k2 = k1 if k2 is None else check_positive_int(k2, "k2")
    if k2 < k1:
        raise ValueError(f"k2 must be >= k1 (each loss is backpropagated at least to the "
                         f"previous update), got k1={k1}, k2={k2}")
    return k1, k2


def truncation_windows(steps: int, k1: int, k2: int | None = None
                       ) -> list[tuple[int, int, int]]:
    r"""The updates of BPTT(k1, k2) over ``steps`` time steps, as ``(start, first, end)``.

    Update ``n`` happens after step ``end = min(n * k1, steps)`` (0-based, half-open ranges):
    the losses of steps ``first .. end - 1`` (those since the previous update) are
    backpropagated through the inputs ``start .. end - 1`` with ``start = max(0, end - k2)``;
    the state before ``start`` is a constant. So the loss of step ``t`` reaches the inputs
    ``x_s`` with ``start <= s <= t`` of its update, lags ``0 .. t - start``.

    Example::

        >>> truncation_windows(7, k1=3, k2=5)
        [(0, 0, 3), (1, 3, 6), (2, 6, 7)]
    """
    steps = check_positive_int(steps, "steps")
    k1, k2 = _check_k1_k2(k1, k2)
    windows = []
    for end in range(k1, steps + k1, k1):
        end = min(end, steps)                         # the last update may come early
        first = end - ((end - 1) % k1 + 1)            # the losses since the previous update
        windows.append((max(0, end - k2), first, end))
    return windows


def truncated_bptt_grads(params: Params, x: np.ndarray, target: np.ndarray, k1: int,
                         k2: int | None = None, h0: np.ndarray | None = None,
                         loss: LossName = "mse") -> tuple[float, Params]:
    r"""The gradient of truncated BPTT(k1, k2), time-major.

    Every ``k1`` steps (and at the end of the sequence), the losses of the steps since the
    previous update are backpropagated through the last ``k2 >= k1`` steps only; the state
    ``k2`` steps back is treated as a constant (PyTorch: ``.detach()``). In Williams & Peng's
    (1990) notation this is BPTT(h; h') with ``h' = k1`` (steps between updates) and
    ``h = k2`` (steps back). The windows are :func:`truncation_windows`. The returned
    gradient is the sum over these updates, i.e. what a training loop accumulates in one pass
    *without* optimiser steps in between. Every loss term is counted exactly once.

    ``k2 = k1 = k`` (the default ``k2 = k1``) is the usual PyTorch idiom: disjoint chunks of
    ``k`` steps with the state detached between chunks (exactly so when ``k`` divides ``T``;
    otherwise the last, early update reaches ``k`` steps back, into the previous chunk).
    ``k1 >= T`` gives full BPTT.

    Returns:
        ``(L, grads)``: the total loss and the gradients of the parameters (no ``h0`` entry).
    """
    k1, k2 = _check_k1_k2(k1, k2)
    if loss not in ("mse", "cross_entropy"):
        raise ValueError(f"loss must be 'mse' or 'cross_entropy', got {loss!r}")
    loss_fn = mse_loss if loss == "mse" else cross_entropy_loss
    y, cache = rnn_forward(params, x, h0)
    total, dy_all = loss_fn(y, target)
    grads = {name: np.zeros_like(params[name]) for name in PARAM_NAMES}
    for start, first_loss, end in truncation_windows(x.shape[0], k1, k2):
        dy = np.zeros_like(dy_all[start:end])
        dy[first_loss - start:] = dy_all[first_loss:end]       # only the new losses
        _, window = rnn_forward(params, x[start:end], cache["h"][start])
        window_grads = rnn_backward(params, window, dy)      # "h0" dropped: detached
        for name in PARAM_NAMES:
            grads[name] += window_grads[name]
    return total, grads


def _torch_modules(params: Params, batch_first: bool = False) -> tuple[nn.RNN, nn.Linear]:
    """``nn.RNN`` + ``nn.Linear`` in float64 holding ``params`` (``bias_hh_l0 = 0``)."""
    input_size, hidden, output = _check_params(params)
    rnn = nn.RNN(input_size, hidden, batch_first=batch_first).double()
    linear = nn.Linear(hidden, output).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(params["W_xh"]))
        rnn.weight_hh_l0.copy_(torch.from_numpy(params["W_hh"]))
        rnn.bias_ih_l0.copy_(torch.from_numpy(params["b_h"]))
        rnn.bias_hh_l0.zero_()
        linear.weight.copy_(torch.from_numpy(params["W_ho"]))
        linear.bias.copy_(torch.from_numpy(params["b_o"]))
    return rnn, linear


def truncated_input_gradients(params: Params, x: np.ndarray, target: np.ndarray, k1: int,
                              k2: int | None = None, h0: np.ndarray | None = None
                              ) -> np.ndarray:
    r"""Measure which inputs each loss reaches under BPTT(k1, k2), with PyTorch's autograd.

    For every step ``t`` the MSE loss ``l_t`` of that step is backpropagated, in float64,
    exactly as a truncated-BPTT loop does it: through the window of its update
    (:func:`truncation_windows`), from a detached state. Nothing here uses the window
    arithmetic to decide what is zero: the zeros are autograd's.

    Args:
        params, x, target, h0: as :func:`truncated_bptt_grads` (time-major, MSE).
        k1, k2: the truncation (``k2 = k1`` when ``None``).

    Returns:
        ``(T, T)`` array ``G`` with ``G[t, s] = ||dl_t/dx_s||`` (Frobenius norm over the
        batch and the features); ``G[t, s] = 0`` exactly where no gradient flows.
    """
    k1, k2 = _check_k1_k2(k1, k2)
    rnn, linear = _torch_modules(params)
    xt = torch.as_tensor(x, dtype=torch.float64)
    check_array(xt, "x", ("seq_len", "batch", "input_size"), {"input_size": rnn.input_size})
    zt = torch.as_tensor(target, dtype=torch.float64)
    check_array(zt, "target", ("seq_len", "batch", "output_size"),
                {"seq_len": xt.shape[0], "batch": xt.shape[1], "output_size": linear.out_features})
    steps, batch = xt.shape[:2]
    h_start = (torch.zeros(1, batch, rnn.hidden_size, dtype=torch.float64) if h0 is None
               else torch.as_tensor(h0, dtype=torch.float64)[None])
    with torch.no_grad():
        states, _ = rnn(xt, h_start)                  # h_1..h_T of the forward pass
    states = torch.cat([h_start, states])          # (T + 1, batch, hidden), states[0] = h_0
    reach = np.zeros((steps, steps))
    for start, first, end in truncation_windows(steps, k1, k2):
        window_x = xt[start:end].clone().requires_grad_(True)
        out, _ = rnn(window_x, states[start][None])      # the state at start is a constant
        y = linear(out)
        for t in range(first, end):
            loss_t = nn.functional.mse_loss(y[t - start], zt[t])
            (grad,) = torch.autograd.grad(loss_t, window_x, retain_graph=True)
            reach[t, start:end] = grad.flatten(1).norm(dim=1).numpy()
    return reach


def torch_loss_and_grads(params: Params, x: np.ndarray, target: np.ndarray,
                         h0: np.ndarray | None = None, loss: LossName = "mse",
                         batch_first: bool = False) -> tuple[float, Params]:
    """The reference: the same loss and gradients from ``nn.RNN`` + ``nn.Linear`` and autograd.

    The NumPy parameters are loaded into PyTorch's modules in float64 (``bias_ih_l0 = b_h``,
    ``bias_hh_l0 = 0``), the loss is ``T * F.mse_loss`` or ``T * F.cross_entropy`` over all
    steps (= the sum over time of per-step means), and ``loss.backward()`` does the rest.

    Returns:
        ``(L, grads)`` with the keys of :func:`rnn_backward`, as NumPy float64 arrays.
    """
    rnn, linear = _torch_modules(params, batch_first)
    hidden, output = rnn.hidden_size, linear.out_features
    xt = torch.as_tensor(x, dtype=torch.float64)
    batch = xt.shape[0] if batch_first else xt.shape[1]
    steps = xt.shape[1] if batch_first else xt.shape[0]
    h0t = (torch.zeros(1, batch, hidden, dtype=torch.float64) if h0 is None
           else torch.as_tensor(h0, dtype=torch.float64).clone().unsqueeze(0))
    h0t.requires_grad_(True)
    out, _ = rnn(xt, h0t)
    y = linear(out)
    if loss == "mse":
        value = steps * nn.functional.mse_loss(y, torch.as_tensor(target, dtype=torch.float64))
    elif loss == "cross_entropy":
        value = steps * nn.functional.cross_entropy(y.reshape(-1, output),
                                                    torch.as_tensor(target).long().reshape(-1))
    else:
        raise ValueError(f"loss must be 'mse' or 'cross_entropy', got {loss!r}")
    value.backward()
    assert h0t.grad is not None
    grads = {"W_xh": rnn.weight_ih_l0.grad, "W_hh": rnn.weight_hh_l0.grad,
             "b_h": rnn.bias_ih_l0.grad, "W_ho": linear.weight.grad, "b_o": linear.bias.grad,
             "h0": h0t.grad[0]}
    return value.item(), {n: g.detach().numpy().copy() for n, g in grads.items()}


# --------------------------------------------------------------------------------------------
# Truncated BPTT in PyTorch: state detaching, a training loop, and the memory it saves
# --------------------------------------------------------------------------------------------

State = torch.Tensor | tuple[torch.Tensor, ...]


def detach_state(state: State | None) -> State | None:
    """Cut a recurrent state from the graph that produced it (between truncated-BPTT chunks).

    Accepts what PyTorch's recurrent modules return as state: a tensor (``nn.RNN``,
    ``nn.GRU``) or a tuple of tensors (``nn.LSTM``'s ``(h, c)``), or ``None``. The values are
    kept (no copy); only the history is dropped.
    """
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, tuple) and all(isinstance(s, torch.Tensor) for s in state):
        return tuple(s.detach() for s in state)
    raise TypeError(f"state must be a tensor or a tuple of tensors, got {type(state).__name__}")


class RNNRegressor(nn.Module):
    """A one-layer tanh ``nn.RNN`` followed by ``nn.Linear``: the chapter's model in PyTorch.

    Args:
        input_size, hidden_size, output_size: feature sizes.
        batch_first: as in ``torch.nn.RNN``.

    Shape:
        - x: ``(T, batch, input_size)`` (or batch first); h: ``(1, batch, hidden_size)`` or None
        - returns ``(y, h_T)``: ``(T, batch, output_size)`` and ``(1, batch, hidden_size)``
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int,
                 batch_first: bool = False) -> None:
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size, batch_first=batch_first)
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        out, h_last = self.rnn(x, h)
        return self.head(out), h_last


def train_tbptt(model: nn.Module, x: torch.Tensor, y: torch.Tensor, k: int, steps: int,
                lr: float = 3e-3, desc: str | None = None) -> list[float]:
    """Train ``model`` on one long time-major stream with truncated BPTT (``k1 = k2 = k``).

    The stream ``x`` of shape ``(N, batch, input)`` (``batch`` parallel streams) is read in
    consecutive chunks of ``k`` steps; the state is carried from chunk to chunk and detached,
    the loss is ``F.mse_loss`` on the chunk, and Adam takes one step per chunk. At the end of
    the stream reading restarts from the beginning with a zero state.

    Args:
        model: maps ``(x_chunk, state)`` to ``(prediction, state)``, e.g. :class:`RNNRegressor`.
        x, y: inputs and targets, ``(N, batch, input)`` and ``(N, batch, output)``, N >= k.
        k: chunk length (truncation horizon). steps: number of chunks (= optimiser steps).

    Returns:
        The loss of every chunk.
    """
    k = check_positive_int(k, "k")
    steps = check_positive_int(steps, "steps")
    check_array(x, "x", ("seq_len", "batch", "input_size"))
    check_array(y, "y", ("seq_len", "batch", "output_size"),
                {"seq_len": x.shape[0], "batch": x.shape[1]})
    if x.shape[0] < k:
        raise ValueError(f"the stream has {x.shape[0]} steps, fewer than one chunk (k={k})")
    from .runtime import progress

    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    state: State | None = None
    start, losses = 0, []
    for _ in progress(range(steps), desc=desc):
        if start + k > x.shape[0]:
            start, state = 0, None
        state = detach_state(state)
        prediction, state = model(x[start:start + k], state)
        loss = nn.functional.mse_loss(prediction, y[start:start + k])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
        start += k
    return losses


def linear_readout_r2(rnn: nn.Module, lag: int, generator: torch.Generator,
                      steps: int = 2_000, batch: int = 4, burn_in: int = 100) -> float:
    r"""How well the state ``h_t`` of ``rnn`` linearly encodes the input ``lag`` steps earlier.

    Feeds white noise ``x_t ~ N(0, 1)`` (one input feature) to ``rnn`` (time-major, e.g.
    ``RNNRegressor.rnn``), fits the least-squares read-out ``x_{t-lag} ≈ w^T h_t + c`` on one
    stream and returns its :math:`R^2 = 1 - \text{MSE} / \operatorname{Var}(x)` on a second
    stream (both drawn from ``generator``; the first ``burn_in`` steps are skipped). Since
    ``Var(x) = 1``, ``1 - R^2`` is the MSE the best linear read-out of this state would reach
    on the delay-``lag`` echo task.
    """
    if isinstance(lag, bool) or not isinstance(lag, int) or lag < 0:
        raise ValueError(f"lag must be an integer >= 0, got {lag!r}")
    if burn_in < lag:
        raise ValueError(f"burn_in ({burn_in}) must be at least lag ({lag})")
    device = next(rnn.parameters()).device
    dtype = next(rnn.parameters()).dtype

    def design(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            h, _ = rnn(x.to(device=device, dtype=dtype))                       # (T, B, H)
        h = h[burn_in:].reshape(-1, h.shape[-1]).double().cpu()
        features = torch.cat([h, torch.ones(len(h), 1, dtype=h.dtype)], dim=1)
        return features, x[burn_in - lag: x.shape[0] - lag].reshape(-1, 1).double()

    fit_x, score_x = (torch.randn(steps + burn_in, batch, 1, generator=generator)
                      for _ in range(2))
    features, target = design(fit_x)
    weights = torch.linalg.lstsq(features, target).solution
    features, target = design(score_x)
    mse = ((target - features @ weights) ** 2).mean()
    return 1.0 - (mse / target.var()).item()


def saved_tensor_bytes(fn: Callable[[], object]) -> int:
    """Bytes of the tensors autograd saves for the backward pass while ``fn()`` runs.

    Uses ``torch.autograd.graph.saved_tensors_hooks`` (works on CPU and GPU); a tensor saved
    by several operations is counted once. This is the memory that BPTT must keep alive
    between the forward and the backward pass, the part that grows with the sequence length.
    """
    seen: dict[tuple[int, int, torch.dtype], int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        seen[(t.data_ptr(), t.numel(), t.dtype)] = t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())


def plot_unrolled_graph(ax: Any, steps: int = 4, chunk: int | None = None,
                        show_backward: bool = True) -> None:
    """Draw the unrolled RNN with its forward edges (black) and BPTT's backward flow (red).

    Nodes ``x_t``, ``h_t``, ``y_t``, ``l_t`` for ``t = 1..steps`` and ``h_0``. Backward arrows
    carry ``dl_t/dy_t`` down into ``h_t`` and ``delta_{t+1}`` back along the recurrence into
    ``h_t``. With ``chunk=k`` (truncated BPTT, ``k1 = k2 = k``) the recurrent backward edges
    that cross a chunk boundary are cut (grey, crossed): the state is detached there.

    Args:
        ax: a matplotlib ``Axes``.
        steps: number of time steps drawn (1 to 12).
        chunk: truncation length, or ``None`` for full BPTT.
        show_backward: draw the backward flow.
    """
    from .plotting import PALETTE, arrow, finish_diagram

    steps = check_positive_int(steps, "steps")
    if steps > 12:
        raise ValueError(f"steps must be at most 12 to stay readable, got {steps}")
    if chunk is not None:
        chunk = check_positive_int(chunk, "chunk")
    fwd, bwd, cut = PALETTE["black"], PALETTE["vermillion"], "#999999"
    rows = {"x": 0.0, "h": 1.0, "y": 2.0, "l": 3.0}
    labels = {"x": "$x_{%d}$", "h": "$h_{%d}$", "y": "$y_{%d}$", "l": r"$\ell_{%d}$"}
    node = dict(boxstyle="circle,pad=0.3", fc="white", ec=fwd, lw=1.2)
    # plotting.arrow in this figure's style; shrink (points) stops short of the circles
    edge = functools.partial(arrow, ax, linewidth=1.3, head_size=10, zorder=3)

    ax.text(0, rows["h"], "$h_0$", ha="center", va="center", bbox=node, fontsize=10)
    for t in range(1, steps + 1):
        for key, y in rows.items():
            ax.text(t, y, labels[key] % t, ha="center", va="center", bbox=node, fontsize=10)
        edge((t, rows["x"]), (t, rows["h"]), fwd, shrink=13)
        edge((t, rows["h"]), (t, rows["y"]), fwd, shrink=13)
        edge((t, rows["y"]), (t, rows["l"]), fwd, shrink=13)
        edge((t - 1, rows["h"]), (t, rows["h"]), fwd, shrink=13)
        ax.text(t - 0.5, rows["h"] + 0.1, "$W_{hh}$", ha="center", va="bottom", fontsize=8)
        if not show_backward:
            continue
        edge((t + 0.2, rows["l"] - 0.1), (t + 0.2, rows["h"] + 0.1), bwd, linestyle="--",
             shrink=6)
        crosses = chunk is not None and (t - 1) % chunk == 0
        colour = cut if crosses else bwd
        edge((t, rows["h"] - 0.05), (t - 1, rows["h"] - 0.05), colour, linestyle="--",
             rad=-0.5, shrink=13)
        if crosses and t > 1:
            ax.text(t - 0.5, rows["h"] - 0.3, "x", color=cut, ha="center", va="center",
                    fontsize=14, fontweight="bold")
        ax.text(t + 0.22, rows["h"] + 0.22, rf"$\delta_{{{t}}}$", color=bwd, ha="left",
                va="bottom", fontsize=10)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=fwd, marker="", label="forward pass")]
    if show_backward:
        handles.append(Line2D([], [], color=bwd, ls="--", marker="", label="backward flow"))
    if chunk is not None:
        for boundary in range(chunk, steps, chunk):
            ax.axvline(boundary + 0.5, color=cut, lw=1, ls=":")
        handles.append(Line2D([], [], color=cut, ls="--", marker="", label="cut by detach()"))
    ax.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=8,
              bbox_to_anchor=(0.5, 0.02))
    finish_diagram(ax, (-0.6, steps + 0.6), (-0.6, 3.5), equal=False)
