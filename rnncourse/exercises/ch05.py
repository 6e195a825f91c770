"""Self-checks for chapter 5 (LSTM): ``from rnncourse.exercises import ch05``."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..selfcheck import CheckFailed, expect, expect_close, expect_equal, self_check

__all__ = ["check_lstm_param_count", "check_lstm_step", "check_cell_gradient",
           "check_coupled_step"]

_StepFn = Callable[..., tuple[torch.Tensor, torch.Tensor]]


@self_check("Exercise 5.1: LSTM parameter count")
def check_lstm_param_count(count_params: Callable[[int, int], int]) -> None:
    """``count_params(input_size, hidden_size)`` must equal the size of ``nn.LSTM(I, H)``."""
    for i, h in ((1, 1), (3, 5), (10, 64), (64, 7)):
        want = sum(p.numel() for p in nn.LSTM(i, h, device="meta").parameters())  # no RNG
        got = count_params(i, h)
        hint = ""
        if isinstance(got, int) and got == want - 4 * h:
            hint = "PyTorch has TWO bias vectors per gate (bias_ih and bias_hh)"
        elif isinstance(got, int) and got * 4 == want:
            hint = "an LSTM has four blocks (i, f, g, o), each as big as a plain RNN"
        elif isinstance(got, int) and got == want - 4 * 2 * h:
            hint = "you left out the bias vectors"
        expect_equal(got, want, what=f"count_params({i}, {h})",
                     hint=hint or "per gate: H·I input weights, H·H recurrent weights, 2H biases")


def _random_step_inputs(seed: int, n: int = 3, i: int = 4, h: int = 5, blocks: int = 4
                        ) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)

    def r(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    width = blocks * h
    return r(n, i), r(n, h), r(n, h), r(width, i), r(width, h), r(width), r(width)


def _call_step(step: _StepFn, args: tuple[torch.Tensor, ...], name: str
               ) -> tuple[torch.Tensor, torch.Tensor]:
    out = step(*(a.clone() for a in args))
    expect(isinstance(out, (tuple, list)) and len(out) == 2,
           f"{name} must return a tuple (h_new, c_new), got {type(out).__name__}")
    return out[0], out[1]


@self_check("Exercise 5.2: one LSTM step")
def check_lstm_step(lstm_step: _StepFn) -> None:
    """``lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh) -> (h', c')`` must equal ``nn.LSTMCell``."""
    for seed in range(3):
        args = _random_step_inputs(seed)
        x, h, c, w_ih, w_hh, b_ih, b_hh = args
        cell = nn.LSTMCell(4, 5, dtype=torch.float64)
        with torch.no_grad():
            for p, v in zip((cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh),
                            (w_ih, w_hh, b_ih, b_hh)):
                p.copy_(v)
            want_h, want_c = cell(x, (h, c))
        got_h, got_c = _call_step(lstm_step, args, "lstm_step")
        hint = "the four row blocks of the weights are in PyTorch's order i, f, g, o"
        expect_close(got_c, want_c, what="c_new", atol=1e-10, rtol=1e-8,
                     hint=hint + "; c_new = f * c + i * g")
        expect_close(got_h, want_h, what="h_new", atol=1e-10, rtol=1e-8,
                     hint="h_new = o * tanh(c_new) with the NEW cell state")


@self_check("Exercise 5.3: gradient along the cell path")
def check_cell_gradient(cell_path_gradient: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """``cell_path_gradient(f)`` with ``f`` of shape ``(T, H)`` returns ``∂c_T/∂c_0`` ``(H,)``.

    The reference differentiates ``c_t = f_t * c_{t-1} + u_t`` with autograd.
    """
    g = torch.Generator().manual_seed(5)
    for steps in (1, 4, 30):
        f = torch.rand(steps, 6, generator=g, dtype=torch.float64) * 0.5 + 0.5
        u = torch.randn(steps, 6, generator=g, dtype=torch.float64)
        c0 = torch.randn(6, generator=g, dtype=torch.float64, requires_grad=True)
        c = c0
        for t in range(steps):
            c = f[t] * c + u[t]
        (want,) = torch.autograd.grad(c.sum(), c0)
        got = cell_path_gradient(f.clone())
        expect_close(got, want, what=f"∂c_T/∂c_0 for T={steps}", atol=1e-12, rtol=1e-9,
                     hint="the chain rule multiplies the step derivatives: a product over time")


def _coupled_step_reference(x: torch.Tensor, h: torch.Tensor, c: torch.Tensor,
                            w_ih: torch.Tensor, w_hh: torch.Tensor, b_ih: torch.Tensor,
                            b_hh: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Coupled input–forget gate (CIFG) step, blocks ``i, g, o``: ``c' = (1-i)·c + i·g``."""
    zi, zg, zo = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(3, dim=-1)
    i = torch.sigmoid(zi)
    c_new = (1 - i) * c + i * torch.tanh(zg)
    return torch.sigmoid(zo) * torch.tanh(c_new), c_new


@self_check("Exercise 5.4: coupled input-forget gate (CIFG)")
def check_coupled_step(coupled_step: _StepFn) -> None:
    """``coupled_step(x, h, c, w_ih, w_hh, b_ih, b_hh)``; ``(3H, ·)`` weights, blocks i, g, o."""
    for seed in range(3):
        args = _random_step_inputs(seed, blocks=3)
        want_h, want_c = _coupled_step_reference(*args)
        got_h, got_c = _call_step(coupled_step, args, "coupled_step")
        try:
            expect_close(got_c, want_c, what="c_new", atol=1e-10, rtol=1e-8)
        except CheckFailed as failure:
            raise CheckFailed(f"{failure}. Hint: the forget gate is replaced by (1 - i): "
                              f"c_new = (1 - i) * c + i * g, with blocks i, g, o") from None
        expect_close(got_h, want_h, what="h_new", atol=1e-10, rtol=1e-8,
                     hint="h_new = o * tanh(c_new)")
