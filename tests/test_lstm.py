"""Tests of rnncourse.lstm (chapter 5) and of the chapter's exercise self-checks.

What every layer shares (equal to ``torch.nn.LSTM``/``LSTMCell`` over random configurations,
parameters, init, repr, dropout, gates(), bad inputs) is in ``test_recurrent.py``; here is what
is the LSTM's own: the gate order and the additive cell-state path.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from rnncourse.exercises import ch05
from rnncourse.lstm import LSTMCell, LSTMStep, lstm_cell


def test_lstm_cell_blocks_are_i_f_g_o_in_torch_order() -> None:
    """With zero weights each gate is its bias block: rows [0:H] are i, [H:2H] f, [2H:3H] g,
    [3H:4H] o."""
    H = 2
    w_ih, w_hh = torch.zeros(4 * H, 1, dtype=torch.float64), torch.zeros(4 * H, H,
                                                                          dtype=torch.float64)
    b_ih = torch.tensor([0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 0.7, 0.8], dtype=torch.float64)
    b_hh = torch.full((4 * H,), 0.05, dtype=torch.float64)
    c = torch.tensor([[0.3, -0.7]], dtype=torch.float64)
    step = lstm_cell(torch.ones(1, 1, dtype=torch.float64), torch.zeros(1, H, dtype=torch.float64),
                     c, w_ih, w_hh, b_ih, b_hh)
    b_i, b_f, b_g, b_o = (b_ih + b_hh).view(4, 1, H)
    assert isinstance(step, LSTMStep) and step._fields == ("i", "f", "g", "o", "c", "h")
    torch.testing.assert_close(step.i, torch.sigmoid(b_i))
    torch.testing.assert_close(step.f, torch.sigmoid(b_f))
    torch.testing.assert_close(step.g, torch.tanh(b_g))
    torch.testing.assert_close(step.o, torch.sigmoid(b_o))
    # the same cell as torch's on these weights
    ref = torch.nn.LSTMCell(1, H, dtype=torch.float64)
    with torch.no_grad():
        for name, value in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"),
                               (w_ih, w_hh, b_ih, b_hh)):
            getattr(ref, name).copy_(value)
        h_ref, c_ref = ref(torch.ones(1, 1, dtype=torch.float64),
                           (torch.zeros(1, H, dtype=torch.float64), c))
    torch.testing.assert_close(step.h, h_ref)
    torch.testing.assert_close(step.c, c_ref)


def test_huge_forget_bias_and_closed_input_gate_keep_the_cell_state() -> None:
    w_ih, w_hh = torch.zeros(8, 1), torch.zeros(8, 2)
    b = torch.zeros(8)
    b[0:2], b[2:4] = -50.0, 50.0  # i ≈ 0, f ≈ 1
    c = torch.tensor([[0.3, -0.7]])
    step = lstm_cell(torch.ones(1, 1), torch.zeros(1, 2), c, w_ih, w_hh, b, torch.zeros(8))
    torch.testing.assert_close(step.c, c)


def test_step_fields_satisfy_the_lstm_equations() -> None:
    torch.manual_seed(1)
    cell = LSTMCell(4, 6, dtype=torch.float64)
    x = torch.randn(3, 4, dtype=torch.float64)
    h, c = torch.randn(3, 6, dtype=torch.float64), torch.randn(3, 6, dtype=torch.float64)
    step = cell.step(x, (h, c))
    for gate in (step.i, step.f, step.o):
        assert ((gate > 0) & (gate < 1)).all()
    assert ((step.g > -1) & (step.g < 1)).all()
    torch.testing.assert_close(step.c, step.f * c + step.i * step.g)
    torch.testing.assert_close(step.h, step.o * torch.tanh(step.c))
    h_new, c_new = cell(x, (h, c))
    assert torch.equal(h_new, step.h) and torch.equal(c_new, step.c)


def test_additive_cell_path_derivative_is_forget_gate() -> None:
    """∂c_t/∂c_{t-1} = diag(f_t) when h_{t-1} is held fixed."""
    torch.manual_seed(2)
    cell = LSTMCell(3, 4, dtype=torch.float64)
    x, h = torch.randn(1, 3, dtype=torch.float64), torch.randn(1, 4, dtype=torch.float64)
    c = torch.randn(1, 4, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda cc: cell.step(x, (h, cc)).c, c)
    f = cell.step(x, (h, c)).f
    torch.testing.assert_close(jac.reshape(4, 4), torch.diag(f[0]))


# --- exercise self-checks --------------------------------------------------------------------

def boom(*args: object) -> None:
    raise RuntimeError("boom")


def test_check_param_count(stub: Callable[..., object]) -> None:
    assert ch05.check_lstm_param_count(lambda i, h: 4 * (h * i + h * h + 2 * h))
    wrong = ch05.check_lstm_param_count(lambda i, h: 4 * (h * i + h * h + h))
    assert not wrong and "bias" in wrong.message
    assert "four blocks" in ch05.check_lstm_param_count(lambda i, h: h * i + h * h + 2 * h).message
    crash = ch05.check_lstm_param_count(boom)
    assert not crash and "RuntimeError" in crash.message
    assert "not implemented" in ch05.check_lstm_param_count(stub).message


def test_check_lstm_step() -> None:
    def good(x, h, c, w_ih, w_hh, b_ih, b_hh):
        i, f, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def swapped(x, h, c, w_ih, w_hh, b_ih, b_hh):  # gates read as i, f, o, g
        i, f, o, g = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    assert ch05.check_lstm_step(good)
    result = ch05.check_lstm_step(swapped)
    assert not result and "i, f, g, o" in result.message
    crash = ch05.check_lstm_step(boom)
    assert not crash and "RuntimeError" in crash.message
    assert "tuple" in ch05.check_lstm_step(lambda *a: a[1]).message


def test_check_coupled_step() -> None:
    def good(x, h, c, w_ih, w_hh, b_ih, b_hh):
        i, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(3, dim=1)
        i = torch.sigmoid(i)
        c = (1 - i) * c + i * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def uncoupled(x, h, c, w_ih, w_hh, b_ih, b_hh):
        i, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(3, dim=1)
        i = torch.sigmoid(i)
        c = c + i * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    assert ch05.check_coupled_step(good)
    result = ch05.check_coupled_step(uncoupled)
    assert not result and "1 - i" in result.message
    assert not ch05.check_coupled_step(boom)


def test_check_cell_gradient() -> None:
    assert ch05.check_cell_gradient(lambda f: torch.prod(f, dim=0))
    wrong = ch05.check_cell_gradient(lambda f: f.sum(dim=0))
    assert not wrong and "product" in wrong.message
    assert not ch05.check_cell_gradient(boom)
