"""Self-checks for the exercises of chapter 6 (GRU).

- :func:`check_gru_param_count` (★): a function counting the parameters of ``torch.nn.GRU``,
  and :func:`check_lstm_width`, its follow-up (the widest LSTM within a GRU's parameters).
- :func:`check_gru_step` (★★): one GRU step from the equations, compared with ``torch.nn.GRUCell``.
- :func:`check_gradient_reach` (★★, an experiment): the update gate's bias against the gradient
  that reaches ``h_0``.
- :func:`check_minimal_gated_unit` (★★★): a whole sequence through a minimal gated unit.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ..selfcheck import (
    expect,
    expect_answered,
    expect_close,
    expect_equal,
    init_parameters,
    self_check,
)

__all__ = ["check_gru_param_count", "check_lstm_width", "check_gru_step", "check_gradient_reach",
           "check_minimal_gated_unit"]


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


#: Other libraries' orders of the three row blocks (PyTorch's and cuDNN's is r, z, n).
_KNOWN_GRU_ORDERS = {("z", "r", "n"): "Keras's and ONNX's order, W[zrh]"}


def _gru_step_variant(order: tuple[str, ...], reset_before: bool, z_keeps_new: bool,
                      x: torch.Tensor, h: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor,
                      b_ih: torch.Tensor, b_hh: torch.Tensor) -> torch.Tensor:
    """One GRU step with the k-th row block read as gate ``order[k]``; ``reset_before``: Cho et
    al.'s ``W_hn (r ⊙ h) + b_hn``; ``z_keeps_new``: ``h' = z ⊙ n + (1 - z) ⊙ h``."""
    wi = dict(zip(order, w_ih.chunk(3)))
    wh = dict(zip(order, w_hh.chunk(3)))
    bi = dict(zip(order, b_ih.chunk(3)))
    bh = dict(zip(order, b_hh.chunk(3)))
    r = torch.sigmoid(x @ wi["r"].T + bi["r"] + h @ wh["r"].T + bh["r"])
    z = torch.sigmoid(x @ wi["z"].T + bi["z"] + h @ wh["z"].T + bh["z"])
    hidden = (r * h) @ wh["n"].T + bh["n"] if reset_before else r * (h @ wh["n"].T + bh["n"])
    n = torch.tanh(x @ wi["n"].T + bi["n"] + hidden)
    return z * n + (1 - z) * h if z_keeps_new else (1 - z) * n + z * h


def _gru_mistakes(got: object, args: tuple[torch.Tensor, ...]) -> str | None:
    """Name what an answer that is a known variant of PyTorch's GRU step did differently."""
    if not isinstance(got, torch.Tensor):
        return None
    for order in itertools.permutations("rzn"):
        for reset_before in (False, True):
            for z_keeps_new in (False, True):
                if order == ("r", "z", "n") and not reset_before and not z_keeps_new:
                    continue                                  # that is PyTorch's step
                want = _gru_step_variant(order, reset_before, z_keeps_new, *args)
                if got.shape != want.shape or not torch.allclose(
                        got.detach().to(want.dtype), want, atol=1e-10, rtol=1e-10):
                    continue
                mistakes = []
                if order != ("r", "z", "n"):
                    known = _KNOWN_GRU_ORDERS.get(order)
                    mistakes.append(f"you read the row blocks as {', '.join(order)}"
                                    + (f" ({known})" if known else "")
                                    + "; PyTorch's chunks are r, z, n")
                if reset_before:
                    mistakes.append("you applied the reset gate before W_hn, W_hn (r ⊙ h) + b_hn: "
                                    "that is Cho et al.'s (2014) original GRU (gru.gru_cell's "
                                    "variant='cho'); PyTorch computes r ⊙ (W_hn h + b_hn)")
                if z_keeps_new:
                    mistakes.append("you swapped z and 1 - z, h' = z ⊙ n + (1 - z) ⊙ h, the "
                                    "convention of some texts (e.g. Chung et al., 2014); in "
                                    "PyTorch z keeps the old state: h' = (1 - z) ⊙ n + z ⊙ h")
                return "; and ".join(mistakes)
    return None


@self_check("Exercise 6.2: one GRU step")
def check_gru_step(step: Callable[..., torch.Tensor]) -> None:
    """``step(x, h, w_ih, w_hh, b_ih, b_hh)`` must equal ``torch.nn.GRUCell`` on random inputs.

    Random float64 weights and inputs from a local generator. An answer that is a known
    variant (Cho et al.'s reset before ``W_hn``, ``z`` and ``1 - z`` swapped, another gate
    order, or a combination) is told which.
    """
    gen = torch.Generator().manual_seed(6)
    for batch, input_size, hidden_size in [(1, 1, 1), (4, 3, 5), (2, 6, 8)]:
        cell = nn.GRUCell(input_size, hidden_size, dtype=torch.float64)
        with torch.no_grad():
            for p in cell.parameters():
                p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
        x = torch.randn(batch, input_size, generator=gen, dtype=torch.float64)
        h = torch.randn(batch, hidden_size, generator=gen, dtype=torch.float64)
        weights = tuple(p.detach().clone() for p in (cell.weight_ih, cell.weight_hh,
                                                     cell.bias_ih, cell.bias_hh))
        with torch.no_grad():
            want = cell(x, h)
            got = step(x.clone(), h.clone(), *(w.clone() for w in weights))
        expect(isinstance(got, torch.Tensor), f"step should return a tensor, got "
                                              f"{type(got).__name__}")
        if got.shape == want.shape and torch.allclose(got.to(want.dtype), want, atol=1e-10,
                                                      rtol=1e-10):
            continue
        mistakes = _gru_mistakes(got, (x, h, *weights))
        expect(mistakes is None, f"h' differs from nn.GRUCell's: {mistakes}")
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


@self_check("Exercise 6.4: minimal gated unit")
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


def _lstm_width_within(input_size: int, gru_hidden: int) -> int:
    """The widest LSTM(input_size, H) with no more parameters than GRU(input_size, gru_hidden)."""
    budget = 3 * (gru_hidden * input_size + gru_hidden ** 2 + 2 * gru_hidden)
    width = 0
    while 4 * ((width + 1) * input_size + (width + 1) ** 2 + 2 * (width + 1)) <= budget:
        width += 1
    return width


@self_check("Exercise 6.1 (follow-up): the widest LSTM within a GRU's parameters")
def check_lstm_width(width: int | None) -> None:
    """``width``: the largest LSTM hidden size, reading 100 features, with no more parameters
    than a GRU(100, 256)."""
    expect_answered(width is not None, "not answered yet: set lstm_width to a number of units")
    expect(isinstance(width, (int, np.integer)) and not isinstance(width, bool),
           f"lstm_width should be an int (a number of units), got {type(width).__name__}")
    want = _lstm_width_within(100, 256)
    wrong = {192: "3/4 of 256: the parameters grow like H^2 + H·I, not like H, so scaling the "
                  "width by 3/4 overshoots the saving",
             221: "256·sqrt(3/4): that ignores the input matrices H×I and the biases, which "
                  "grow only linearly in H",
             256: "an LSTM has four gate blocks to the GRU's three: at equal width it has 4/3 "
                  "of the GRU's parameters"}
    expect(int(width) not in wrong or int(width) == want,
           f"lstm_width = {width}: {wrong.get(int(width), '')}")
    expect(int(width) != want + 1, f"lstm_width = {width} is one too wide: it has "
                                   f"{4 * (width * 100 + width ** 2 + 2 * width):,} parameters, "
                                   f"more than the GRU's "
                                   f"{3 * (256 * 100 + 256 ** 2 + 512):,}")
    expect_equal(int(width), want, what="lstm_width",
                 hint="solve 4(100 H + H^2 + 2H) <= 3(100·256 + 256^2 + 2·256) for the "
                      "largest integer H")


def _reach_reference(gru: nn.GRU, b_z: float, x: torch.Tensor) -> float:
    """‖∂(sum of h_T)/∂h_0‖ at h_0 = 0 after setting b_iz = b_z, b_hz = 0 on ``gru``."""
    H = gru.hidden_size
    with torch.no_grad():
        gru.bias_ih_l0[H:2 * H] = b_z
        gru.bias_hh_l0[H:2 * H] = 0.0
    h0 = torch.zeros(1, x.shape[1], H, dtype=x.dtype, requires_grad=True)
    _, h_n = gru(x, h0)
    (grad,) = torch.autograd.grad(h_n.sum(), h0)
    return grad.norm().item()


def _reach_mistakes(gru: nn.GRU, b_z: float, x: torch.Tensor) -> dict[str, float]:
    """What common wrong versions of the measurement return, by the mistake's description."""
    H = gru.hidden_size

    def variant(rows: slice, b_ih: float, b_hh: float | None) -> float:
        model = copy.deepcopy(gru)
        with torch.no_grad():
            model.bias_ih_l0[rows] = b_ih
            if b_hh is not None:
                model.bias_hh_l0[rows] = b_hh
        h0 = torch.zeros(1, x.shape[1], H, dtype=x.dtype, requires_grad=True)
        (grad,) = torch.autograd.grad(model(x, h0)[1].sum(), h0)
        return grad.norm().item()

    z = slice(H, 2 * H)
    out = {"you set the reset gate's bias (rows 0:H); PyTorch's blocks are r, z, n, so the "
           "update gate is rows H:2H": variant(slice(0, H), b_z, 0.0),
           "you set the candidate's bias (rows 2H:3H); the update gate is rows H:2H":
               variant(slice(2 * H, 3 * H), b_z, 0.0),
           "you set both bias_ih and bias_hh of the update gate to b_z: the gate adds them, so "
           "it saw 2 b_z; set bias_hh's block to 0": variant(z, b_z, b_z),
           "you left bias_hh's update-gate block as initialised: the gate saw b_z plus that "
           "random bias; set it to 0": variant(z, b_z, None)}
    return out


@self_check("Exercise 6.3: the update gate's bias and the gradient's reach")
def check_gradient_reach(reach: Callable[..., float]) -> None:
    """``reach(gru, b_z, x)`` must set the update gate's bias of the one-layer ``nn.GRU``
    ``gru`` to ``b_z`` (``b_iz = b_z``, ``b_hz = 0``) and return ‖∂(sum of h_T)/∂h_0‖ at
    ``h_0 = 0`` for the input ``x`` ``(T, N, I)``. Random sizes, weights and biases from a
    local generator; the common wrong versions are named."""
    gen = torch.Generator().manual_seed(63)
    for _ in range(3):
        input_size, hidden = (int(v) for v in torch.randint(1, 5, (2,), generator=gen))
        hidden += 3
        length, batch = int(torch.randint(5, 30, (1,), generator=gen)), 3
        b_z = round(float(torch.rand(1, generator=gen)) * 4, 2)
        gru = init_parameters(nn.GRU(input_size, hidden, dtype=torch.float64), gen)
        x = torch.randn(length, batch, input_size, generator=gen, dtype=torch.float64)
        mistakes = _reach_mistakes(gru, b_z, x)
        want = _reach_reference(copy.deepcopy(gru), b_z, x)
        got = reach(copy.deepcopy(gru), b_z, x.clone())
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        expect(isinstance(got, (float, int, np.floating)) and not isinstance(got, bool),
               f"reach should return a number (a norm), got {type(got).__name__}")
        got = float(got)
        if abs(got - want) <= 1e-6 * abs(want) + 1e-12:
            continue
        for mistake, value in mistakes.items():
            expect(abs(got - value) > 1e-6 * abs(value) + 1e-12,
                   f"reach(b_z={b_z}) = {got:.4g} instead of {want:.4g}: {mistake}")
        expect(False, f"reach(b_z={b_z}, T={length}) = {got:.4g}, expected {want:.4g}. Hint: "
                      "bias_ih_l0[H:2H] = b_z and bias_hh_l0[H:2H] = 0 under torch.no_grad(); "
                      "h0 = zeros (1, N, H) with requires_grad=True; the norm of the gradient "
                      "of h_T.sum() with respect to h0")
