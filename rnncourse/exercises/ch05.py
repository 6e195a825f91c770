"""Self-checks for chapter 5 (LSTM): ``from rnncourse.exercises import ch05``."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable

import torch
from torch import nn

from ..selfcheck import CheckFailed, expect, expect_answered, expect_close, expect_equal, self_check

__all__ = ["check_lstm_param_count", "check_lstm_step", "check_cell_gradient",
           "check_steps_below", "check_coupled_step", "check_cifg_saving",
           "check_no_forget_gate"]

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


#: Other libraries' orders of the four row blocks (PyTorch's, cuDNN's and Keras's is i, f, g, o).
_KNOWN_GATE_ORDERS = {
    ("i", "g", "f", "o"): "TensorFlow 1's tf.nn.rnn_cell.LSTMCell order, i, j, f, o",
    ("i", "o", "f", "g"): "ONNX's order, W[iofc]",
}


def _lstm_step_in_order(order: tuple[str, ...], x: torch.Tensor, h: torch.Tensor,
                        c: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor,
                        b_ih: torch.Tensor, b_hh: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step that reads the k-th row block of the weights as gate ``order[k]``."""
    blocks = dict(zip(order, (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=-1)))
    c_new = torch.sigmoid(blocks["f"]) * c + torch.sigmoid(blocks["i"]) * torch.tanh(blocks["g"])
    return torch.sigmoid(blocks["o"]) * torch.tanh(c_new), c_new


def _same(got: object, want: torch.Tensor) -> bool:
    return (isinstance(got, torch.Tensor) and got.shape == want.shape
            and torch.allclose(got.detach().to(want.dtype), want, atol=1e-10, rtol=1e-8))


def _gate_order_hint(got: tuple[torch.Tensor, torch.Tensor], args: tuple[torch.Tensor, ...]
                     ) -> str | None:
    """Name the permutation of PyTorch's blocks (i, f, g, o) that the answer used, if any."""
    for order in itertools.permutations("ifgo"):
        if order == ("i", "f", "g", "o"):
            continue
        want_h, want_c = _lstm_step_in_order(order, *args)
        if _same(got[0], want_h) and _same(got[1], want_c):
            known = _KNOWN_GATE_ORDERS.get(order)
            used = ", ".join(order) + (f" ({known})" if known else "")
            return (f"you read the four row blocks of the weights as {used}; PyTorch's chunks "
                    f"are i, f, g, o: weight_ih = [W_ii; W_if; W_ig; W_io]")
    return None


@self_check("Exercise 5.2: one LSTM step")
def check_lstm_step(lstm_step: _StepFn) -> None:
    """``lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh) -> (h', c')`` must equal ``nn.LSTMCell``.

    Random float64 inputs from a local generator. An answer that is right except for the
    order of the four row blocks is told which order it used (24 orders are tried).
    """
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
        if not (_same(got_h, want_h) and _same(got_c, want_c)):
            expect(not (_same(got_h, want_c) and _same(got_c, want_h)),
                   "you returned (c_new, h_new); return (h_new, c_new), the order of "
                   "nn.LSTMCell's output")
            order = _gate_order_hint((got_h, got_c), args)
            expect(order is None, f"h_new and c_new differ from nn.LSTMCell's: {order}")
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


def _fresh_generator() -> torch.Generator:
    """A private generator with a new seed on every call: the learner's RNG is not touched."""
    return torch.Generator().manual_seed(int.from_bytes(os.urandom(6), "little"))


# ---------------------------------------------------------------------------------------------
# Exercise 5.3, follow-up: how many steps until the cell-path gradient is below 1e-3?
# ---------------------------------------------------------------------------------------------

_STEPS_BELOW_GATES = (0.5, 0.9, 0.99)


def _steps_below(gate: float, threshold: float = 1e-3) -> int:
    """The first ``k`` with ``gate ** k < threshold`` (counted, not rounded from logarithms)."""
    k, value = 0, 1.0
    while value >= threshold:
        k, value = k + 1, value * gate
    return k


@self_check("Exercise 5.3 (follow-up): steps until the cell path has lost its gradient")
def check_steps_below(steps_below: dict) -> None:
    """``steps_below[f]`` for ``f`` in 0.5, 0.9, 0.99: the first ``k`` with ``f**k < 1e-3``."""
    expect_answered(steps_below is not None and not (isinstance(steps_below, dict) and all(
        steps_below.get(f) is None for f in _STEPS_BELOW_GATES)),
        "not attempted yet: fill in steps_below[0.5], steps_below[0.9] and steps_below[0.99]")
    expect(isinstance(steps_below, dict), "steps_below should be a dict {0.5: ..., 0.9: ..., "
           f"0.99: ...}}, got {type(steps_below).__name__}")
    for gate in _STEPS_BELOW_GATES:
        got, want = steps_below.get(gate), _steps_below(gate)
        expect(got is not None, f"steps_below[{gate}] is still None")
        try:
            value = float(got)
        except (TypeError, ValueError):
            raise CheckFailed(f"steps_below[{gate}] should be a number of steps, got "
                              f"{type(got).__name__}") from None
        exact = math.log(1e-3) / math.log(gate)
        hint = ""
        if value == want - 1:
            hint = (f"off by one: after {want - 1} steps the product is {gate ** (want - 1):.3g},"
                    f" still above 1e-3")
        elif value != round(value) and abs(value - exact) < 0.01:
            hint = "ln(1e-3) / ln(f) is not a whole number of steps: take the first step below"
        elif abs(value - 1 / (1 - gate)) < 0.5:
            hint = ("1 / (1 - f) is the time constant (the product falls by e once); falling "
                    "below 1e-3 takes about ln(1000) ≈ 6.9 time constants")
        expect_equal(got, want, what=f"steps_below[{gate}]",
                     hint=hint or "multiply f by itself until the product drops below 1e-3")


# ---------------------------------------------------------------------------------------------
# Exercise 5.4, follow-up: the parameters a CIFG saves
# ---------------------------------------------------------------------------------------------

@self_check("Exercise 5.4 (follow-up): parameters saved by coupling the gates")
def check_cifg_saving(saved: float) -> None:
    """``saved``: the fraction of an LSTM layer's parameters a CIFG layer does without."""
    expect_answered(saved is not None, "not attempted yet: set saved to a fraction")
    try:
        value = float(saved)
    except (TypeError, ValueError):
        raise CheckFailed(f"saved should be a number, got {type(saved).__name__}") from None
    hints = {0.75: "0.75 is the fraction the CIFG keeps; the question asks what it saves",
             1 / 3: "1/3 is the saving relative to the CIFG's own size; divide by the LSTM's",
             25.0: "give a fraction (0.25), not a percentage"}
    for wrong, hint in hints.items():
        expect(abs(value - wrong) > 1e-3, f"saved = {value:g}: {hint}")
    expect(abs(value - 0.25) < 1e-3,
           f"saved = {value:g} is not the saving: the CIFG has 3 blocks where the LSTM has 4, "
           f"whatever I and H")


# ---------------------------------------------------------------------------------------------
# Exercise 5.5 (★★★, experiment): an LSTM without a forget gate, at initialisation
# ---------------------------------------------------------------------------------------------

def _no_forget_step(x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, w_ih: torch.Tensor,
                    w_hh: torch.Tensor, b_ih: torch.Tensor, b_hh: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """The 1997 LSTM (no forget gate), blocks ``i, g, o``: ``c' = c + i·g``."""
    zi, zg, zo = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(3, dim=-1)
    c_new = c + torch.sigmoid(zi) * torch.tanh(zg)
    return torch.sigmoid(zo) * torch.tanh(c_new), c_new


def _lstm_step(x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, *weights: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
    return _lstm_step_in_order(("i", "f", "g", "o"), x, h, c, *weights)


def _first_input_gradient(step: _StepFn, x: torch.Tensor, weights: tuple[torch.Tensor, ...],
                          w_out: torch.Tensor) -> float:
    """Mean over the batch of ``‖∂L/∂x_0‖`` for ``L = Σ_n h_T[n] · w_out``, from zero states."""
    x = x.detach().clone().requires_grad_(True)
    h = c = x.new_zeros(x.shape[0], w_out.shape[0])
    for x_t in x.unbind(1):
        h, c = step(x_t, h, c, *weights)
    (grad,) = torch.autograd.grad((h @ w_out).sum(), x)
    return float(grad[:, 0].norm(dim=1).mean())


def _random_layer(g: torch.Generator, blocks: int, n_in: int, hidden: int, scale: float = 1.0
                  ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    """Weights ``U(-scale/√H, scale/√H)`` (PyTorch's with scale 1) and a read-out vector."""
    bound = scale * hidden ** -0.5

    def u(*shape: int) -> torch.Tensor:
        return (torch.rand(*shape, generator=g, dtype=torch.float64) * 2 - 1) * bound

    weights = (u(blocks * hidden, n_in), u(blocks * hidden, hidden), u(blocks * hidden),
               u(blocks * hidden))
    return weights, u(hidden)


_FACTOR_RANGES = {"LSTM": (0.55, 0.75), "no forget gate": (0.95, 1.05)}


@self_check("Exercise 5.5: an LSTM without a forget gate")
def check_no_forget_gate(no_forget_step: _StepFn, first_input_gradient: Callable[..., float],
                         factor: dict) -> None:
    """Three parts, each on random cases (a fresh private generator).

    ``no_forget_step(x, h, c, w_ih, w_hh, b_ih, b_hh)`` with blocks i, g, o must give
    ``c' = c + i·g``, ``h' = o·tanh(c')``; ``first_input_gradient(step, x, weights, w_out)``
    must return the batch mean of ``‖∂L/∂x_0‖`` with ``L = Σ_n h_T[n]·w_out``; ``factor`` the
    measured per-step decay of that gradient at PyTorch's initialisation for ``"LSTM"`` and
    ``"no forget gate"`` (it varies a little with the seed, so a range is accepted).
    """
    g = _fresh_generator()
    for _ in range(3):
        args = _random_step_inputs(int(torch.randint(0, 2**31, (1,), generator=g)), blocks=3)
        want_h, want_c = _no_forget_step(*args)
        got_h, got_c = _call_step(no_forget_step, args, "no_forget_step")
        if _same(got_c, _coupled_step_reference(*args)[1]):
            raise CheckFailed("no_forget_step computes the CIFG, c' = (1 - i)·c + i·g; without "
                              "a forget gate the old cell is kept whole: c' = c + i·g")
        expect_close(got_c, want_c, what="c_new of no_forget_step", atol=1e-10, rtol=1e-8,
                     hint="no forget gate: c_new = c + i * g, blocks i, g, o")
        expect_close(got_h, want_h, what="h_new of no_forget_step", atol=1e-10, rtol=1e-8,
                     hint="h_new = o * tanh(c_new)")
    for steps in (1, 7):
        weights, w_out = _random_layer(g, 4, 2, 5, scale=3.0)
        x = torch.rand(4, steps, 2, generator=g, dtype=torch.float64)
        want = _first_input_gradient(_lstm_step, x, weights, w_out)
        got = first_input_gradient(_lstm_step, x.clone(), weights, w_out.clone())
        try:
            value = float(got)
        except (TypeError, ValueError, RuntimeError):
            raise CheckFailed("first_input_gradient should return one number (a float), got "
                              f"{type(got).__name__}") from None
        last = x.detach().clone().requires_grad_(True)
        h = c = last.new_zeros(4, 5)
        for x_t in last.unbind(1):
            h, c = _lstm_step(x_t, h, c, *weights)
        (grad,) = torch.autograd.grad((h @ w_out).sum(), last)
        if steps > 1 and abs(value - float(grad[:, -1].norm(dim=1).mean())) < 1e-9 * (1 + value):
            raise CheckFailed("first_input_gradient measured the gradient of the LAST input "
                              "x_T; the question is how much reaches the FIRST one, x_0")
        if abs(value - float(grad[:, 0].norm())) < 1e-9 * (1 + value):
            raise CheckFailed("first_input_gradient took the norm over the whole batch; take "
                              "‖∂L/∂x_0‖ of each sequence, then the mean over the batch")
        expect_close(value, want, what=f"first_input_gradient over {steps} step(s)",
                     atol=1e-10, rtol=1e-7,
                     hint="run step from zero (h, c), L = (h_T @ w_out).sum(), backward, then "
                          "the mean over the batch of the norm of x.grad[:, 0]")
    expect_answered(factor is not None and not (isinstance(factor, dict) and all(
        factor.get(k) is None for k in _FACTOR_RANGES)),
        'not attempted yet: fill in factor["LSTM"] and factor["no forget gate"]')
    expect(isinstance(factor, dict), 'factor should be a dict {"LSTM": ..., "no forget gate": '
           f"...}}, got {type(factor).__name__}")
    for name, (low, high) in _FACTOR_RANGES.items():
        got = factor.get(name)
        expect(got is not None, f'factor["{name}"] is still None')
        try:
            value = float(got)
        except (TypeError, ValueError):
            raise CheckFailed(f'factor["{name}"] should be a number, got {type(got).__name__}'
                              ) from None
        other = "no forget gate" if name == "LSTM" else "LSTM"
        other_low, other_high = _FACTOR_RANGES[other]
        expect(not other_low <= value <= other_high,
               f'factor["{name}"] = {value:.3f} is the other model\'s factor: did you swap '
               f'"LSTM" and "no forget gate"?')
        expect(not 0 < value < 1e-3,
               f'factor["{name}"] = {value:.3g} is the total ratio over many steps; the '
               f"per-step factor is its root: exp(slope of ln ‖∂L/∂x_0‖ against T)")
        expect(abs(value - 0.5) > 1e-3,
               f'factor["{name}"] = 0.5 is σ(0), the forget gate at initialisation; measure the '
               f"gradient instead: the h-paths make it decay more slowly")
        expect(low <= value <= high,
               f'factor["{name}"] = {value:.3f} is outside the measured range [{low}, {high}]: '
               f"fit ln ‖∂L/∂x_0‖ against T for T = 20 ... 100 at PyTorch's initialisation "
               f"U(-1/√H, 1/√H), H = 64, on adding-problem inputs")
