"""Tests of rnncourse.bptt (NumPy BPTT, truncation, PyTorch helpers) and exercises.ch03."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

from rnncourse import bptt, gradcheck
from rnncourse.exercises import ch03
from rnncourse.validation import ShapeError

matplotlib.use("Agg")


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    steps, batch, n_x, n_h, n_y = 6, 3, 4, 5, 3
    params = bptt.init_params(n_x, n_h, n_y, rng)
    return {"params": params, "x": rng.normal(size=(steps, batch, n_x)),
            "h0": 0.5 * rng.normal(size=(batch, n_h)),
            "mse": rng.normal(size=(steps, batch, n_y)),
            "cross_entropy": rng.integers(0, n_y, size=(steps, batch))}


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_bptt_matches_finite_differences(problem, loss):
    params, x, target = problem["params"], problem["x"], problem[loss]
    _, grads = bptt.loss_and_grads(params, x, target, problem["h0"], loss=loss)

    def f(p):
        weights = {n: p[n] for n in bptt.PARAM_NAMES}
        return bptt.loss_and_grads(weights, x, target, p["h0"], loss=loss)[0]

    report = gradcheck.check_gradients(f, grads, dict(params, h0=problem["h0"].copy()))
    assert report.passed and report.max_error < 1e-7, report


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_bptt_matches_torch_autograd(problem, loss, batch_first):
    x, target = problem["x"], problem[loss]
    if batch_first:
        x, target = x.swapaxes(0, 1), target.swapaxes(0, 1)
    ours_loss, ours = bptt.loss_and_grads(problem["params"], x, target, problem["h0"], loss,
                                          batch_first=batch_first)
    ref_loss, ref = bptt.torch_loss_and_grads(problem["params"], x, target, problem["h0"], loss,
                                              batch_first=batch_first)
    assert ours_loss == pytest.approx(ref_loss, rel=1e-12)
    assert gradcheck.compare_gradients(ours, ref).max_error < 1e-10


def test_zero_initial_state_by_default(problem):
    _, with_zeros = bptt.loss_and_grads(problem["params"], problem["x"], problem["mse"],
                                        np.zeros_like(problem["h0"]))
    _, default = bptt.loss_and_grads(problem["params"], problem["x"], problem["mse"])
    assert gradcheck.compare_gradients(with_zeros, default).max_error == 0.0


def test_forward_matches_torch_modules():
    torch.manual_seed(0)
    rnn, linear = nn.RNN(4, 6).double(), nn.Linear(6, 2).double()
    x = torch.randn(5, 3, 4, dtype=torch.float64)
    out, h_last = rnn(x)
    y_ref = linear(out)
    params = bptt.params_from_torch(rnn, linear)
    y, cache = bptt.rnn_forward(params, x.numpy())
    np.testing.assert_allclose(y, y_ref.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(cache["h"][-1], h_last[0].detach().numpy(), atol=1e-12)
    assert cache["h"].shape == (6, 3, 6)


def test_non_recursive_gradient_is_wrong_upstream_only(problem):
    _, right = bptt.loss_and_grads(problem["params"], problem["x"], problem["mse"], problem["h0"])
    _, wrong = bptt.loss_and_grads(problem["params"], problem["x"], problem["mse"], problem["h0"],
                                   recurrent=False)
    errors = gradcheck.compare_gradients(right, wrong).errors
    assert errors["W_ho"] == 0.0 and errors["b_o"] == 0.0
    assert min(errors[n] for n in ("W_hh", "b_h", "h0")) > 0.02


def test_step_backward_is_one_step_of_bptt():
    rng = np.random.default_rng(4)
    params = bptt.init_params(2, 3, 1, rng)
    x = rng.normal(size=(1, 2, 2))
    y, cache = bptt.rnn_forward(params, x)
    grads = bptt.rnn_backward(params, cache, np.ones_like(y))
    delta = np.ones((2, 1)) @ params["W_ho"]
    dW_xh, dW_hh, db_h, dh_prev = bptt.rnn_step_backward(delta, cache["h"][1], cache["h"][0],
                                                         x[0], params["W_hh"])
    for got, name in [(dW_xh, "W_xh"), (dW_hh, "W_hh"), (db_h, "b_h"), (dh_prev, "h0")]:
        np.testing.assert_allclose(got, grads[name])


def test_truncated_bptt(problem):
    params, x, z, h0 = problem["params"], problem["x"], problem["mse"], problem["h0"]
    steps = x.shape[0]
    loss_full, full = bptt.loss_and_grads(params, x, z, h0)
    full.pop("h0")
    for k1, k2 in [(steps, steps), (1, steps), (50, 50)]:
        value, grads = bptt.truncated_bptt_grads(params, x, z, k1, k2, h0)
        assert value == pytest.approx(loss_full)
        assert gradcheck.compare_gradients(grads, full).max_error < 1e-14
    _, chunked = bptt.truncated_bptt_grads(params, x, z, 2, h0=h0)
    assert gradcheck.compare_gradients(chunked, full).max_error > 1e-3
    # k1 = k2 = k is the PyTorch chunk loop with detach()
    model = bptt.RNNRegressor(4, 5, 3).double()
    with torch.no_grad():
        model.rnn.weight_ih_l0.copy_(torch.from_numpy(params["W_xh"]))
        model.rnn.weight_hh_l0.copy_(torch.from_numpy(params["W_hh"]))
        model.rnn.bias_ih_l0.copy_(torch.from_numpy(params["b_h"]))
        model.rnn.bias_hh_l0.zero_()
        model.head.weight.copy_(torch.from_numpy(params["W_ho"]))
        model.head.bias.copy_(torch.from_numpy(params["b_o"]))
    state = torch.from_numpy(h0)[None]
    for start in range(0, steps, 2):
        prediction, state = model(torch.from_numpy(x[start:start + 2]), bptt.detach_state(state))
        (2 * nn.functional.mse_loss(prediction, torch.from_numpy(z[start:start + 2]))).backward()
    torch_grads = {"W_xh": model.rnn.weight_ih_l0.grad, "W_hh": model.rnn.weight_hh_l0.grad,
                   "b_h": model.rnn.bias_ih_l0.grad, "W_ho": model.head.weight.grad,
                   "b_o": model.head.bias.grad}
    assert gradcheck.compare_gradients(chunked, torch_grads).max_error < 1e-10


def test_bad_inputs_give_clear_errors(problem):
    params, x = problem["params"], problem["x"]
    with pytest.raises(ShapeError, match="input_size=4"):
        bptt.rnn_forward(params, x[..., :3])
    with pytest.raises(ShapeError, match="3 dimensions"):
        bptt.rnn_forward(params, x[0])
    with pytest.raises(TypeError, match="floating point"):
        bptt.rnn_forward(params, x.astype(int))
    with pytest.raises(ShapeError, match="h0"):
        bptt.rnn_forward(params, x, np.zeros((3, 4)))
    with pytest.raises(KeyError, match="missing"):
        bptt.rnn_forward({"W_xh": params["W_xh"]}, x)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        bptt.rnn_forward(dict(params, W_hh=torch.zeros(5, 5)), x)
    with pytest.raises(ShapeError, match="hidden_size=5"):
        bptt.rnn_forward(dict(params, W_hh=np.zeros((4, 4))), x)
    with pytest.raises(ValueError, match="loss must be"):
        bptt.loss_and_grads(params, x, problem["mse"], loss="l1")
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        bptt.cross_entropy_loss(np.zeros((6, 3, 3)), np.full((6, 3), 3))
    with pytest.raises(ShapeError, match="integer numpy array"):
        bptt.cross_entropy_loss(np.zeros((6, 3, 3)), np.zeros((6, 3)))
    with pytest.raises(ShapeError, match="target"):
        bptt.mse_loss(np.zeros((6, 3, 3)), np.zeros((6, 3, 2)))
    with pytest.raises(ValueError, match="k2 must be >= k1"):
        bptt.truncated_bptt_grads(params, x, problem["mse"], 3, 2)
    with pytest.raises(ValueError, match="positive integer"):
        bptt.truncated_bptt_grads(params, x, problem["mse"], 0)
    with pytest.raises(ValueError, match="one-layer"):
        bptt.params_from_torch(nn.RNN(2, 3, num_layers=2), nn.Linear(3, 1))
    with pytest.raises(ValueError, match="in_features=3"):
        bptt.params_from_torch(nn.RNN(2, 3), nn.Linear(4, 1))
    with pytest.raises(ValueError, match="positive integer"):
        bptt.init_params(0, 3, 1)


def test_detach_state():
    rnn, lstm = nn.RNN(2, 3), nn.LSTM(2, 3)
    x = torch.randn(4, 1, 2)
    _, h = rnn(x)
    assert h.grad_fn is not None and bptt.detach_state(h).grad_fn is None
    _, (h, c) = lstm(x)
    detached = bptt.detach_state((h, c))
    assert isinstance(detached, tuple) and all(s.grad_fn is None for s in detached)
    assert torch.equal(detached[1], c)
    assert bptt.detach_state(None) is None
    with pytest.raises(TypeError, match="tuple of tensors"):
        bptt.detach_state([h, c])


def test_undetached_state_raises_the_documented_error():
    model = bptt.RNNRegressor(1, 4, 1)
    x, state = torch.randn(10, 2, 1), None
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        for start in (0, 5):
            prediction, state = model(x[start:start + 5], state)
            prediction.sum().backward()


def test_train_tbptt_learns_and_validates():
    torch.manual_seed(0)
    t = torch.arange(2001, dtype=torch.float32)
    series = torch.sin(2 * torch.pi * t / 20)
    x, y = series[:-1].reshape(4, 500).T[..., None], series[1:].reshape(4, 500).T[..., None]
    model = bptt.RNNRegressor(1, 16, 1)
    losses = bptt.train_tbptt(model, x, y, k=20, steps=60, lr=1e-2)
    assert len(losses) == 60 and np.mean(losses[-10:]) < 0.2 * np.mean(losses[:5])
    with pytest.raises(ValueError, match="fewer than one chunk"):
        bptt.train_tbptt(model, x[:5], y[:5], k=20, steps=1)
    with pytest.raises(ShapeError, match="y"):
        bptt.train_tbptt(model, x, y[:-1], k=20, steps=1)


def test_saved_tensor_bytes_grow_linearly():
    model = bptt.RNNRegressor(3, 8, 2)

    def saved(steps):
        return bptt.saved_tensor_bytes(lambda: model(torch.randn(steps, 4, 3))[0].sum())

    small, large = saved(50), saved(200)
    assert small > 50 * 4 * 8 * 4                       # at least every h_t, float32
    assert 3.0 < large / small < 5.0


def test_plot_unrolled_graph():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    bptt.plot_unrolled_graph(ax, steps=4)
    bptt.plot_unrolled_graph(ax, steps=6, chunk=2)
    plt.close(fig)
    with pytest.raises(ValueError, match="at most 12"):
        bptt.plot_unrolled_graph(ax, steps=13)


# --- exercise self-checks ----------------------------------------------------------------


def test_check_detach_state():
    assert ch03.check_detach_state(bptt.detach_state)
    only_tensors = ch03.check_detach_state(lambda s: None if s is None else s[0].detach()
                                           if isinstance(s, tuple) else s.detach())
    assert not only_tensors and "tuple" in only_tensors.message
    not_detached = ch03.check_detach_state(lambda s: s)
    assert not not_detached and "still attached" in not_detached.message
    crashed = ch03.check_detach_state(lambda s: s.detach())            # None.detach()
    assert not crashed and "AttributeError" in crashed.message


def test_check_step_backward():
    assert ch03.check_step_backward(bptt.rnn_step_backward)

    def no_tanh_derivative(delta, h, h_prev, x, W_hh):
        return delta.T @ x, delta.T @ h_prev, delta.sum(0), delta @ W_hh

    result = ch03.check_step_backward(no_tanh_derivative)
    assert not result and "tanh derivative" in result.message

    def transposed(delta, h, h_prev, x, W_hh):
        out = bptt.rnn_step_backward(delta, h, h_prev, x, W_hh)
        return out[0], out[1], out[2], ((1 - h**2) * delta) @ W_hh.T

    result = ch03.check_step_backward(transposed)
    assert not result and "dh_prev" in result.message and "transpose" in result.message
    crashed = ch03.check_step_backward(lambda *args: args[0] @ args[0])
    assert not crashed and "ValueError" in crashed.message
    missing = ch03.check_step_backward(lambda *args: 1.0)
    assert not missing and "tuple" in missing.message


def test_check_tbptt_grads():
    def reference(params, x, target, k1, k2, h0):
        return bptt.truncated_bptt_grads(params, x, target, k1, k2, h0)[1]

    assert ch03.check_tbptt_grads(reference)

    def full(params, x, target, k1, k2, h0):
        return bptt.loss_and_grads(params, x, target, h0)[1]

    result = ch03.check_tbptt_grads(full)
    assert not result and "FULL BPTT" in result.message

    def chunks_of_k2(params, x, target, k1, k2, h0):
        return bptt.truncated_bptt_grads(params, x, target, k2, k2, h0)[1]

    result = ch03.check_tbptt_grads(chunks_of_k2)
    assert not result and "k1=3, k2=5" in result.message
    assert not ch03.check_tbptt_grads(lambda *a: [1.0])
    crashed = ch03.check_tbptt_grads(lambda *a: 1 / 0)
    assert not crashed and "ZeroDivisionError" in crashed.message
