"""Tests of rnncourse.vanishing and the chapter 4 self-checks."""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch import nn

from rnncourse import vanishing as V
from rnncourse.exercises import ch04
from rnncourse.validation import ShapeError


def make_rnn(nonlinearity: str = "tanh", hidden: int = 8, seed: int = 0) -> nn.RNN:
    torch.manual_seed(seed)
    return nn.RNN(2, hidden, batch_first=True, nonlinearity=nonlinearity).double()


def test_hidden_states_match_torch_rnn() -> None:
    for nl in ("tanh", "relu"):
        rnn = make_rnn(nl)
        x = torch.randn(3, 7, 2, dtype=torch.float64)
        out, _ = rnn(x)
        states = V.hidden_states(rnn, x)
        assert len(states) == 8
        torch.testing.assert_close(torch.stack(states[1:], dim=1), out)


def test_hidden_states_time_major() -> None:
    torch.manual_seed(0)
    rnn = nn.RNN(2, 4).double()
    x = torch.randn(5, 3, 2, dtype=torch.float64)
    out, _ = rnn(x)
    torch.testing.assert_close(torch.stack(V.hidden_states(rnn, x)[1:], dim=0), out)


def test_gradient_norms_match_jacobian_products() -> None:
    rnn = make_rnn("tanh", hidden=6)
    x = torch.randn(1, 12, 2, dtype=torch.float64)
    products = V.jacobian_products(rnn, x)
    assert products.shape == (13, 6, 6)
    torch.testing.assert_close(products[-1], torch.eye(6, dtype=torch.float64))
    # default loss = sum of h_T, so dL/dh_T = ones and dL/dh_k = P_k^T 1
    want = (products.transpose(1, 2) @ torch.ones(6, dtype=torch.float64)).norm(dim=-1)
    torch.testing.assert_close(V.gradient_norms_by_lag(rnn, x), want)
    # and autograd through an explicit vector-Jacobian product
    states = V.hidden_states(rnn, x,
                             h0=torch.zeros(1, 6, dtype=torch.float64, requires_grad=True))
    grads = torch.autograd.grad(states[-1].sum(), states[3])[0]
    torch.testing.assert_close(grads[0], products[3].T @ torch.ones(6, dtype=torch.float64))


def test_step_jacobian_is_autograd_jacobian() -> None:
    for nl in ("tanh", "relu", "sigmoid"):
        rnn = make_rnn("tanh" if nl == "sigmoid" else nl, hidden=5)
        x = torch.randn(1, 4, 2, dtype=torch.float64)
        jac = V.step_jacobians(rnn, x, nonlinearity=nl)
        states = V.hidden_states(rnn, x, nonlinearity=nl)
        f = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[nl]
        drive = x[0, 2] @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + rnn.bias_hh_l0

        def step(h: torch.Tensor, drive: torch.Tensor = drive, f=f,
                 w: torch.Tensor = rnn.weight_hh_l0) -> torch.Tensor:
            return f(drive + h @ w.T)

        auto = torch.autograd.functional.jacobian(step, states[2][0].detach())
        torch.testing.assert_close(jac[2], auto)


@pytest.mark.parametrize("nonlinearity", ["tanh", "sigmoid"])
def test_pascanu_bound_holds(nonlinearity: str) -> None:
    rnn = make_rnn("tanh", hidden=10)
    gamma = V.GAMMA[nonlinearity]
    with torch.no_grad():
        w = rnn.weight_hh_l0
        w.mul_(0.95 / gamma / V.largest_singular_value(w))
    cond = V.pascanu_condition(rnn.weight_hh_l0, nonlinearity)
    assert cond.vanishing_guaranteed and not cond.explosion_possible
    assert math.isclose(cond.eta, 0.95, rel_tol=1e-9)
    x = 3 * torch.randn(1, 40, 2, dtype=torch.float64)
    norms = V.jacobian_product_norms(rnn, x, nonlinearity=nonlinearity)
    lags = torch.arange(40, -1, -1)
    assert torch.all(norms <= cond.bound(lags) * (1 + 1e-9))


def test_explosion_possible_above_threshold() -> None:
    rnn = make_rnn("tanh", hidden=16)
    V.orthogonal_init_(rnn, gain=1.5, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        rnn.weight_ih_l0.mul_(0.01)
        rnn.bias_ih_l0.zero_()
        rnn.bias_hh_l0.zero_()
    assert V.pascanu_condition(rnn.weight_hh_l0).explosion_possible
    norms = V.jacobian_product_norms(rnn, torch.zeros(1, 30, 2, dtype=torch.float64))
    assert norms[0] > 1e4  # at the fixed point h = 0 every Jacobian is 1.5 Q


def test_initialisers() -> None:
    rnn = nn.RNN(3, 12, batch_first=True)
    V.set_spectral_radius_(rnn, 0.7)
    assert math.isclose(V.spectral_radius(rnn.weight_hh_l0), 0.7, rel_tol=1e-5)
    V.orthogonal_init_(rnn, gain=0.9, generator=torch.Generator().manual_seed(1))
    s = torch.linalg.svdvals(rnn.weight_hh_l0.detach().double())
    torch.testing.assert_close(s, torch.full((12,), 0.9, dtype=torch.float64), atol=1e-5,
                               rtol=1e-5)
    V.identity_init_(rnn)
    assert torch.equal(rnn.weight_hh_l0.detach(), torch.eye(12))
    assert not rnn.bias_hh_l0.any() and not rnn.bias_ih_l0.any()
    a = V.random_orthogonal(6, generator=torch.Generator().manual_seed(0))
    b = V.random_orthogonal(6, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)


def test_clipping_matches_torch_and_direction() -> None:
    torch.manual_seed(0)
    grads = [10 * torch.randn(4, 3), 10 * torch.randn(5)]
    params = [nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    total = nn.utils.clip_grad_norm_(params, 1.0)
    torch.testing.assert_close(V.global_norm(grads), total)
    mine = V.clip_by_norm(grads, 1.0)
    for m, p in zip(mine, params):
        torch.testing.assert_close(m, p.grad)
    assert math.isclose(V.cosine_similarity(mine, grads), 1.0, rel_tol=1e-9)
    for p, g in zip(params, grads):
        p.grad = g.clone()
    nn.utils.clip_grad_value_(params, 1.0)
    by_value = V.clip_by_value(grads, 1.0)
    for m, p in zip(by_value, params):
        torch.testing.assert_close(m, p.grad)
    assert V.cosine_similarity(by_value, grads) < 0.99
    # a short gradient is left alone
    small = [torch.tensor([0.1, 0.2])]
    torch.testing.assert_close(V.clip_by_norm(small, 1.0)[0], small[0])


def test_threshold_and_divergence_helpers() -> None:
    assert V.suggest_clip_threshold([1.0, 3.0, float("nan")], multiple=2.0) == 4.0
    assert V.first_divergence([1.0, 2.0, float("nan")]) == 2
    assert V.first_divergence([1.0, 50.0], spike=10.0) == 1
    assert V.first_divergence([1.0, 2.0]) is None


class _LastState(nn.Module):
    """``head(h_T)`` of a single-layer ``nn.RNN``: a fused module, whose states autograd hides."""

    def __init__(self, rnn: nn.RNN) -> None:
        super().__init__()
        self.rnn, self.head = rnn, nn.Linear(rnn.hidden_size, 1).to(rnn.weight_hh_l0.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(x)[0][:, -1])


def test_input_gradient_norms_closed_form_linear_rnn() -> None:
    # One unit, ReLU, no bias, positive weights and inputs: every a_t > 0, so the RNN is linear,
    # h_T = sum_t w^(T-t) u x_t, and with L = sum_b (c h_T + d - y)^2,
    # dL/dx_t = 2 (c h_T + d - y) c u w^(T-t).
    u, w, c, d, steps = 0.7, 0.9, 1.3, -0.2, 6
    rnn = nn.RNN(1, 1, batch_first=True, nonlinearity="relu", bias=False).double()
    model = _LastState(rnn)
    with torch.no_grad():
        rnn.weight_ih_l0.fill_(u)
        rnn.weight_hh_l0.fill_(w)
        model.head.weight.fill_(c)
        model.head.bias.fill_(d)
    x = 0.1 + torch.rand(3, steps, 1, dtype=torch.float64,
                         generator=torch.Generator().manual_seed(0))
    y = torch.tensor([[0.5], [-1.0], [2.0]], dtype=torch.float64)
    powers = w ** torch.arange(steps - 1, -1, -1, dtype=torch.float64)      # w^(T-t), t = 1..T
    h_T = u * (x[..., 0] * powers).sum(dim=1)
    residual = c * h_T + d - y[:, 0]                                        # (batch,)
    want = (2 * residual[:, None] * c * u * powers).abs().mean(dim=0)
    torch.testing.assert_close(V.input_gradient_norms(model, x, y), want)


def test_input_gradient_norms_match_jacobian_products() -> None:
    # dh_T/dx_t = P_t diag(1 - h_t^2) W_ih with P_t = dh_T/dh_t from the explicit products;
    # L = (head(h_T) - y)^2, so dL/dx_t = (dh_T/dx_t)^T 2 (head(h_T) - y) c.
    rnn = make_rnn("tanh", hidden=5)
    model = _LastState(rnn)
    x = torch.randn(1, 7, 2, dtype=torch.float64)
    y = torch.tensor([[0.3]], dtype=torch.float64)
    with torch.no_grad():
        states = V.hidden_states(rnn, x)
        residual = model.head(states[-1]) - y                               # (1, 1)
        dl_dh_T = 2 * residual[0, 0] * model.head.weight[0]                 # (hidden,)
        products = V.jacobian_products(rnn, x)                              # (T+1, H, H)
        want = torch.stack([
            ((products[t] * (1 - states[t][0] ** 2)) @ rnn.weight_ih_l0).T @ dl_dh_T
            for t in range(1, 8)]).norm(dim=-1)
    torch.testing.assert_close(V.input_gradient_norms(model, x, y), want)


def _rnn() -> nn.RNN:
    return make_rnn()                                   # nn.RNN(2, 8, batch_first=True)


def _x(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.float64)


_BAD_INPUTS = [
    pytest.param(lambda: V.hidden_states(_rnn(), _x(2, 5, 3)), ShapeError,
                 "input_size=2), got (2, 5, 3): input_size is 3, expected 2",
                 id="x-wrong-input-size"),
    pytest.param(lambda: V.hidden_states(_rnn(), _x(2, 5, 2), h0=_x(3, 8)), ShapeError,
                 "h0 must have shape (batch=2, hidden_size=8), got (3, 8)", id="h0-wrong-batch"),
    pytest.param(lambda: V.hidden_states(nn.GRU(2, 4), torch.randn(2, 5, 2)), TypeError,
                 "rnn must be a torch.nn.RNN, got GRU", id="not-an-rnn"),
    pytest.param(lambda: V.set_spectral_radius_(nn.RNN(2, 4, num_layers=2), 0.9), ValueError,
                 "single-layer, unidirectional nn.RNN; got num_layers=2, bidirectional=False",
                 id="two-layers"),
    pytest.param(lambda: V.orthogonal_init_(nn.RNN(2, 4, bidirectional=True)), ValueError,
                 "single-layer, unidirectional nn.RNN; got num_layers=1, bidirectional=True",
                 id="bidirectional"),
    pytest.param(lambda: V.pascanu_condition(torch.eye(3), "softplus"), ValueError,
                 "nonlinearity must be one of ['relu', 'sigmoid', 'tanh'], got 'softplus'",
                 id="unknown-nonlinearity"),
    pytest.param(lambda: V.largest_singular_value(torch.ones(2, 3)), ValueError,
                 "matrix must be square (hidden_size, hidden_size), got shape (2, 3)",
                 id="non-square-matrix"),
    pytest.param(lambda: V.set_spectral_radius_(_rnn(), -1.0), ValueError,
                 "radius must be a positive number, got -1.0", id="negative-radius"),
    pytest.param(lambda: V.jacobian_products(_rnn(), _x(2, 5, 2)), ShapeError,
                 "x must have shape (batch=1, seq_len, input_size), got (2, 5, 2)",
                 id="jacobians-of-a-batch"),
    pytest.param(lambda: V.gradient_norms_by_lag(_rnn(), _x(2, 5, 2), loss_fn=lambda h: h),
                 ValueError, "loss_fn must return a scalar, got shape (2, 8)",
                 id="loss-not-scalar"),
    pytest.param(lambda: V.clip_by_norm([torch.ones(2)], 0.0), ValueError,
                 "max_norm must be positive, got 0.0", id="max-norm-zero"),
    pytest.param(lambda: V.clip_by_value([torch.ones(2)], -1.0), ValueError,
                 "clip_value must be positive, got -1.0", id="clip-value-negative"),
    pytest.param(lambda: V.global_norm([]), TypeError,
                 "grads must be a tensor or a non-empty sequence of tensors", id="no-gradients"),
    pytest.param(lambda: V.cosine_similarity([torch.ones(2)], [torch.ones(3)]), ValueError,
                 "the gradients have different sizes: 2 and 3", id="cosine-sizes-differ"),
    pytest.param(lambda: V.suggest_clip_threshold([float("nan")]), ValueError,
                 "grad_norms holds no finite value", id="threshold-all-nan"),
    pytest.param(lambda: V.suggest_clip_threshold([1.0], multiple=0), ValueError,
                 "multiple must be positive, got 0", id="threshold-multiple-zero"),
    pytest.param(lambda: V.fixed_points_1d(2.0, 0.0, "relu"), ValueError,
                 "handles the bounded nonlinearities tanh and sigmoid, got 'relu'",
                 id="fixed-points-relu"),
    pytest.param(lambda: V.fixed_points_1d(2.0, float("nan")), TypeError,
                 "bias must be a finite number, got nan", id="fixed-points-nan"),
    pytest.param(lambda: V.random_orthogonal(0), ValueError,
                 "size must be a positive integer, got 0", id="orthogonal-size-zero"),
]


@pytest.mark.parametrize("call,error,message", _BAD_INPUTS)
def test_bad_inputs(call, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        call()


# ------------------------------------------------------------------------ self-checks
def _predict(rnn: nn.RNN, x: torch.Tensor) -> float:
    with torch.no_grad():
        h = torch.stack(V.hidden_states(rnn, x)[1:])
    return V.largest_singular_value(rnn.weight_hh_l0) * float((1 - h**2).square().mean().sqrt())


def _predict_mean(rnn: nn.RNN, x: torch.Tensor) -> float:
    with torch.no_grad():
        h = torch.stack(V.hidden_states(rnn, x)[1:])
    return V.largest_singular_value(rnn.weight_hh_l0) * float((1 - h**2).mean())


def test_check_growth_prediction() -> None:
    assert ch04.check_growth_prediction(_predict)
    cases = [
        (_predict_mean, "*mean* slope"),
        (lambda r, x: V.spectral_radius(r.weight_hh_l0), "rho alone"),
        (lambda r, x: _predict(r, x) ** 2, "*squared* norm"),
        (lambda r, x: math.log(_predict(r, x)), "natural log"),
        (lambda r, x: "fast", "one finite number"),
        (lambda r, x: 1 / 0, "ZeroDivisionError"),
    ]
    for answer, message in cases:
        result = ch04.check_growth_prediction(answer)
        assert not result and message in result.message, result.message


def test_check_growth_prediction_keeps_rng() -> None:
    torch.manual_seed(3)
    want = torch.rand(3)
    torch.manual_seed(3)
    ch04.check_growth_prediction(lambda r, x: float(torch.rand(1)))
    assert torch.equal(torch.rand(3), want)


def test_check_clip_by_norm() -> None:
    assert ch04.check_clip_by_norm(V.clip_by_norm)
    per_tensor = ch04.check_clip_by_norm(lambda gs, c: [g * min(1.0, c / float(g.norm()))
                                                        for g in gs])
    assert not per_tensor and "each tensor by its own norm" in per_tensor.message
    always = ch04.check_clip_by_norm(
        lambda gs, c: [g * c / float(torch.sqrt(sum((h**2).sum() for h in gs))) for g in gs])
    assert not always and "already shorter" in always.message
    by_value = ch04.check_clip_by_norm(lambda gs, c: [g.clamp(-c, c) for g in gs])
    assert not by_value and "clipping by value" in by_value.message
    crash = ch04.check_clip_by_norm(lambda gs, c: gs.norm())
    assert not crash and "AttributeError" in crash.message


def test_check_orthogonal() -> None:
    assert ch04.check_orthogonal(V.random_orthogonal)
    assert not ch04.check_orthogonal(lambda n, g, gen: g * torch.eye(n))
    wrong = ch04.check_orthogonal(lambda n, g, gen: torch.randn(n, n, generator=gen))
    assert not wrong and "Q^T Q" in wrong.message

    def todo(n: int, g: float, gen: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    assert "not implemented" in ch04.check_orthogonal(todo).message

    def no_sign_fix(n: int, g: float, gen: torch.Generator) -> torch.Tensor:
        q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
        return (g * q).float()

    missing = ch04.check_orthogonal(no_sign_fix)
    assert not missing and "sign fix" in missing.message

    def global_rng(n: int, g: float, gen: torch.Generator) -> torch.Tensor:
        return V.random_orthogonal(n, g)

    unseeded = ch04.check_orthogonal(global_rng)
    assert not unseeded and "generator you are given" in unseeded.message
    assert not ch04.check_orthogonal(lambda n, g, gen: "Q")


def test_check_exploding_matrix() -> None:
    good = torch.tensor([[1.5, 1.0], [-3.06, -1.5]])
    assert ch04.check_exploding_matrix(good)
    too_big = ch04.check_exploding_matrix(1.2 * torch.eye(2))
    assert not too_big and "below 1" in too_big.message
    small = ch04.check_exploding_matrix(0.9 * torch.eye(3))
    assert not small and "states stayed small" in small.message
    assert "two units" in ch04.check_exploding_matrix(torch.tensor([[0.5]])).message
    assert "not implemented" in ch04.check_exploding_matrix(None).message
    assert "square" in ch04.check_exploding_matrix(torch.ones(2, 3)).message
    assert "tensor" in ch04.check_exploding_matrix([[1.0]]).message
    assert "NaN" in ch04.check_exploding_matrix(torch.full((2, 2), float("nan"))).message


def test_fixed_points_1d() -> None:
    points, stable = V.fixed_points_1d(2.0, 0.0)
    torch.testing.assert_close(points, torch.tensor([-0.957504, 0.0, 0.957504],
                                                    dtype=torch.float64), atol=1e-5, rtol=0)
    assert stable.tolist() == [True, False, True]
    for p in points:                                                 # they are fixed points
        assert abs(math.tanh(2.0 * p.item()) - p.item()) < 1e-9
    h_star = -math.sqrt(1 - 1 / 2.0)                                 # saddle-node at b_c
    b_c = math.atanh(h_star) - 2.0 * h_star
    assert len(V.fixed_points_1d(2.0, b_c - 0.01)[0]) == 3
    assert len(V.fixed_points_1d(2.0, b_c + 0.01)[0]) == 1
    assert len(V.fixed_points_1d(0.5, 0.3)[0]) == 1                  # w < 1: one attractor
    points, stable = V.fixed_points_1d(8.0, -4.0, "sigmoid")
    assert stable.tolist() == [True, False, True] and abs(points[1].item() - 0.5) < 1e-9


def test_norms_are_float64_and_do_not_underflow() -> None:
    torch.set_flush_denormal(True)
    try:
        rnn = nn.RNN(1, 16, batch_first=True)
        V.orthogonal_init_(rnn, gain=0.3, generator=torch.Generator().manual_seed(0))
        x = torch.randn(4, 60, 1, generator=torch.Generator().manual_seed(1))
        g = V.gradient_norms_by_lag(rnn, x)
        assert g.dtype == torch.float64
        assert (g[:40] > 0).all()          # float32 entries ~1e-25: a float32 norm would be 0
    finally:
        torch.set_flush_denormal(False)
