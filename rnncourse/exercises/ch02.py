"""Self-checks for chapter 2, "The mathematics of the forward pass".

- :func:`check_param_count` (★) — a function counting the parameters of ``nn.RNN``
- :func:`check_rnn_step` (★★) — one RNN step in NumPy
- :func:`check_softmax_cross_entropy` (★★) — a stable softmax and cross-entropy in NumPy
- :func:`check_rnn_forward` (★★★) — a multi-layer, ``batch_first`` forward pass in NumPy
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..forward import rnn_cell_numpy, rnn_weights_from_torch
from ..selfcheck import expect, expect_close, expect_equal, init_parameters, self_check

__all__ = ["check_param_count", "check_rnn_step", "check_softmax_cross_entropy",
           "check_rnn_forward"]

_CONFIGS = [  # (input_size, hidden_size, num_layers, bias)
    (3, 5, 1, True), (3, 5, 1, False), (10, 4, 2, True), (7, 16, 3, True), (2, 9, 3, False),
]


def _count_variant(input_size: int, hidden_size: int, num_layers: int, bias: bool,
                   n_bias: int = 2, upper_in: str = "hidden") -> int:
    """Parameter counts with typical mistakes, to recognise them in a learner's answer."""
    total = 0
    for k in range(num_layers):
        layer_in = input_size if k == 0 or upper_in == "input" else hidden_size
        total += hidden_size * (layer_in + hidden_size) + (n_bias * hidden_size if bias else 0)
    return total


@self_check("Exercise 2.1 (★): parameter count of nn.RNN")
def check_param_count(count_params: Callable[..., Any]) -> None:
    """``count_params(input_size, hidden_size, num_layers, bias)`` must return an int."""
    for input_size, hidden_size, num_layers, bias in _CONFIGS:
        got = count_params(input_size=input_size, hidden_size=hidden_size,
                           num_layers=num_layers, bias=bias)
        call = (f"count_params(input_size={input_size}, hidden_size={hidden_size}, "
                f"num_layers={num_layers}, bias={bias})")
        expect(isinstance(got, (int, np.integer)) and not isinstance(got, bool),
               f"{call} should return an int, got {type(got).__name__} ({got!r})")
        rnn = torch.nn.RNN(input_size, hidden_size, num_layers, bias=bias, device="meta")
        want = sum(p.numel() for p in rnn.parameters())  # "meta": shapes only, no RNG used
        hint = "count W_ih, W_hh and the bias vectors of every layer"
        if bias and got == _count_variant(input_size, hidden_size, num_layers, bias, n_bias=1):
            hint = "PyTorch has two bias vectors per layer, b_ih and b_hh"
        elif got == _count_variant(input_size, hidden_size, num_layers, bias, upper_in="input"):
            hint = "layers above the first read the hidden_size states of the layer below"
        elif not bias and got == _count_variant(input_size, hidden_size, num_layers, True):
            hint = "with bias=False there are no bias vectors at all"
        expect_equal(int(got), want, what=call, hint=hint)


@self_check("Exercise 2.2 (★★): one RNN step in NumPy")
def check_rnn_step(rnn_step: Callable[..., Any]) -> None:
    """``rnn_step(x_t, h_prev, w_ih, w_hh, b_ih, b_hh) -> h_t`` with PyTorch's weight shapes."""
    rng = np.random.default_rng(2)
    batch, input_size, hidden_size = 4, 3, 5  # all different, so a wrong transpose shows
    x_t = rng.standard_normal((batch, input_size))
    h_prev = np.tanh(rng.standard_normal((batch, hidden_size)))
    w_ih = rng.standard_normal((hidden_size, input_size)) * 0.5
    w_hh = rng.standard_normal((hidden_size, hidden_size)) * 0.5
    b_ih, b_hh = rng.standard_normal(hidden_size), rng.standard_normal(hidden_size)
    got = rnn_step(x_t.copy(), h_prev.copy(), w_ih.copy(), w_hh.copy(), b_ih.copy(), b_hh.copy())
    want = rnn_cell_numpy(x_t, h_prev, w_ih, w_hh, b_ih, b_hh)
    shape = getattr(got, "shape", None)
    expect(shape is not None, f"rnn_step should return an array of shape {want.shape}, "
                              f"got {type(got).__name__}")
    hint = "h_t = tanh(x_t @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh)"
    if tuple(shape) == want.shape[::-1]:
        hint = ("your result is transposed: with the batch in rows, multiply x_t @ w_ih.T "
                "(PyTorch stores W_ih as (hidden_size, input_size))")
    elif tuple(shape) == want.shape:
        g = np.asarray(got, dtype=np.float64)
        if np.allclose(g, rnn_cell_numpy(x_t, h_prev, w_ih, w_hh, b_ih, None)):
            hint = "you forgot b_hh: PyTorch adds both b_ih and b_hh"
        elif np.allclose(g, rnn_cell_numpy(x_t, h_prev, w_ih, w_hh, None, b_hh)):
            hint = "you forgot b_ih: PyTorch adds both b_ih and b_hh"
        elif np.allclose(g, np.tanh(x_t @ w_ih.T + h_prev @ w_hh + b_ih + b_hh)):
            hint = "h_prev must be multiplied by w_hh.T, not w_hh"
        elif np.allclose(g, x_t @ w_ih.T + h_prev @ w_hh.T + b_ih + b_hh):
            hint = "apply tanh to the pre-activation"
    expect_close(got, want, what="h_t", atol=1e-10, rtol=1e-8, hint=hint)
    # Also one sample of PyTorch's own cell, in float32 (weights from a local generator).
    cell = init_parameters(torch.nn.RNNCell(input_size, hidden_size),
                           torch.Generator().manual_seed(2))
    w = [p.detach().numpy() for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]
    x32, h32 = x_t.astype(np.float32), h_prev.astype(np.float32)
    want_torch = cell(torch.from_numpy(x32), torch.from_numpy(h32)).detach().numpy()
    expect_close(rnn_step(x32, h32, *w), want_torch, what="h_t for torch.nn.RNNCell's weights",
                 atol=1e-6, rtol=1e-5, hint=hint)


@self_check("Exercise 2.3 (★★): stable softmax and cross-entropy")
def check_softmax_cross_entropy(softmax_fn: Callable[..., Any],
                                cross_entropy_fn: Callable[..., Any]) -> None:
    """``softmax_fn(z)`` over the last axis; ``cross_entropy_fn(logits, targets)`` (a mean)."""
    rng = np.random.default_rng(3)
    z = rng.standard_normal((6, 4)) * 3
    expect_close(softmax_fn(z.copy()), torch.softmax(torch.from_numpy(z), dim=-1),
                 what="softmax_fn(z) for z of shape (6, 4)", atol=1e-12,
                 hint="softmax along the last axis: exp(z) / exp(z).sum(-1, keepdims=True)")
    big = z * 1000.0  # exp(3000) overflows a float64
    expect_close(softmax_fn(big.copy()), torch.softmax(torch.from_numpy(big), dim=-1),
                 what="softmax_fn(z) for large logits (|z| up to ~1e4)", atol=1e-12,
                 hint="subtract the row maximum before exp: softmax(z) = softmax(z - max z)")
    targets = rng.integers(0, 4, size=6)
    want = F.cross_entropy(torch.from_numpy(z), torch.from_numpy(targets)).item()
    got = cross_entropy_fn(z.copy(), targets.copy())
    probs_ce = F.cross_entropy(torch.softmax(torch.from_numpy(z), -1),
                               torch.from_numpy(targets)).item()
    hint = "the mean over the batch of -log softmax(logits)[i, targets[i]]"
    if np.isclose(float(np.asarray(got)), probs_ce):
        hint = "cross_entropy_fn takes logits: apply softmax inside it, once"
    expect_close(np.asarray(got, dtype=np.float64).reshape(()), want,
                 what="cross_entropy_fn(logits, targets)", atol=1e-10, hint=hint)
    want_big = F.cross_entropy(torch.from_numpy(big), torch.from_numpy(targets)).item()
    expect_close(np.asarray(cross_entropy_fn(big.copy(), targets.copy()),
                            dtype=np.float64).reshape(()), want_big,
                 what="cross_entropy_fn for large logits", atol=1e-8, rtol=1e-10,
                 hint="use log-softmax = z - max z - log(sum(exp(z - max z))), never log(softmax)")


@self_check("Exercise 2.4 (★★★): a multi-layer batch_first forward pass")
def check_rnn_forward(rnn_forward: Callable[..., Any]) -> None:
    """``rnn_forward(x, weights, h0) -> (output, h_n)`` with ``x`` of shape (N, L, H_in)."""
    batch, seq_len, input_size, hidden_size, num_layers = 2, 7, 4, 6, 3
    gen = torch.Generator().manual_seed(4)  # a local stream: the global one is not touched
    rnn = init_parameters(torch.nn.RNN(input_size, hidden_size, num_layers, batch_first=True,
                                       dtype=torch.float64), gen)
    x = torch.randn(batch, seq_len, input_size, generator=gen, dtype=torch.float64)
    h0 = torch.randn(num_layers, batch, hidden_size, generator=gen, dtype=torch.float64) * 0.5
    with torch.no_grad():
        want_out, want_hn = rnn(x, h0)
    weights = rnn_weights_from_torch(rnn)
    result = rnn_forward(x.numpy().copy(), weights, h0.numpy().copy())
    expect(isinstance(result, tuple) and len(result) == 2,
           f"rnn_forward should return a tuple (output, h_n), got {type(result).__name__}")
    out, h_n = result
    out_shape, hn_shape = tuple(np.shape(out)), tuple(np.shape(h_n))
    expect(out_shape != (seq_len, batch, hidden_size),
           f"output has shape {out_shape} = (seq_len, batch, hidden): with batch_first=True "
           f"it must be (batch, seq_len, hidden) = {(batch, seq_len, hidden_size)}")
    expect(hn_shape != (batch, hidden_size),
           f"h_n has shape {hn_shape}: it must hold the final state of every layer, "
           f"(num_layers, batch, hidden) = {(num_layers, batch, hidden_size)}")
    expect(hn_shape != (batch, num_layers, hidden_size),
           f"h_n has shape {hn_shape}: h_n is never batch-first, it is "
           f"(num_layers, batch, hidden) = {(num_layers, batch, hidden_size)}")
    expect_close(h_n, want_hn, what="h_n", atol=1e-10,
                 hint="layer k starts from h0[k]; h_n[k] is layer k's state after the last step")
    expect_close(out, want_out, what="output", atol=1e-10,
                 hint="output holds the LAST layer's state at every step; layer k+1's input at "
                      "step t is layer k's state at step t")
