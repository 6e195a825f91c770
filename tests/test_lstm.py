"""Tests of rnncourse.lstm (chapter 5) and of the chapter's exercise self-checks."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch import nn

from rnncourse.exercises import ch05
from rnncourse.lstm import (
    LSTM,
    FusedLSTM,
    LSTMCell,
    compare_with_reference,
    lstm_cell,
    lstm_num_params,
    recurrent_num_params,
)
from rnncourse.validation import ShapeError

# |mine - torch| <= ATOL + RTOL * |torch| for every output, state and gradient.
TOL = {torch.float32: 1e-6, torch.float64: 1e-12}


# Gradients sum over steps and batch in an order that differs from torch's (and with the
# number of threads): float32 gradients get 1e-5; float64 keeps 1e-12.
GRAD_TOL = {torch.float32: 1e-5, torch.float64: 1e-12}


def assert_match(mine: torch.Tensor, ref: torch.Tensor, what: str) -> None:
    tol = (GRAD_TOL if "grad" in what else TOL)[ref.dtype]
    torch.testing.assert_close(mine, ref, atol=tol, rtol=tol, msg=lambda m: f"{what}: {m}")


def random_config(seed: int) -> dict:
    r = random.Random(seed)
    return dict(
        dtype=r.choice([torch.float32, torch.float64]),
        input_size=r.randint(1, 6), hidden_size=r.randint(1, 8), num_layers=r.randint(1, 3),
        bias=r.random() < 0.75, batch_first=r.random() < 0.5, bidirectional=r.random() < 0.5,
        seq_len=r.randint(1, 10), batch=r.randint(1, 5), with_state=r.random() < 0.5,
        unbatched=r.random() < 0.15,
    )


def run_and_grad(module: nn.Module, x: torch.Tensor, hx: tuple | None) -> list[torch.Tensor]:
    """Outputs, final states and the gradients of a random linear loss w.r.t. every input."""
    out, (h, c) = module(x, hx)
    weights = torch.Generator().manual_seed(123)
    loss = sum((t * torch.randn(t.shape, generator=weights, dtype=t.dtype)).sum()
               for t in (out, h, c))
    inputs = [x, *(hx or ()), *module.parameters()]
    return [out, h, c, *torch.autograd.grad(loss, inputs)]


CONFIGS = [random_config(seed) for seed in range(30)]


@pytest.mark.parametrize("seed", range(len(CONFIGS)))
@pytest.mark.parametrize("cls", [LSTM, FusedLSTM])
def test_matches_torch_lstm(seed: int, cls: type[LSTM]) -> None:
    cfg = dict(CONFIGS[seed])
    dtype, seq_len, batch = cfg.pop("dtype"), cfg.pop("seq_len"), cfg.pop("batch")
    with_state, unbatched = cfg.pop("with_state"), cfg.pop("unbatched")
    torch.manual_seed(seed)
    ref = nn.LSTM(**cfg, dtype=dtype)
    mine = cls(**cfg, dtype=dtype)
    mine.load_state_dict(ref.state_dict())
    names = [n for n, _ in mine.named_parameters()]
    assert names == [n for n, _ in ref.named_parameters()]
    stack = cfg["num_layers"] * (2 if cfg["bidirectional"] else 1)
    if unbatched:
        x_shape, h_shape = (seq_len, cfg["input_size"]), (stack, cfg["hidden_size"])
    else:
        x_shape = ((batch, seq_len, cfg["input_size"]) if cfg["batch_first"]
                   else (seq_len, batch, cfg["input_size"]))
        h_shape = (stack, batch, cfg["hidden_size"])
    x = torch.randn(x_shape, dtype=dtype, requires_grad=True)
    hx = (tuple(torch.randn(h_shape, dtype=dtype, requires_grad=True) for _ in range(2))
          if with_state else None)
    got, want = run_and_grad(mine, x, hx), run_and_grad(ref, x, hx)
    labels = ["output", "h_n", "c_n", "grad x", *(["grad h0", "grad c0"] if hx else []),
              *(f"grad {n}" for n in names)]
    assert len(got) == len(want) == len(labels)
    for g, w, label in zip(got, want, labels):
        assert g.shape == w.shape, label
        assert_match(g, w, f"{cls.__name__} {cfg} {label}")


def test_compare_with_reference() -> None:
    torch.manual_seed(5)
    ref = nn.LSTM(3, 4, num_layers=2, dtype=torch.float64)
    errors = compare_with_reference(LSTM.from_torch(ref), ref, torch.randn(6, 2, 3,
                                                                            dtype=torch.float64))
    assert set(errors) == {"output", "state", "grad_input", "grad_params"}
    assert max(errors.values()) < 1e-12
    other = LSTM(3, 4, num_layers=2, dtype=torch.float64)  # different weights
    assert compare_with_reference(other, ref, torch.randn(6, 2, 3, dtype=torch.float64),
                                  (torch.zeros(2, 2, 4, dtype=torch.float64),) * 2)["output"] > 1e-3
    gru = nn.GRU(3, 4, dtype=torch.float64)
    gru_errors = compare_with_reference(gru, gru, torch.randn(5, 1, 3, dtype=torch.float64),
                                        torch.zeros(1, 1, 4, dtype=torch.float64))
    assert max(gru_errors.values()) == 0
    with pytest.raises(ValueError, match="parameter names"):
        compare_with_reference(gru, ref, torch.randn(5, 1, 3, dtype=torch.float64))


def test_default_init_and_from_torch() -> None:
    torch.manual_seed(0)
    mine = LSTM(3, 16, num_layers=2, bidirectional=True)
    bound = 1 / 16 ** 0.5
    assert all(p.abs().max() <= bound for p in mine.parameters())
    ref = nn.LSTM(3, 5, num_layers=2, batch_first=True, dtype=torch.float64)
    copy = FusedLSTM.from_torch(ref)
    assert isinstance(copy, FusedLSTM) and copy.batch_first
    assert copy.weight_ih_l1.dtype == torch.float64
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    torch.testing.assert_close(copy(x)[0], ref(x)[0], atol=1e-12, rtol=1e-12)
    with pytest.raises(TypeError, match="torch.nn.LSTM"):
        LSTM.from_torch(nn.GRU(3, 5))
    assert "num_layers=2" in repr(mine) and "bidirectional=True" in repr(mine)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_matches_torch_cell(dtype: torch.dtype, bias: bool) -> None:
    torch.manual_seed(1)
    ref = nn.LSTMCell(4, 6, bias=bias, dtype=dtype)
    mine = LSTMCell(4, 6, bias=bias, dtype=dtype)
    mine.load_state_dict(ref.state_dict())
    x = torch.randn(3, 4, dtype=dtype)
    hx = (torch.randn(3, 6, dtype=dtype), torch.randn(3, 6, dtype=dtype))
    for a, b in zip(mine(x, hx), ref(x, hx)):
        assert_match(a, b, "cell")
    for a, b in zip(mine(x), ref(x)):
        assert_match(a, b, "cell, zero state")
    for a, b in zip(mine(x[0], (hx[0][0], hx[1][0])), ref(x[0], (hx[0][0], hx[1][0]))):
        assert_match(a, b, "cell, unbatched")
    step = mine.step(x, hx)
    assert ((step.i > 0) & (step.i < 1)).all() and ((step.g > -1) & (step.g < 1)).all()
    torch.testing.assert_close(step.c, step.f * hx[1] + step.i * step.g)
    assert "bias=" in repr(mine)


def test_additive_cell_path_derivative_is_forget_gate() -> None:
    """∂c_t/∂c_{t-1} = diag(f_t) when h_{t-1} is held fixed."""
    torch.manual_seed(2)
    cell = LSTMCell(3, 4, dtype=torch.float64)
    x, h = torch.randn(1, 3, dtype=torch.float64), torch.randn(1, 4, dtype=torch.float64)
    c = torch.randn(1, 4, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda cc: cell.step(x, (h, cc)).c, c)
    f = cell.step(x, (h, c)).f
    torch.testing.assert_close(jac.reshape(4, 4), torch.diag(f[0]))


def test_gate_trace_shapes_and_consistency() -> None:
    torch.manual_seed(3)
    mine = FusedLSTM(2, 5, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.randn(3, 7, 2)
    gates = mine.gates(x)
    assert set(gates) == {"i", "f", "g", "o", "c", "h"}
    for value in gates.values():
        assert value.shape == (4, 3, 7, 5)
    out, (h_n, c_n) = mine(x)
    torch.testing.assert_close(gates["h"][-2], out[..., :5])   # last layer, forward
    torch.testing.assert_close(gates["h"][-1], out[..., 5:])   # last layer, backward
    torch.testing.assert_close(gates["c"][0, :, -1], c_n[0])   # layer 0 forward ends at t = L-1
    torch.testing.assert_close(gates["c"][1, :, 0], c_n[1])    # layer 0 backward ends at t = 0
    assert gates["f"].min() > 0 and gates["f"].max() < 1


def test_dropout_only_in_training() -> None:
    torch.manual_seed(4)
    mine = LSTM(3, 8, num_layers=2, dropout=0.5)
    x = torch.randn(5, 2, 3)
    mine.eval()
    torch.testing.assert_close(mine(x)[0], mine(x)[0])
    mine.train()
    assert not torch.equal(mine(x)[0], mine(x)[0])


@pytest.mark.parametrize("layers,bidi,bias", [(1, False, True), (3, True, True), (2, False, False),
                                              (2, True, False)])
def test_parameter_counts(layers: int, bidi: bool, bias: bool) -> None:
    for kind, cls in (("rnn", nn.RNN), ("gru", nn.GRU), ("lstm", nn.LSTM)):
        module = cls(7, 11, num_layers=layers, bidirectional=bidi, bias=bias)
        want = sum(p.numel() for p in module.parameters())
        assert recurrent_num_params(kind, 7, 11, layers, bias, bidi) == want
    mine = LSTM(7, 11, num_layers=layers, bidirectional=bidi, bias=bias)
    assert lstm_num_params(7, 11, layers, bias, bidi) == sum(p.numel() for p in mine.parameters())
    assert lstm_num_params(7, 11) == 4 * (11 * 7 + 11 * 11 + 2 * 11)
    with pytest.raises(ValueError, match="kind must be one of"):
        recurrent_num_params("transformer", 7, 11)


def test_lstm_cell_function_is_torch_order() -> None:
    """Blocks are i, f, g, o: a huge forget bias keeps c; a huge negative input bias blocks g."""
    w_ih, w_hh = torch.zeros(8, 1), torch.zeros(8, 2)
    b = torch.zeros(8)
    b[0:2], b[2:4] = -50.0, 50.0  # i ≈ 0, f ≈ 1
    c = torch.tensor([[0.3, -0.7]])
    step = lstm_cell(torch.ones(1, 1), torch.zeros(1, 2), c, w_ih, w_hh, b, torch.zeros(8))
    torch.testing.assert_close(step.c, c)


# --- validation ------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [LSTM, FusedLSTM])
def test_bad_inputs(cls: type[LSTM]) -> None:
    lstm = cls(3, 4, num_layers=2, batch_first=True)
    good_h = torch.zeros(2, 5, 4)
    with pytest.raises(ShapeError, match=r"input_size=3.*got \(5, 7, 2\)"):
        lstm(torch.zeros(5, 7, 2))
    with pytest.raises(ShapeError, match="empty dimension seq_len"):
        lstm(torch.zeros(5, 0, 3))
    with pytest.raises(TypeError, match="floating point"):
        lstm(torch.zeros(5, 7, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="torch.from_numpy"):
        lstm(np.zeros((5, 7, 3), dtype=np.float32))
    with pytest.raises(TypeError, match=r"tuple \(h, c\)"):
        lstm(torch.zeros(5, 7, 3), good_h)
    with pytest.raises(TypeError, match="length 3"):
        lstm(torch.zeros(5, 7, 3), (good_h, good_h, good_h))
    with pytest.raises(ShapeError, match=r"num_layers\*num_directions is 1, expected 2"):
        lstm(torch.zeros(5, 7, 3), (torch.zeros(1, 5, 4), good_h))
    with pytest.raises(ShapeError, match="batch is 6, expected 5"):
        lstm(torch.zeros(5, 7, 3), (good_h, torch.zeros(2, 6, 4)))
    with pytest.raises(TypeError, match="dtype torch.float64 but the parameters"):
        lstm(torch.zeros(5, 7, 3, dtype=torch.float64))
    with pytest.raises(ShapeError, match="3 dimensions"):
        lstm(torch.zeros(1, 5, 7, 3))
    with pytest.raises(ShapeError, match="unbatched"):
        lstm(torch.zeros(7, 2))
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        lstm(torch.zeros(5, 7, 3), (good_h, "c"))


def test_bad_constructor_and_cell_inputs() -> None:
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        LSTM(3, 0)
    with pytest.raises(ValueError, match="dropout"):
        LSTM(3, 4, dropout=1.5)
    cell = LSTMCell(3, 4)
    with pytest.raises(ShapeError, match="input_size=3"):
        cell(torch.zeros(2, 5))
    with pytest.raises(TypeError, match=r"tuple \(h, c\)"):
        cell(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ShapeError, match="hidden_size is 5, expected 4"):
        cell(torch.zeros(2, 3), (torch.zeros(2, 5), torch.zeros(2, 4)))
    with pytest.raises(TypeError, match="floating point"):
        cell(torch.zeros(2, 3, dtype=torch.int32))
    with pytest.raises(TypeError, match="torch.Tensor"):
        cell([[0.0, 0.0, 0.0]])


# --- exercise self-checks --------------------------------------------------------------------

def test_check_param_count() -> None:
    assert ch05.check_lstm_param_count(lambda i, h: 4 * (h * i + h * h + 2 * h))
    wrong = ch05.check_lstm_param_count(lambda i, h: 4 * (h * i + h * h + h))
    assert not wrong and "bias" in wrong.message
    assert "four blocks" in ch05.check_lstm_param_count(lambda i, h: h * i + h * h + 2 * h).message
    crash = ch05.check_lstm_param_count(crashing)
    assert not crash and "RuntimeError" in crash.message
    assert "not implemented" in ch05.check_lstm_param_count(not_implemented).message


def not_implemented(*args: object) -> None:
    raise NotImplementedError


def crashing(*args: object) -> None:
    raise RuntimeError("boom")


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
    crash = ch05.check_lstm_step(crashing)
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
    assert not ch05.check_coupled_step(crashing)


def test_check_cell_gradient() -> None:
    assert ch05.check_cell_gradient(lambda f: torch.prod(f, dim=0))
    wrong = ch05.check_cell_gradient(lambda f: f.sum(dim=0))
    assert not wrong and "product" in wrong.message
    assert not ch05.check_cell_gradient(crashing)
