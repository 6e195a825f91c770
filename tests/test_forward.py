"""Tests of rnncourse.forward (chapter 2) and of the chapter's exercise self-checks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnncourse import forward
from rnncourse.exercises import ch02
from rnncourse.forward import ScratchRNN, rnn_forward_numpy, rnn_weights_from_torch
from rnncourse.validation import ShapeError

TOL = {torch.float32: 1e-6, torch.float64: 1e-12}

CONFIGS = list(itertools.product(
    [1, 2, 3],            # num_layers
    [1, 7, 16],           # hidden_size
    [False, True],        # batch_first
    [True, False],        # bias
    ["tanh", "relu"],     # nonlinearity
    [torch.float32, torch.float64],
    [False, True],        # with h0
))


def _case(num_layers, hidden, batch_first, bias, nonlinearity, dtype, with_h0, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        rnn = torch.nn.RNN(5, hidden, num_layers, nonlinearity=nonlinearity, bias=bias,
                           batch_first=batch_first, dtype=dtype)
    shape = (3, 11, 5) if batch_first else (11, 3, 5)
    x = torch.randn(shape, generator=gen, dtype=dtype)
    h0 = torch.randn(num_layers, 3, hidden, generator=gen, dtype=dtype) if with_h0 else None
    return rnn, x, h0


def _err(a, b) -> float:
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else a
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else b
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


@pytest.mark.parametrize("num_layers,hidden,batch_first,bias,nonlinearity,dtype,with_h0",
                         CONFIGS)
def test_numpy_and_scratch_match_torch(num_layers, hidden, batch_first, bias, nonlinearity,
                                       dtype, with_h0):
    rnn, x, h0 = _case(num_layers, hidden, batch_first, bias, nonlinearity, dtype, with_h0)
    with torch.no_grad():
        want_out, want_hn = rnn(x, h0)
    # Errors grow with the size of the values (relu states are unbounded): scale the tolerance.
    tol = TOL[dtype] * max(1.0, float(want_out.abs().max()), float(want_hn.abs().max()))

    out, h_n = rnn_forward_numpy(x.numpy(), rnn_weights_from_torch(rnn),
                                 None if h0 is None else h0.numpy(), nonlinearity, batch_first)
    assert out.shape == tuple(want_out.shape) and h_n.shape == tuple(want_hn.shape)
    assert out.dtype == want_out.numpy().dtype
    assert _err(out, want_out) <= tol and _err(h_n, want_hn) <= tol

    scratch = ScratchRNN(5, hidden, num_layers, nonlinearity, bias, batch_first, dtype=dtype)
    scratch.load_state_dict(rnn.state_dict())  # same parameter names as nn.RNN
    with torch.no_grad():
        s_out, s_hn = scratch(x, h0)
    assert s_out.shape == want_out.shape and s_hn.shape == want_hn.shape
    assert s_out.dtype == dtype
    assert _err(s_out, want_out) <= tol and _err(s_hn, want_hn) <= tol


@pytest.mark.parametrize("num_layers,bias,nonlinearity,batch_first",
                         [(1, True, "tanh", False), (2, False, "relu", True),
                          (3, True, "tanh", True)])
def test_gradients_match_torch(num_layers, bias, nonlinearity, batch_first):
    rnn, x, h0 = _case(num_layers, 6, batch_first, bias, nonlinearity, torch.float64, True, 1)
    scratch = ScratchRNN.from_torch(rnn)
    grads = []
    for module in (rnn, scratch):
        xi, hi = x.clone().requires_grad_(), h0.clone().requires_grad_()
        out, h_n = module(xi, hi)
        loss = (out ** 2).sum() + (h_n * torch.linspace(-1, 1, h_n.numel(),
                                                        dtype=h_n.dtype).view_as(h_n)).sum()
        loss.backward()
        grads.append({"x": xi.grad, "h0": hi.grad,
                      **{n: p.grad.clone() for n, p in module.named_parameters()}})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        assert _err(grads[0][name], grads[1][name]) < 1e-10, name


def test_unbatched_input_like_torch():
    rnn, x, h0 = _case(2, 4, False, True, "tanh", torch.float64, True)
    x2, h02 = x[:, 0, :], h0[:, 0, :]
    with torch.no_grad():
        want_out, want_hn = rnn(x2, h02)
        s_out, s_hn = ScratchRNN.from_torch(rnn)(x2, h02)
    out, h_n = rnn_forward_numpy(x2.numpy(), rnn_weights_from_torch(rnn), h02.numpy())
    assert out.shape == (11, 4) and h_n.shape == (2, 4) and s_out.shape == (11, 4)
    assert _err(out, want_out) < 1e-12 and _err(h_n, want_hn) < 1e-12
    assert _err(s_out, want_out) < 1e-12 and _err(s_hn, want_hn) < 1e-12
    # batch_first does not change the layout of an unbatched input, as in nn.RNN
    bf = ScratchRNN(5, 4, 2, batch_first=True, dtype=torch.float64)
    bf.load_state_dict(rnn.state_dict())
    with torch.no_grad():
        assert _err(bf(x2, h02)[0], want_out) < 1e-12


def test_load_torch_weights_and_config_mismatch():
    rnn = torch.nn.RNN(3, 4, 2, nonlinearity="relu")
    scratch = ScratchRNN(3, 4, 2, nonlinearity="relu")
    scratch.load_torch_weights(rnn)
    assert torch.equal(scratch.weight_hh_l1, rnn.weight_hh_l1)
    with pytest.raises(ValueError, match="nonlinearity"):
        ScratchRNN(3, 4, 2).load_torch_weights(rnn)
    with pytest.raises(ValueError, match="hidden_size"):
        ScratchRNN(3, 5, 2, nonlinearity="relu").load_torch_weights(rnn)
    with pytest.raises(ValueError, match="bidirectional"):
        ScratchRNN(3, 4, 2).load_torch_weights(torch.nn.RNN(3, 4, 2, bidirectional=True))
    with pytest.raises(TypeError):
        ScratchRNN(3, 4).load_torch_weights(torch.nn.LSTM(3, 4))
    with pytest.raises(ValueError, match="bidirectional"):
        rnn_weights_from_torch(torch.nn.RNN(3, 4, bidirectional=True))
    assert "Bias" not in repr(ScratchRNN(3, 4, bias=False)) and len(
        list(ScratchRNN(3, 4, bias=False).parameters())) == 2


def test_init_like_torch():
    scratch = ScratchRNN(3, 16, 2)
    for p in scratch.parameters():
        assert p.abs().max() <= 1 / 4 + 1e-7
    assert [n for n, _ in scratch.named_parameters()] == \
        [n for n, _ in torch.nn.RNN(3, 16, 2).named_parameters()]


@pytest.mark.parametrize("module", ["numpy", "scratch"])
def test_bad_inputs(module):
    rnn = torch.nn.RNN(3, 4, 2)
    scratch = ScratchRNN.from_torch(rnn)
    weights = rnn_weights_from_torch(rnn)

    def run(x, h0=None):
        if module == "numpy":
            x = x.numpy() if isinstance(x, torch.Tensor) else x
            h0 = h0.numpy() if isinstance(h0, torch.Tensor) else h0
            return rnn_forward_numpy(x, weights, h0)
        return scratch(x, h0)

    with pytest.raises(ShapeError, match="input_size=3"):
        run(torch.zeros(5, 2, 7))
    with pytest.raises(ShapeError, match=r"h0 must have shape \(num_layers=2, batch=2"):
        run(torch.zeros(5, 2, 3), torch.zeros(1, 2, 4))
    with pytest.raises(ShapeError, match="batch is 3, expected 2"):
        run(torch.zeros(5, 2, 3), torch.zeros(2, 3, 4))
    with pytest.raises(ShapeError, match="empty dimension seq_len"):
        run(torch.zeros(0, 2, 3))
    with pytest.raises(TypeError, match="floating point"):
        run(torch.zeros(5, 2, 3, dtype=torch.int64))
    with pytest.raises(ShapeError, match="3 dimensions"):
        run(torch.zeros(5, 2, 3, 1))
    with pytest.raises(ShapeError, match="unbatched"):
        run(torch.zeros(5, 3), torch.zeros(2, 1, 4))


def test_bad_arguments():
    with pytest.raises(ValueError, match="nonlinearity"):
        ScratchRNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size"):
        ScratchRNN(3, 0)
    with pytest.raises(TypeError, match="torch.from_numpy"):
        ScratchRNN(3, 4)(np.zeros((5, 2, 3), np.float32))
    with pytest.raises(TypeError, match="dtype"):
        ScratchRNN(3, 4)(torch.zeros(5, 2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="nonlinearity"):
        rnn_forward_numpy(np.zeros((5, 2, 3)), rnn_weights_from_torch(torch.nn.RNN(3, 4)),
                          nonlinearity="gelu")
    with pytest.raises(ValueError, match="empty"):
        rnn_forward_numpy(np.zeros((5, 2, 3)), [])
    with pytest.raises(TypeError):
        rnn_weights_from_torch(torch.nn.GRU(3, 4))


def test_rnn_cell_numpy_matches_rnncell():
    cell = torch.nn.RNNCell(3, 5, nonlinearity="relu", dtype=torch.float64)
    x, h = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    w = [p.detach().numpy() for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]
    got = forward.rnn_cell_numpy(x.numpy(), h.numpy(), *w, nonlinearity="relu")
    assert _err(got, cell(x, h)) < 1e-12
    with pytest.raises(ShapeError, match="h_prev"):
        forward.rnn_cell_numpy(x.numpy(), h.numpy()[:, :4], *w)


@pytest.mark.parametrize("input_size,hidden_size,num_layers,bias,bidirectional",
                         list(itertools.product([1, 3, 10], [1, 8, 20], [1, 2, 4],
                                                [True, False], [False, True])))
def test_num_params(input_size, hidden_size, num_layers, bias, bidirectional):
    rnn = torch.nn.RNN(input_size, hidden_size, num_layers, bias=bias,
                       bidirectional=bidirectional, device="meta")
    assert forward.rnn_num_params(input_size, hidden_size, num_layers, bias, bidirectional) == \
        sum(p.numel() for p in rnn.parameters())


def test_softmax_and_cross_entropy():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((8, 5)) * 4
    t = rng.integers(0, 5, 8)
    assert _err(forward.softmax(z), torch.softmax(torch.from_numpy(z), -1)) < 1e-15
    assert _err(forward.log_softmax(z), torch.log_softmax(torch.from_numpy(z), -1)) < 1e-13
    ce = F.cross_entropy(torch.from_numpy(z), torch.from_numpy(t)).item()
    assert abs(forward.cross_entropy(z, t) - ce) < 1e-13
    big = z * 1e4  # would overflow without the max shift
    assert np.all(np.isfinite(forward.softmax(big)))
    assert abs(forward.cross_entropy(big, t)
               - F.cross_entropy(torch.from_numpy(big), torch.from_numpy(t)).item()) < 1e-9
    with pytest.raises(ShapeError, match="targets"):
        forward.cross_entropy(z, t.astype(float))
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        forward.cross_entropy(z, t + 5)


def test_output_layer_matches_linear():
    lin = torch.nn.Linear(6, 3, dtype=torch.float64)
    h = torch.randn(7, 2, 6, dtype=torch.float64)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    with torch.no_grad():
        assert _err(forward.output_layer_numpy(h.numpy(), w, b), lin(h)) < 1e-13
        assert _err(forward.output_layer_numpy(h.numpy(), w, b, g="softmax"),
                    torch.softmax(lin(h), -1)) < 1e-13
    with pytest.raises(ShapeError, match="hidden_size=6"):
        forward.output_layer_numpy(h.numpy()[..., :5], w, b)
    with pytest.raises(ValueError, match="identity"):
        forward.output_layer_numpy(h.numpy(), w, b, g="sigmoid")


def test_spectral_radius_and_trajectories():
    rng = np.random.default_rng(0)
    for kind in ("orthogonal", "gaussian"):
        w = forward.matrix_with_spectral_radius(32, 0.9, kind, rng)
        assert abs(forward.spectral_radius(w) - 0.9) < 1e-9
    q = forward.matrix_with_spectral_radius(16, 1.0, "orthogonal", rng)
    assert np.allclose(q @ q.T, np.eye(16), atol=1e-12)
    h0 = rng.standard_normal(16)
    for radius in (0.5, 1.5):
        traj = forward.hidden_trajectory(radius * q, h0, 20, "linear")
        assert traj.shape == (21, 16)
        norms = np.linalg.norm(traj, axis=1)
        assert np.allclose(norms, radius ** np.arange(21) * norms[0], rtol=1e-10)
    tanh_traj = forward.hidden_trajectory(3.0 * q, h0, 50, "tanh")
    assert np.abs(tanh_traj[1:]).max() <= 1.0
    with pytest.raises(ShapeError, match="square"):
        forward.spectral_radius(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="kind"):
        forward.matrix_with_spectral_radius(4, 1.0, "uniform")
    with pytest.raises(ShapeError, match="inputs"):
        forward.hidden_trajectory(q, h0, 5, inputs=np.zeros((4, 16)))


# --- exercise self-checks ---------------------------------------------------------------------

def test_check_param_count():
    assert ch02.check_param_count(forward.rnn_num_params)
    one_bias = ch02.check_param_count(
        lambda input_size, hidden_size, num_layers, bias:
        num_layers * hidden_size * (hidden_size + hidden_size) + hidden_size * (
            input_size - hidden_size) + (num_layers * hidden_size if bias else 0))
    assert not one_bias and "two bias vectors" in one_bias.message
    same_in = ch02.check_param_count(
        lambda input_size, hidden_size, num_layers, bias:
        num_layers * (hidden_size * (input_size + hidden_size) + (2 * hidden_size if bias else 0)))
    assert not same_in and "layers above the first" in same_in.message
    as_float = ch02.check_param_count(lambda **kw: float(forward.rnn_num_params(**kw)))
    assert not as_float and "should return an int" in as_float.message
    crash = ch02.check_param_count(lambda **kw: 1 / 0)
    assert not crash and "ZeroDivisionError" in crash.message


def _step(x_t, h_prev, w_ih, w_hh, b_ih, b_hh):
    return np.tanh(x_t @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh)


def test_check_rnn_step():
    assert ch02.check_rnn_step(_step)
    no_bhh = ch02.check_rnn_step(lambda x, h, wi, wh, bi, bh: np.tanh(x @ wi.T + bi + h @ wh.T))
    assert not no_bhh and "b_hh" in no_bhh.message
    transposed = ch02.check_rnn_step(lambda *a: _step(*a).T)
    assert not transposed and "transposed" in transposed.message
    crash = ch02.check_rnn_step(lambda x, h, wi, wh, bi, bh: np.tanh(x @ wi + h @ wh.T))
    assert not crash and "ValueError" in crash.message and "line" in crash.message
    todo = ch02.check_rnn_step(lambda *a: (_ for _ in ()).throw(NotImplementedError))
    assert not todo and "not implemented" in todo.message


def test_check_softmax_cross_entropy():
    assert ch02.check_softmax_cross_entropy(forward.softmax, forward.cross_entropy)

    def naive_softmax(z):
        with np.errstate(over="ignore", invalid="ignore"):
            return np.exp(z) / np.exp(z).sum(-1, keepdims=True)

    naive = ch02.check_softmax_cross_entropy(naive_softmax, forward.cross_entropy)
    assert not naive and "subtract the row maximum" in naive.message
    double = ch02.check_softmax_cross_entropy(
        forward.softmax, lambda z, t: forward.cross_entropy(forward.softmax(z), t))
    assert not double and "takes logits" in double.message


def test_check_rnn_forward():
    def reference(x, weights, h0):
        return rnn_forward_numpy(x, weights, h0, batch_first=True)

    assert ch02.check_rnn_forward(reference)
    time_major = ch02.check_rnn_forward(
        lambda x, w, h0: (reference(x, w, h0)[0].transpose(1, 0, 2), reference(x, w, h0)[1]))
    assert not time_major and "batch_first=True" in time_major.message
    last_only = ch02.check_rnn_forward(lambda x, w, h0: (reference(x, w, h0)[0],
                                                         reference(x, w, h0)[1][-1]))
    assert not last_only and "every layer" in last_only.message
    no_h0 = ch02.check_rnn_forward(lambda x, w, h0: reference(x, w, None))
    assert not no_h0 and "h_n" in no_h0.message
    not_tuple = ch02.check_rnn_forward(lambda x, w, h0: reference(x, w, h0)[0])
    assert not not_tuple and "tuple" in not_tuple.message


def test_checks_leave_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    ch02.check_param_count(forward.rnn_num_params)
    ch02.check_rnn_step(_step)
    ch02.check_rnn_forward(lambda x, w, h0: rnn_forward_numpy(x, w, h0, batch_first=True))
    assert torch.equal(torch.rand(3), before)
