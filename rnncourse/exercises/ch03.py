"""Self-checks for chapter 3, "Backpropagation through time".

- :func:`check_detach_state` (★): cut a recurrent state (tensor or LSTM tuple) from its graph.
- :func:`check_step_backward` (★★): backward through one time step of a tanh RNN.
- :func:`check_tbptt_grads` (★★★): the gradient of truncated BPTT(k1, k2).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import bptt
from ..selfcheck import CheckFailed, expect, expect_close, init_parameters, self_check

__all__ = ["check_detach_state", "check_step_backward", "check_tbptt_grads"]


def _expect_detached(got: Any, want: torch.Tensor, what: str) -> None:
    expect(isinstance(got, torch.Tensor), f"{what} should be a torch.Tensor, got "
           f"{type(got).__name__}")
    expect(got.grad_fn is None and not got.requires_grad,
           f"{what} is still attached to the graph (grad_fn={got.grad_fn}); "
           "the next chunk's backward() would run into the previous chunk. Hint: .detach()")
    expect_close(got, want, what, atol=0, rtol=0,
                 hint="detaching must keep the values: only the history is dropped")


@self_check("Exercise 3.1 (★): detach the state between chunks")
def check_detach_state(detach_state: Callable[[Any], Any]) -> None:
    """``detach_state(state)`` must handle a tensor, an ``(h, c)`` tuple, and ``None``."""
    gen = torch.Generator().manual_seed(0)  # a local stream: the global one is not touched
    rnn, lstm = init_parameters(nn.RNN(2, 3), gen), init_parameters(nn.LSTM(2, 3), gen)
    x = torch.randn(4, 1, 2, generator=gen)
    _, h = rnn(x)
    _expect_detached(detach_state(h), h, "detach_state(h) for an nn.RNN state")
    _, (h, c) = lstm(x)
    got = detach_state((h, c))
    expect(isinstance(got, tuple) and len(got) == 2,
           f"for an LSTM state (h, c), detach_state should return a tuple of 2 tensors, got "
           f"{type(got).__name__}" + (f" of length {len(got)}" if isinstance(got, tuple) else "")
           + ". Hint: nn.LSTM takes its state back as a tuple, and both h and c carry history")
    _expect_detached(got[0], h, "detach_state((h, c))[0]")
    _expect_detached(got[1], c, "detach_state((h, c))[1] (the cell state c)")
    expect(detach_state(None) is None,
           "detach_state(None) should return None (the first chunk starts with no state)")


def _random_step(rng: np.random.Generator, batch: int = 3, inputs: int = 4, hidden: int = 5
                 ) -> tuple[np.ndarray, ...]:
    delta = rng.normal(size=(batch, hidden))
    h = np.tanh(rng.normal(size=(batch, hidden)))
    h_prev = np.tanh(rng.normal(size=(batch, hidden)))
    x = rng.normal(size=(batch, inputs))
    W_hh = rng.normal(size=(hidden, hidden))
    return delta, h, h_prev, x, W_hh


@self_check("Exercise 3.2 (★★): backward through one time step")
def check_step_backward(step_backward: Callable[..., Any]) -> None:
    """``step_backward(delta, h, h_prev, x, W_hh) -> (dW_xh, dW_hh, db_h, dh_prev)``."""
    rng = np.random.default_rng(3)
    for _ in range(3):
        args = _random_step(rng)
        got = step_backward(*args)
        expect(isinstance(got, (tuple, list)) and len(got) == 4,
               "step_backward should return a tuple (dW_xh, dW_hh, db_h, dh_prev), got "
               f"{type(got).__name__}")
        want = bptt.rnn_step_backward(*args)
        delta, h, h_prev, x, W_hh = args
        no_tanh = delta.T @ x
        hints = {
            "dW_xh": "dW_xh = R^T x with R = (1 - h**2) * delta"
            + (" — you forgot the tanh derivative (1 - h**2)"
               if np.shape(got[0]) == no_tanh.shape and np.allclose(got[0], no_tanh) else ""),
            "dW_hh": "dW_hh = R^T h_prev (h_{t-1}, not h_t)",
            "db_h": "db_h sums R over the batch: shape (hidden,)",
            "dh_prev": "dh_prev = R W_hh (row-major batch: h_prev W_hh^T feeds a_t, so the "
                       "gradient multiplies by W_hh, not by its transpose)",
        }
        for value, reference, name in zip(got, want, hints):
            expect_close(value, reference, name, atol=1e-10, rtol=1e-8, hint=hints[name])


@self_check("Exercise 3.3 (★★★): the gradient of truncated BPTT(k1, k2)")
def check_tbptt_grads(tbptt_grads: Callable[..., Any]) -> None:
    """``tbptt_grads(params, x, target, k1, k2, h0) -> {name: gradient}`` (MSE loss)."""
    rng = np.random.default_rng(7)
    steps, batch = 11, 2
    params = bptt.init_params(3, 6, 2, rng)
    x = rng.normal(size=(steps, batch, 3))
    target = rng.normal(size=(steps, batch, 2))
    h0 = 0.5 * rng.normal(size=(batch, 6))
    _, full = bptt.loss_and_grads(params, x, target, h0)
    for k1, k2 in [(11, 11), (4, 4), (3, 5), (1, 3), (2, 20)]:
        got = tbptt_grads(params, x, target, k1, k2, h0)
        what = f"tbptt_grads(..., k1={k1}, k2={k2})"
        expect(isinstance(got, dict), f"{what} should return a dict {{name: gradient}}, got "
               f"{type(got).__name__}")
        missing = [n for n in bptt.PARAM_NAMES if n not in got]
        expect(not missing, f"{what} has no gradient for {missing}")
        _, want = bptt.truncated_bptt_grads(params, x, target, k1, k2, h0)
        for name in bptt.PARAM_NAMES:
            try:
                expect_close(got[name], want[name], f"{what}[{name!r}]", atol=1e-10, rtol=1e-8)
            except CheckFailed as failure:
                hint = ""
                if k1 < steps and np.allclose(np.asarray(got[name]), full[name]):
                    hint = (" — this is the FULL BPTT gradient: the state k2 steps back must "
                            "be treated as a constant")
                elif (k1, k2) == (3, 5):
                    hint = (" — with k2 > k1, each update backpropagates only the losses of "
                            "its last k1 steps, through k2 steps")
                raise CheckFailed(str(failure) + hint) from None
