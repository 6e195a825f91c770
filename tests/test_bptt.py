"""Tests of rnncourse.bptt (NumPy BPTT, truncation, PyTorch helpers) and exercises.ch03."""

from __future__ import annotations

import re

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


def _with(problem, **changes):
    """The fixture's parameters with some entries replaced."""
    return dict(problem["params"], **changes)


_BAD_INPUTS = [
    pytest.param(lambda pr: bptt.rnn_forward(pr["params"], pr["x"][..., :3]), ShapeError,
                 "input_size=4), got (6, 3, 3): input_size is 3, expected 4",
                 id="x-wrong-input-size"),
    pytest.param(lambda pr: bptt.rnn_forward(pr["params"], pr["x"][0]), ShapeError,
                 "x must have 3 dimensions (seq_len, batch, input_size=4), got shape (3, 4)",
                 id="x-2d"),
    pytest.param(lambda pr: bptt.rnn_forward(pr["params"], pr["x"].astype(int)), TypeError,
                 "x must be floating point (float32 or float64), got dtype int64",
                 id="x-integer"),
    pytest.param(lambda pr: bptt.rnn_forward(pr["params"], pr["x"], np.zeros((3, 4))),
                 ShapeError, "h0 must have shape (batch=3, hidden_size=5), got (3, 4)",
                 id="h0-wrong-hidden-size"),
    pytest.param(lambda pr: bptt.rnn_forward({"W_xh": pr["params"]["W_xh"]}, pr["x"]), KeyError,
                 "params is missing ['W_hh', 'b_h', 'W_ho', 'b_o']", id="params-missing-keys"),
    pytest.param(lambda pr: bptt.rnn_forward(_with(pr, W_hh=torch.zeros(5, 5)), pr["x"]),
                 TypeError, "params['W_hh'] must be a numpy.ndarray, got Tensor",
                 id="params-torch-tensor"),
    pytest.param(lambda pr: bptt.rnn_forward(_with(pr, W_hh=np.zeros((4, 4))), pr["x"]),
                 ShapeError, "params['W_hh'] must have shape (hidden_size=5, hidden_size=5), "
                 "got (4, 4)", id="params-W_hh-wrong-shape"),
    pytest.param(lambda pr: bptt.loss_and_grads(pr["params"], pr["x"], pr["mse"], loss="l1"),
                 ValueError, "loss must be 'mse' or 'cross_entropy', got 'l1'",
                 id="unknown-loss"),
    pytest.param(lambda pr: bptt.cross_entropy_loss(np.zeros((6, 3, 3)), np.full((6, 3), 3)),
                 ValueError, "labels must lie in [0, 3), got values in [3, 3]",
                 id="label-out-of-range"),
    pytest.param(lambda pr: bptt.cross_entropy_loss(np.zeros((6, 3, 3)), np.zeros((6, 3))),
                 ShapeError, "labels must be an integer numpy array of shape (6, 3), got ndarray "
                 "(6, 3) float64", id="labels-float"),
    pytest.param(lambda pr: bptt.mse_loss(np.zeros((6, 3, 3)), np.zeros((6, 3, 2))), ShapeError,
                 "target must have shape (seq_len=6, batch=3, output_size=3), got (6, 3, 2)",
                 id="mse-target-wrong-width"),
    pytest.param(lambda pr: bptt.truncated_bptt_grads(pr["params"], pr["x"], pr["mse"], 3, 2),
                 ValueError, "k2 must be >= k1", id="k2-below-k1"),
    pytest.param(lambda pr: bptt.truncated_bptt_grads(pr["params"], pr["x"], pr["mse"], 0),
                 ValueError, "k1 must be a positive integer, got 0", id="k1-zero"),
    pytest.param(lambda pr: bptt.params_from_torch(nn.RNN(2, 3, num_layers=2), nn.Linear(3, 1)),
                 ValueError, "one-layer, unidirectional nn.RNN with nonlinearity 'tanh', got "
                 "RNN(2, 3, num_layers=2)", id="torch-two-layers"),
    pytest.param(lambda pr: bptt.params_from_torch(nn.RNN(2, 3), nn.Linear(4, 1)), ValueError,
                 "linear must be an nn.Linear with in_features=3, got Linear(in_features=4",
                 id="torch-head-wrong-width"),
    pytest.param(lambda pr: bptt.init_params(0, 3, 1), ValueError,
                 "input_size must be a positive integer, got 0", id="init-zero-input-size"),
    pytest.param(lambda pr: bptt.train_tbptt(bptt.RNNRegressor(1, 4, 1), torch.zeros(5, 4, 1),
                                             torch.zeros(5, 4, 1), k=20, steps=1),
                 ValueError, "the stream has 5 steps, fewer than one chunk (k=20)",
                 id="tbptt-stream-shorter-than-k"),
    pytest.param(lambda pr: bptt.train_tbptt(bptt.RNNRegressor(1, 4, 1), torch.zeros(50, 4, 1),
                                             torch.zeros(49, 4, 1), k=20, steps=1),
                 ShapeError, "y must have shape (seq_len=50, batch=4, output_size), got "
                 "(49, 4, 1)", id="tbptt-y-shorter-than-x"),
]


@pytest.mark.parametrize("call,error,message", _BAD_INPUTS)
def test_bad_inputs_give_clear_errors(problem, call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call(problem)


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


def test_train_tbptt_learns():
    torch.manual_seed(0)
    t = torch.arange(2001, dtype=torch.float32)
    series = torch.sin(2 * torch.pi * t / 20)
    x, y = series[:-1].reshape(4, 500).T[..., None], series[1:].reshape(4, 500).T[..., None]
    model = bptt.RNNRegressor(1, 16, 1)
    losses = bptt.train_tbptt(model, x, y, k=20, steps=60, lr=1e-2)
    assert len(losses) == 60 and np.mean(losses[-10:]) < 0.2 * np.mean(losses[:5])


def test_saved_tensor_bytes_grow_linearly():
    model = bptt.RNNRegressor(3, 8, 2)

    def saved(steps):
        return bptt.saved_tensor_bytes(lambda: model(torch.randn(steps, 4, 3))[0].sum())

    small, large = saved(50), saved(200)
    assert small > 50 * 4 * 8 * 4                       # at least every h_t, float32
    assert 3.0 < large / small < 5.0


@pytest.mark.parametrize("steps,chunk,show_backward", [(4, None, True), (6, 2, True),
                                                       (3, None, False)],
                         ids=["full-bptt", "truncated-k2", "forward-only"])
def test_plot_unrolled_graph_structure(steps, chunk, show_backward):
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgb
    from matplotlib.patches import FancyArrowPatch

    from rnncourse.plotting import PALETTE

    fig, ax = plt.subplots()
    bptt.plot_unrolled_graph(ax, steps=steps, chunk=chunk, show_backward=show_backward)
    nodes = [t.get_text() for t in ax.texts if t.get_bbox_patch() is not None]
    want = ["$h_0$"] + [label % t for t in range(1, steps + 1)
                        for label in ("$x_{%d}$", "$h_{%d}$", "$y_{%d}$", r"$\ell_{%d}$")]
    assert sorted(nodes) == sorted(want)                     # one circle per node
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == len(ax.patches)
    solid = [a for a in arrows if a.get_linestyle() == "-"]
    dashed = [a for a in arrows if a.get_linestyle() == "--"]
    assert len(solid) == 4 * steps and len(dashed) == (2 * steps if show_backward else 0)
    for a in solid:                        # forward: x -> h -> y -> l upwards, h_{t-1} -> h_t
        (x0, y0), (x1, y1) = a._posA_posB
        assert (x1 == x0 and y1 > y0) or (x1 == x0 + 1 and y1 == y0 == 1.0)
        assert a.get_edgecolor()[:3] == to_rgb(PALETTE["black"])
    down = [a for a in dashed if a._posA_posB[1][1] < a._posA_posB[0][1]]
    back = [a for a in dashed if a._posA_posB[1][0] < a._posA_posB[0][0]]
    assert len(down) == len(back) == len(dashed) // 2       # dl_t/dh_t down, delta leftwards
    assert all(a._posA_posB[0][0] - a._posA_posB[1][0] == 1 for a in back)
    cut = [a for a in back if a.get_edgecolor()[:3] == to_rgb("#999999")]
    crossing = [t for t in range(1, steps + 1) if chunk is not None and (t - 1) % chunk == 0]
    assert sorted(a._posA_posB[0][0] for a in cut) == crossing  # cut at chunk starts only
    assert [t.get_text() for t in ax.texts].count("x") == len([t for t in crossing if t > 1])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["forward pass"] + ["backward flow"] * show_backward + [
        "cut by detach()"] * (chunk is not None)
    assert not ax.axison
    plt.close(fig)


def test_plot_unrolled_graph_refuses_too_many_steps():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="steps must be at most 12 to stay readable, got 13"):
        bptt.plot_unrolled_graph(ax, steps=13)
    plt.close(fig)


# --- delta as Jacobian products, window arithmetic, measured reach, read-out ---------------


def test_state_gradients_match_autograd_and_jacobian_products(problem):
    params, x, z, h0 = problem["params"], problem["x"], problem["mse"], problem["h0"]
    y, cache = bptt.rnn_forward(params, x, h0)
    _, dy = bptt.mse_loss(y, z)
    delta = bptt.state_gradients(params, cache, dy)
    assert delta.shape == (6, 3, 5)
    grads = bptt.rnn_backward(params, cache, dy)
    np.testing.assert_allclose((1 - cache["h"][1] ** 2) * delta[0] @ params["W_hh"],
                               grads["h0"], atol=1e-14)
    J = bptt.step_jacobians(params, cache)                    # (T, B, H, H)
    assert J.shape == (6, 3, 5, 5)
    direct = dy @ params["W_ho"]                               # (T, B, H)
    for b in range(3):
        for k in range(6):
            total, product = np.zeros(5), np.eye(5)
            for t in range(k, 6):
                if t > k:
                    product = J[t, b] @ product
                total += product.T @ direct[t, b]
            np.testing.assert_allclose(total, delta[k, b], atol=1e-12)
    _, dy_bf = bptt.mse_loss(y.swapaxes(0, 1), z.swapaxes(0, 1), batch_first=True)
    np.testing.assert_allclose(bptt.state_gradients(params, cache, dy_bf, batch_first=True),
                               delta, atol=1e-14)


def test_truncation_windows():
    assert bptt.truncation_windows(7, 3, 5) == [(0, 0, 3), (1, 3, 6), (2, 6, 7)]
    assert bptt.truncation_windows(6, 2) == [(0, 0, 2), (2, 2, 4), (4, 4, 6)]
    assert bptt.truncation_windows(4, 10) == [(0, 0, 4)]
    with pytest.raises(ValueError, match="k2 must be >= k1"):
        bptt.truncation_windows(5, 3, 2)
    with pytest.raises((TypeError, ValueError), match="k1"):
        bptt.truncation_windows(5, 0)


@pytest.mark.parametrize("k1, k2", [(1, 1), (2, 2), (3, 3), (2, 5), (1, 4), (6, 6)])
def test_truncated_input_gradients_follow_the_windows(problem, k1, k2):
    params, x, z = problem["params"], problem["x"], problem["mse"]
    reach = bptt.truncated_input_gradients(params, x, z, k1, k2, problem["h0"])
    rule = np.zeros((6, 6), dtype=bool)
    for start, first, end in bptt.truncation_windows(6, k1, k2):
        for t in range(first, end):
            rule[t, start:t + 1] = True
    assert np.array_equal(reach > 0, rule)


def test_truncated_input_gradients_full_window_matches_autograd(problem):
    params, x, z = problem["params"], problem["x"], problem["mse"]
    reach = bptt.truncated_input_gradients(params, x, z, 6)
    rnn, linear = bptt._torch_modules(params)
    xt = torch.from_numpy(x).requires_grad_(True)
    y = linear(rnn(xt)[0])
    loss_last = nn.functional.mse_loss(y[5], torch.from_numpy(z[5]))
    (grad,) = torch.autograd.grad(loss_last, xt)
    np.testing.assert_allclose(reach[5], grad.flatten(1).norm(dim=1).numpy(), rtol=1e-12)
    with pytest.raises(ShapeError, match="target"):
        bptt.truncated_input_gradients(params, x, z[:, :, :2], 2)


def test_linear_readout_r2():
    torch.manual_seed(0)
    model = bptt.RNNRegressor(1, 16, 1)
    gen = torch.Generator().manual_seed(0)
    r2 = [bptt.linear_readout_r2(model.rnn, lag, gen) for lag in (0, 2, 30)]
    assert r2[0] > 0.99 and r2[0] >= r2[1] - 1e-3 and r2[2] < 0.2
    with pytest.raises(ValueError, match="lag"):
        bptt.linear_readout_r2(model.rnn, -1, gen)
    with pytest.raises(ValueError, match="burn_in"):
        bptt.linear_readout_r2(model.rnn, 200, gen)


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


def _fraction(k1, k2, d):
    return min(1.0, max(0.0, (k2 - d) / k1))


def test_check_reach_fraction_accepts_the_answer_and_names_mistakes():
    assert ch03.check_reach_fraction(_fraction)
    from fractions import Fraction
    assert ch03.check_reach_fraction(lambda k1, k2, d: Fraction(min(k1, max(0, k2 - d)), k1))
    mistakes = {
        "swapped": lambda k1, k2, d: min(1.0, max(0.0, (k1 - d) / k2)),
        "chunks (k2 = k1)": lambda k1, k2, d: max(0.0, (k1 - d) / k1),
        "only the newest loss": lambda k1, k2, d: 1.0 if d < k2 else 0.0,
        "off by one": lambda k1, k2, d: min(1.0, max(0.0, (k2 - d + 1) / k1)),
        "clip it": lambda k1, k2, d: (k2 - d) / k1,
    }
    for words, answer in mistakes.items():
        result = ch03.check_reach_fraction(answer)
        assert not result and words in result.message, (words, result.message)
    result = ch03.check_reach_fraction(lambda k1, k2, d: min(1.0, max(0.0, (k2 - d - 1) / k1)))
    assert not result and "off by one" in result.message
    assert "autograd measured" in ch03.check_reach_fraction(lambda k1, k2, d: 0.5).message
    bad = ch03.check_reach_fraction(lambda k1, k2, d: "half")
    assert not bad and "number" in bad.message
    crashed = ch03.check_reach_fraction(lambda k1, k2, d: 1 / 0)
    assert not crashed and "ZeroDivisionError" in crashed.message


def test_reach_fraction_formula_matches_autograd_everywhere():
    rng = np.random.default_rng(0)
    for k1 in range(1, 5):
        for k2 in range(k1, k1 + 4):
            for d in range(0, k2 + 2):
                measured = ch03._measured_fraction(k1, k2, d, rng)
                assert measured == pytest.approx(_fraction(k1, k2, d)), (k1, k2, d)


def _cosine(params, x, target, k):
    _, full = bptt.loss_and_grads(params, x, target)
    _, trunc = bptt.truncated_bptt_grads(params, x, target, k)
    a, b = full["W_hh"].ravel(), trunc["W_hh"].ravel()
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def _smallest(radius):
    params, x, target = ch03.BIAS_PROBLEMS[radius]
    return next(k for k in range(1, 41) if _cosine(params, x, target, k) >= 0.99)


def test_check_truncation_bias():
    answers = {r: _smallest(r) for r in ch03.BIAS_RADII}
    assert answers[0.5] < answers[1.5]                      # the lesson of the experiment
    assert ch03.check_truncation_bias(_cosine, answers)
    result = ch03.check_truncation_bias(lambda *a: 1 - _cosine(*a), answers)
    assert not result and "1 - cosine" in result.message

    def all_params(params, x, target, k):
        _, full = bptt.loss_and_grads(params, x, target)
        _, trunc = bptt.truncated_bptt_grads(params, x, target, k)
        a = np.concatenate([full[n].ravel() for n in bptt.PARAM_NAMES])
        b = np.concatenate([trunc[n].ravel() for n in bptt.PARAM_NAMES])
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    result = ch03.check_truncation_bias(all_params, answers)
    assert not result and "W_hh's gradients only" in result.message
    early = {**answers, 0.5: answers[0.5] - 1}
    result = ch03.check_truncation_bias(_cosine, early)
    assert not result and "cosine is only" in result.message
    assert "dict" in ch03.check_truncation_bias(_cosine, [1, 2]).message
    assert "int" in ch03.check_truncation_bias(_cosine, {0.5: "6", 1.5: 35}).message
    assert not ch03.check_truncation_bias(lambda *a: None, answers)


def test_checks_leave_the_global_random_state_alone():
    state = np.random.get_state()
    torch_state = torch.random.get_rng_state()
    ch03.check_reach_fraction(_fraction)
    assert np.array_equal(np.random.get_state()[1], state[1])
    assert torch.equal(torch.random.get_rng_state(), torch_state)


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
