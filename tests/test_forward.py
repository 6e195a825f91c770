"""Tests of rnncourse.forward (chapter 2) and of the chapter's exercise self-checks.

``ScratchRNN`` is tested with every other layer in ``test_recurrent.py`` (equal to
``torch.nn.RNN``, parameters, init, repr, dropout, bad inputs); here are the NumPy forward pass,
the torch ``rnn_cell``, the output layer, softmax and cross-entropy, and the dynamics helpers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnncourse import forward, recurrent
from rnncourse.exercises import ch02
from rnncourse.forward import rnn_forward_numpy, rnn_weights_from_torch
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
def test_numpy_forward_matches_torch(num_layers, hidden, batch_first, bias, nonlinearity,
                                     dtype, with_h0):
    rnn, x, h0 = _case(num_layers, hidden, batch_first, bias, nonlinearity, dtype, with_h0)
    with torch.no_grad():
        want_out, want_hn = rnn(x, h0)
    # Errors grow with the size of the values (relu states are unbounded): scale the tolerance.
    tol = TOL[dtype] * max(1.0, float(want_out.abs().max()), float(want_hn.abs().max()))
    out, h_n = rnn_forward_numpy(x.numpy(), rnn_weights_from_torch(rnn),
                                 None if h0 is None else h0.numpy(), nonlinearity, batch_first)
    assert out.shape == tuple(want_out.shape) and h_n.shape == tuple(want_hn.shape)
    assert out.dtype == want_out.numpy().dtype and h_n.dtype == want_hn.numpy().dtype
    assert _err(out, want_out) <= tol and _err(h_n, want_hn) <= tol


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_h0", [False, True], ids=["h0-omitted", "h0-given"])
def test_numpy_unbatched_input_like_torch(batch_first: bool, with_h0: bool) -> None:
    """``(L, H_in)`` is one sequence whatever ``batch_first`` says, as in ``nn.RNN``."""
    rnn, x, h0 = _case(2, 4, batch_first, True, "tanh", torch.float64, True)
    x2, h02 = x[0] if batch_first else x[:, 0], h0[:, 0] if with_h0 else None
    with torch.no_grad():
        want_out, want_hn = rnn(x2, h02)
    out, h_n = rnn_forward_numpy(x2.numpy(), rnn_weights_from_torch(rnn),
                                 None if h02 is None else h02.numpy(), batch_first=batch_first)
    assert out.shape == tuple(want_out.shape) == (x2.shape[0], 4) and h_n.shape == (2, 4)
    assert _err(out, want_out) < 1e-12 and _err(h_n, want_hn) < 1e-12


@pytest.mark.parametrize("bias", [True, False])
def test_rnn_weights_from_torch_copies_every_layer(bias: bool) -> None:
    rnn = torch.nn.RNN(3, 4, 2, bias=bias, dtype=torch.float64)
    weights = rnn_weights_from_torch(rnn)
    assert len(weights) == 2 and weights[0].w_ih.shape == (4, 3) and weights[1].w_ih.shape == (4, 4)
    for k, layer in enumerate(weights):
        assert np.array_equal(layer.w_hh, getattr(rnn, f"weight_hh_l{k}").detach().numpy())
        assert layer.w_ih.dtype == np.float64
        assert (layer.b_ih is None) == (layer.b_hh is None) == (not bias)
    weights[0].w_ih[0, 0] += 1.0  # a copy: the module is untouched
    assert rnn.weight_ih_l0[0, 0].item() != weights[0].w_ih[0, 0]
    scratch = forward.ScratchRNN.from_torch(rnn)
    assert all(np.array_equal(a, b) for a, b in zip(rnn_weights_from_torch(scratch)[1],
                                                    rnn_weights_from_torch(rnn)[1])
               if a is not None)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_cell_numpy_and_torch_rnn_cell_match_rnncell(nonlinearity: str) -> None:
    torch.manual_seed(0)
    cell = torch.nn.RNNCell(3, 5, nonlinearity=nonlinearity, dtype=torch.float64)
    x, h = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    params = (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    w = [p.detach().numpy() for p in params]
    with torch.no_grad():
        want = cell(x, h)
        assert _err(forward.rnn_cell(x, h, *params, nonlinearity=nonlinearity), want) < 1e-12
    got = forward.rnn_cell_numpy(x.numpy(), h.numpy(), *w, nonlinearity=nonlinearity)
    assert _err(got, want) < 1e-12


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


def test_output_layer_matches_linear():
    lin = torch.nn.Linear(6, 3, dtype=torch.float64)
    h = torch.randn(7, 2, 6, dtype=torch.float64)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    with torch.no_grad():
        assert _err(forward.output_layer_numpy(h.numpy(), w, b), lin(h)) < 1e-13
        assert _err(forward.output_layer_numpy(h.numpy(), w, b, g="softmax"),
                    torch.softmax(lin(h), -1)) < 1e-13


def test_spectral_radius_and_trajectories():
    rng = np.random.default_rng(0)
    for kind in ("orthogonal", "gaussian"):
        w = forward.matrix_with_spectral_radius(32, 0.9, kind, rng)
        assert abs(forward.spectral_radius(w) - 0.9) < 1e-9
    q = forward.matrix_with_spectral_radius(16, 1.0, "orthogonal", rng)
    assert np.allclose(q @ q.T, np.eye(16), atol=1e-12)
    assert abs(forward.spectral_radius(torch.from_numpy(0.5 * q)) - 0.5) < 1e-9
    h0 = rng.standard_normal(16)
    for radius in (0.5, 1.5):
        traj = forward.hidden_trajectory(radius * q, h0, 20, "linear")
        assert traj.shape == (21, 16)
        norms = np.linalg.norm(traj, axis=1)
        assert np.allclose(norms, radius ** np.arange(21) * norms[0], rtol=1e-10)
    tanh_traj = forward.hidden_trajectory(3.0 * q, h0, 50, "tanh")
    assert np.abs(tanh_traj[1:]).max() <= 1.0


def _jacobian_lyapunov(w, h0, steps, inputs, discard):
    """Independent estimate: push a unit vector through the Jacobians diag(1 - h_t^2) W."""
    h, v, logs = h0, np.ones(len(h0)) / np.sqrt(len(h0)), []
    for t in range(steps):
        h = np.tanh(w @ h + inputs[t])
        v = (1 - h**2) * (w @ v)
        logs.append(np.log(np.linalg.norm(v)))
        v /= np.linalg.norm(v)
    return np.mean(logs[discard:])


def test_lyapunov_exponent_linear_is_log_rho():
    rng = np.random.default_rng(0)
    for radius in (0.5, 0.9, 1.0, 2.0):
        q = forward.matrix_with_spectral_radius(16, radius, "orthogonal", rng)
        lam = forward.lyapunov_exponent(q, rng.standard_normal(16), 60, "linear")
        assert abs(lam - np.log(radius)) < 1e-6
    w = forward.matrix_with_spectral_radius(16, 0.8, "gaussian", rng)  # any matrix, long run
    assert abs(forward.lyapunov_exponent(w, np.ones(16), 2000, "linear", discard=500)
               - np.log(0.8)) < 0.01


def test_lyapunov_exponent_tanh_cases():
    rng = np.random.default_rng(1)
    # 1-D, rho = 3: converges to h* = tanh(3 h*), where the slope is 3 (1 - h*^2).
    h_star = 1.0
    for _ in range(200):
        h_star = np.tanh(3 * h_star)
    lam = forward.lyapunov_exponent(np.array([[3.0]]), np.array([0.4]), 300, discard=100)
    assert abs(lam - np.log(3 * (1 - h_star**2))) < 1e-6
    # Driven 32-unit network: the perturbation estimate equals the Jacobian-product one.
    for radius in (0.9, 3.0):
        w = forward.matrix_with_spectral_radius(32, radius, "orthogonal", rng)
        u = 0.5 * rng.standard_normal((400, 32))
        h0 = 0.1 * rng.standard_normal(32)
        lam = forward.lyapunov_exponent(w, h0, 400, "tanh", u, discard=50)
        assert abs(lam - _jacobian_lyapunov(w, h0, 400, u, 50)) < 0.02
        assert (lam > 0) == (radius > 1)
    # The sign does not depend on the first direction; a dead ReLU network gives -inf.
    w = forward.matrix_with_spectral_radius(32, 3.0, "orthogonal", rng)
    lams = [forward.lyapunov_exponent(w, np.ones(32) / 8, 1000, discard=100,
                                      rng=np.random.default_rng(s)) for s in range(3)]
    assert min(lams) > 0.1 and np.ptp(lams) < 0.02
    assert forward.lyapunov_exponent(w, np.zeros(32), 5, "relu",
                                     inputs=-np.ones((5, 32))) == -np.inf


# --- bad inputs and arguments -----------------------------------------------------------------

_RNN = torch.nn.RNN(3, 4, 2)
_W = rnn_weights_from_torch(_RNN)
_Z = np.zeros((8, 5))
_T = np.arange(8) % 5


def _numpy_rnn(x: Any, h0: Any = None, **kwargs: Any) -> Any:
    return rnn_forward_numpy(x, _W, h0, **kwargs)


BAD_CALLS = [
    pytest.param(lambda: _numpy_rnn(np.zeros((5, 2, 7))), ShapeError,
                 r"x must have shape \(seq_len, batch, input_size=3\), got \(5, 2, 7\)",
                 id="forward-wrong-input-size"),
    pytest.param(lambda: _numpy_rnn(np.zeros((5, 2, 3)), np.zeros((1, 2, 4))), ShapeError,
                 r"h0 must have shape \(num_layers=2, batch=2, hidden_size=4\), got \(1, 2, 4\)",
                 id="forward-h0-wrong-layers"),
    pytest.param(lambda: _numpy_rnn(np.zeros((5, 2, 3)), np.zeros((2, 3, 4))), ShapeError,
                 r"batch is 3, expected 2", id="forward-h0-wrong-batch"),
    pytest.param(lambda: _numpy_rnn(np.zeros((2, 5, 3)), np.zeros((2, 5, 4)), batch_first=True),
                 ShapeError, r"h0 must have shape \(num_layers=2, batch=2, hidden_size=4\)",
                 id="forward-h0-batch-first"),
    pytest.param(lambda: _numpy_rnn(np.zeros((0, 2, 3))), ShapeError,
                 r"empty dimension seq_len", id="forward-empty-sequence"),
    pytest.param(lambda: _numpy_rnn(np.zeros((5, 2, 3), dtype=np.int64)), TypeError,
                 r"x must be floating point .*got dtype int64", id="forward-integer-input"),
    pytest.param(lambda: _numpy_rnn(np.zeros((5, 2, 3, 1))), ShapeError,
                 r"x must have 3 dimensions \(seq_len, batch, input_size=3\), got shape "
                 r"\(5, 2, 3, 1\)", id="forward-4d-input"),
    pytest.param(lambda: _numpy_rnn(np.zeros((5, 3)), np.zeros((2, 1, 4))), ShapeError,
                 r"h0 \(unbatched input\) must have 2 dimensions \(num_layers=2, hidden_size=4\)",
                 id="forward-unbatched-input-batched-h0"),
    pytest.param(lambda: _numpy_rnn([[[0.0, 0.0, 0.0]]]), TypeError,
                 r"x must be a torch\.Tensor or numpy\.ndarray .*got list",
                 id="forward-list-input"),
    pytest.param(lambda: _numpy_rnn(np.zeros((5, 2, 3)), nonlinearity="gelu"), ValueError,
                 r"nonlinearity must be 'tanh' or 'relu', got 'gelu'", id="forward-nonlinearity"),
    pytest.param(lambda: rnn_forward_numpy(np.zeros((5, 2, 3)), []), ValueError,
                 r"weights must hold at least one layer", id="forward-no-layers"),
    pytest.param(lambda: rnn_weights_from_torch(torch.nn.GRU(3, 4)), TypeError,
                 r"rnn must be a torch\.nn\.RNN or ScratchRNN, got GRU", id="weights-of-a-gru"),
    pytest.param(lambda: rnn_weights_from_torch(torch.nn.RNN(3, 4, bidirectional=True)),
                 ValueError, r"only unidirectional", id="weights-bidirectional"),
    pytest.param(lambda: forward.rnn_cell_numpy(np.zeros((4, 2)), np.zeros((4, 4)), *_W[0][:2]),
                 ShapeError, r"x_t must have shape \(batch, input_size=3\), got \(4, 2\)",
                 id="cell-wrong-input-size"),
    pytest.param(lambda: forward.rnn_cell_numpy(np.zeros((4, 3)), np.zeros((4, 3)),
                                                _W[0].w_ih, _W[0].w_hh), ShapeError,
                 r"h_prev must have shape \(batch=4, hidden_size=4\), got \(4, 3\)",
                 id="cell-h-prev-wrong-size"),
    pytest.param(lambda: forward.cross_entropy(_Z, _T.astype(float)), ShapeError,
                 r"targets must be integer class indices of shape \(batch=8,\)",
                 id="cross-entropy-float-targets"),
    pytest.param(lambda: forward.cross_entropy(_Z, _T + 5), ValueError,
                 r"targets must lie in \[0, 5\), got values from 5 to 9",
                 id="cross-entropy-targets-out-of-range"),
    pytest.param(lambda: forward.output_layer_numpy(np.zeros((7, 5)), np.zeros((3, 6))),
                 ShapeError, r"last dimension is hidden_size=6, got \(7, 5\)",
                 id="output-layer-wrong-hidden-size"),
    pytest.param(lambda: forward.output_layer_numpy(np.zeros((7, 6)), np.zeros((3, 6)),
                                                    g="sigmoid"),
                 ValueError, r"g must be 'identity' or 'softmax', got 'sigmoid'",
                 id="output-layer-bad-g"),
    pytest.param(lambda: forward.spectral_radius(np.zeros((2, 3))), ShapeError,
                 r"w must be square, got shape \(2, 3\)", id="spectral-radius-not-square"),
    pytest.param(lambda: forward.matrix_with_spectral_radius(4, 1.0, "uniform"), ValueError,
                 r"kind must be 'orthogonal' or 'gaussian', got 'uniform'",
                 id="matrix-bad-kind"),
    pytest.param(lambda: forward.matrix_with_spectral_radius(4, 0.0), ValueError,
                 r"radius must be positive, got 0\.0", id="matrix-radius-zero"),
    pytest.param(lambda: forward.hidden_trajectory(np.eye(16), np.zeros(16), 5,
                                                   inputs=np.zeros((4, 16))), ShapeError,
                 r"inputs must have shape \(5, 16\), got \(4, 16\)",
                 id="trajectory-inputs-wrong-length"),
    pytest.param(lambda: forward.hidden_trajectory(np.eye(16), np.zeros(8), 5), ShapeError,
                 r"h0 must end with hidden_size=16, got shape \(8,\)",
                 id="trajectory-h0-wrong-size"),
    pytest.param(lambda: forward.hidden_trajectory(np.eye(4), np.zeros(4), 5, "sigmoid"),
                 ValueError, r"nonlinearity must be 'linear', 'tanh' or 'relu'",
                 id="trajectory-bad-nonlinearity"),
    pytest.param(lambda: forward.lyapunov_exponent(np.eye(4), np.zeros(3), 5), ShapeError,
                 r"h0 must have shape \(hidden_size=4\), got \(3,\)", id="lyapunov-h0-size"),
    pytest.param(lambda: forward.lyapunov_exponent(np.zeros((4, 3)), np.zeros(4), 5),
                 ShapeError, r"w_hh must be square, got shape \(4, 3\)",
                 id="lyapunov-not-square"),
    pytest.param(lambda: forward.lyapunov_exponent(np.eye(4), np.zeros(4), 5,
                                                   inputs=np.zeros((4, 4))), ShapeError,
                 r"inputs must have shape \(steps=5, hidden_size=4\), got \(4, 4\)",
                 id="lyapunov-inputs-length"),
    pytest.param(lambda: forward.lyapunov_exponent(np.eye(4), np.zeros(4), 5, "gelu"),
                 ValueError, r"nonlinearity must be 'linear', 'tanh' or 'relu', got 'gelu'",
                 id="lyapunov-nonlinearity"),
    pytest.param(lambda: forward.lyapunov_exponent(np.eye(4), np.zeros(4), 5, eps=0.0),
                 ValueError, r"eps must be a small positive number", id="lyapunov-eps"),
    pytest.param(lambda: forward.lyapunov_exponent(np.eye(4), np.zeros(4), 5, discard=5),
                 ValueError, r"discard must be an int in \[0, steps=5\), got 5",
                 id="lyapunov-discard-everything"),
    pytest.param(lambda: forward.lyapunov_exponent(np.eye(4), [0.0] * 4, 5), TypeError,
                 r"h0 must be a torch\.Tensor or numpy\.ndarray", id="lyapunov-list-h0"),
]


@pytest.mark.parametrize("call,error,match", BAD_CALLS)
def test_bad_inputs_and_arguments(call: Callable[[], Any], error: type[Exception],
                                  match: str) -> None:
    with pytest.raises(error, match=match):
        call()


# --- exercise self-checks ---------------------------------------------------------------------

def _counts() -> tuple[int, int, int]:
    """A correct answer to exercise 2.1, from the modules themselves."""
    uni = sum(p.numel() for p in torch.nn.RNN(50, 128, 2, device="meta").parameters())
    bi = sum(p.numel() for p in torch.nn.RNN(50, 128, 2, bidirectional=True,
                                             device="meta").parameters())
    return uni, bi, 2 * 128


def test_check_param_count(stub):
    uni, bi, red = _counts()
    assert ch02.check_param_count(_counts)
    assert recurrent.num_params("rnn", 50, 128, 2) == uni  # the check's reference agrees
    one_bias = 128 * (50 + 128) + 128 + 128 * (128 + 128) + 128
    upper_reads_input = 2 * (128 * (50 + 128) + 256)
    cases = {
        (one_bias, bi, red): "two bias vectors per layer",
        (upper_reads_input, bi, red): "reads the 128 states of the first layer",
        (uni - 128 * 128 * 2 - 256, bi, red): "count both layers",
        (uni, 2 * uni, red): "reads both directions of the first: 2H = 256",
        (uni, uni, red): "doubles every layer",
        (uni, bi, 512): "one of the two vectors of each layer is redundant, not both",
        (uni, bi, 128): "one redundant vector per layer",
    }
    for answer, message in cases.items():
        result = ch02.check_param_count(lambda answer=answer: answer)
        assert not result and message in result.message, (answer, result)
    as_float = ch02.check_param_count(lambda: (float(uni), bi, red))
    assert not as_float and "should be an int" in as_float.message
    wrong_type = ch02.check_param_count(lambda: uni)
    assert not wrong_type and "three ints" in wrong_type.message
    todo = ch02.check_param_count(stub)
    assert not todo and not todo.attempted and "not implemented" in todo.message


def test_check_softmax_cross_entropy(stub):
    assert ch02.check_softmax_cross_entropy(forward.softmax, forward.cross_entropy)

    def naive_softmax(z):
        with np.errstate(over="ignore", invalid="ignore"):
            return np.exp(z) / np.exp(z).sum(-1, keepdims=True)

    naive = ch02.check_softmax_cross_entropy(naive_softmax, forward.cross_entropy)
    assert not naive and "subtract the row maximum" in naive.message
    double = ch02.check_softmax_cross_entropy(
        forward.softmax, lambda z, t: forward.cross_entropy(forward.softmax(z), t))
    assert not double and "takes logits" in double.message
    assert not ch02.check_softmax_cross_entropy(stub, stub).attempted


def test_check_half_life_radius(stub, crashing):
    assert ch02.check_half_life_radius(lambda k: 0.5 ** (1 / k))
    assert ch02.check_half_life_radius(lambda k: np.exp(np.log(0.5) / k))  # the same number
    cases = {
        lambda k: 1 - 1 / k: "first-order approximation",
        lambda k: 0.5 ** k: "halves at every step",
        lambda k: np.exp(-1 / k): "time constant",
        lambda k: 2 ** (1 / k): "doubles",
        lambda k: 0.5 ** (1 / (k + 1)): "off by one",
        lambda k: 1 / k: "not a decay factor",
        lambda k: 0.97: "rho**k times what it was",
    }
    for wrong, message in cases.items():
        result = ch02.check_half_life_radius(wrong)
        assert not result and message in result.message, result
        assert "radius_for_half_life(20)" in result.message  # the chapter's case comes first
    as_text = ch02.check_half_life_radius(lambda k: "0.966")
    assert not as_text and "should return a number" in as_text.message
    assert not ch02.check_half_life_radius(stub).attempted
    crash = ch02.check_half_life_radius(crashing)
    assert not crash and "ZeroDivisionError" in crash.message


def _fixed_point_by_iteration(rho):
    h = 1.0
    for _ in range(5000):
        h = np.tanh(rho * h)
    return h, rho * (1 - h ** 2)


def test_check_fixed_point(stub):
    assert ch02.check_fixed_point(_fixed_point_by_iteration)
    right = _fixed_point_by_iteration
    cases = {
        lambda r: (0.0, r): "unstable",
        lambda r: (1.0, 0.0): "h = 1 is not a fixed point",
        lambda r: (float(np.tanh(r)), 0.0): "one step of the map",
        lambda r: (-right(r)[0], right(r)[1]): "return the positive one",
        lambda r: (right(r)[0], r): "the slope at h = 0 only",
        lambda r: (right(r)[0], 1 - right(r)[0] ** 2): "factor rho",
        lambda r: (right(r)[0], r * (1 - right(r)[0])): "square h*",
        lambda r: (right(max(r, 1.5))[0], right(r)[1]): "the only fixed point is 0",
    }
    for wrong, message in cases.items():
        result = ch02.check_fixed_point(wrong)
        assert not result and message in result.message, result
    one = ch02.check_fixed_point(lambda r: 0.99)
    assert not one and "two numbers" in one.message
    assert not ch02.check_fixed_point(stub).attempted


def _edge(amplitude):
    """A correct answer to exercise 2.5 on other seeds than the check's: bisection on lambda."""
    q = forward.matrix_with_spectral_radius(64, 1.0, "orthogonal", np.random.default_rng(7))
    drive = amplitude * np.random.default_rng(8).standard_normal((1000, 64))
    lo, hi = 1.0, 4.0
    for _ in range(8):
        mid = (lo + hi) / 2
        lam = forward.lyapunov_exponent(mid * q, np.zeros(64), 1000, "tanh", drive, discard=100)
        lo, hi = (lo, mid) if lam > 0 else (mid, hi)
    return (lo + hi) / 2


def test_check_edge_of_chaos(stub):
    assert ch02.check_edge_of_chaos(_edge)
    reference = {a: ch02._edge_reference(a) for a in (0.5, 1.5)}
    assert 1.4 < reference[0.5] < 1.8 < reference[1.5] < 2.5
    linear = ch02.check_edge_of_chaos(lambda a: 1.0)
    assert not linear and "undriven linear" in linear.message
    reversed_order = ch02.check_edge_of_chaos(lambda a: 3.0 - a)
    assert not reversed_order and "stronger drive" in reversed_order.message
    off = ch02.check_edge_of_chaos(lambda a: _edge(a) + 0.3)
    assert not off and "changes sign near" in off.message
    text = ch02.check_edge_of_chaos(lambda a: "1.6")
    assert not text and "should return a number" in text.message
    assert not ch02.check_edge_of_chaos(stub).attempted


def test_checks_leave_global_rng_alone():
    torch.manual_seed(123)
    np.random.seed(5)
    before, before_np = torch.rand(3), np.random.rand(3)
    torch.manual_seed(123)
    np.random.seed(5)
    ch02.check_param_count(_counts)
    ch02.check_half_life_radius(lambda k: 0.5 ** (1 / k))
    ch02.check_fixed_point(_fixed_point_by_iteration)
    ch02.check_edge_of_chaos(lambda a: 1.0)
    assert torch.equal(torch.rand(3), before) and np.array_equal(np.random.rand(3), before_np)
