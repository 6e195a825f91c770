"""Self-checks for the exercises of chapter 6 (GRU).

- :func:`check_gru_param_count` (★): a function counting the parameters of ``torch.nn.GRU``.
- :func:`check_gru_step` (★★): one GRU step from the equations, compared with ``torch.nn.GRUCell``.
- :func:`check_minimal_gated_unit` (★★★): a whole sequence through a minimal gated unit.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..selfcheck import expect, expect_close, expect_equal, self_check

__all__ = ["check_gru_param_count", "check_gru_step", "check_minimal_gated_unit"]


@self_check("Exercise 6.1: GRU parameter count")
def check_gru_param_count(count: Callable[[int, int], int]) -> None:
    """``count(input_size, hidden_size)`` must equal the parameters of a 1-layer ``nn.GRU``."""
    for input_size, hidden_size in [(1, 1), (3, 5), (10, 20), (7, 64)]:
        want = sum(p.numel() for p in nn.GRU(input_size, hidden_size, device="meta").parameters())
        got = count(input_size, hidden_size)
        expect(isinstance(got, int) and not isinstance(got, bool),
               f"count({input_size}, {hidden_size}) should return an int, got "
               f"{type(got).__name__}")
        expect_equal(got, want, what=f"count(input_size={input_size}, hidden_size={hidden_size})",
                     hint="three gate blocks (r, z, n), each with W_i (H×I), W_h (H×H) and "
                          "two bias vectors of length H")


@self_check("Exercise 6.2: one GRU step")
def check_gru_step(step: Callable[..., torch.Tensor]) -> None:
    """``step(x, h, w_ih, w_hh, b_ih, b_hh)`` must equal ``torch.nn.GRUCell`` on random inputs."""
    gen = torch.Generator().manual_seed(6)
    for batch, input_size, hidden_size in [(1, 1, 1), (4, 3, 5), (2, 6, 8)]:
        cell = nn.GRUCell(input_size, hidden_size, dtype=torch.float64)
        with torch.no_grad():
            for p in cell.parameters():
                p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
        x = torch.randn(batch, input_size, generator=gen, dtype=torch.float64)
        h = torch.randn(batch, hidden_size, generator=gen, dtype=torch.float64)
        with torch.no_grad():
            want = cell(x, h)
            got = step(x, h, cell.weight_ih.clone(), cell.weight_hh.clone(),
                       cell.bias_ih.clone(), cell.bias_hh.clone())
        expect(isinstance(got, torch.Tensor), f"step should return a tensor, got "
                                              f"{type(got).__name__}")
        expect_close(got, want, what=f"h' for batch={batch}, I={input_size}, H={hidden_size}",
                     atol=1e-10, rtol=1e-10,
                     hint="gate order is r, z, n (use .chunk(3)); PyTorch applies r to "
                          "(W_hn h + b_hn), and h' = (1 - z) * n + z * h")


def _mgu_reference(x: torch.Tensor, h0: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor,
                   b_ih: torch.Tensor, b_hh: torch.Tensor) -> torch.Tensor:
    """Minimal gated unit (Zhou et al., 2016), gate order ``f, n``; returns ``(L, N, H)``."""
    W_if, W_in = w_ih.chunk(2)
    W_hf, W_hn = w_hh.chunk(2)
    b_if, b_in = b_ih.chunk(2)
    b_hf, b_hn = b_hh.chunk(2)
    h, outputs = h0, []
    for x_t in x:
        f = torch.sigmoid(x_t @ W_if.T + b_if + h @ W_hf.T + b_hf)
        n = torch.tanh(x_t @ W_in.T + b_in + (f * h) @ W_hn.T + b_hn)
        h = (1 - f) * h + f * n
        outputs.append(h)
    return torch.stack(outputs)


@self_check("Exercise 6.3: minimal gated unit")
def check_minimal_gated_unit(mgu: Callable[..., torch.Tensor]) -> None:
    """``mgu(x, h0, w_ih, w_hh, b_ih, b_hh)``: a sequence ``x`` ``(L, N, I)`` → ``(L, N, H)``."""
    gen = torch.Generator().manual_seed(66)
    for length, batch, input_size, hidden_size in [(1, 1, 1, 1), (5, 3, 2, 4), (12, 2, 3, 6)]:
        def draw(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, generator=gen, dtype=torch.float64)

        args = (draw(length, batch, input_size), draw(batch, hidden_size),
                draw(2 * hidden_size, input_size), draw(2 * hidden_size, hidden_size),
                draw(2 * hidden_size), draw(2 * hidden_size))
        want = _mgu_reference(*args)
        with torch.no_grad():
            got = mgu(*(a.clone() for a in args))
        expect(isinstance(got, torch.Tensor), f"mgu should return a tensor, got "
                                              f"{type(got).__name__}")
        expect_close(got, want, what=f"outputs for L={length}, N={batch}, I={input_size}, "
                                     f"H={hidden_size}", atol=1e-10, rtol=1e-10,
                     hint="rows of w_ih/w_hh are [f; n]; the gate f multiplies h *before* "
                          "W_hn, and h' = (1 - f) * h + f * n; return every step's state")
