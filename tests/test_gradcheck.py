"""Tests of rnncourse.gradcheck: the error measure, finite differences, and bug detection."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from rnncourse import bptt, gradcheck


def quadratic(p):
    """f = sum(A * w**2) + sum(b**3): gradients 2 A w and 3 b**2."""
    return (p["A"] * p["w"] ** 2).sum() + (p["b"] ** 3).sum()


def test_relative_error_measure():
    a = np.array([1.0, -2.0, 3.0])
    assert gradcheck.relative_error(a, a) == 0.0
    assert gradcheck.relative_error(a, -a) == pytest.approx(1.0)
    assert gradcheck.relative_error(a, np.zeros(3)) == pytest.approx(1.0)
    assert gradcheck.relative_error(a, a + 1e-9) == pytest.approx(1e-9 / 6, rel=1e-6)
    assert gradcheck.relative_error(np.zeros(2), np.zeros(2)) == 0.0      # no 0/0
    assert gradcheck.relative_error(torch.tensor(a), a) == 0.0


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_numerical_gradient_matches_exact_and_restores_params(kind):
    rng = np.random.default_rng(0)
    arrays = {"w": rng.normal(size=(3, 4)), "b": rng.normal(size=5), "A": rng.normal(size=(3, 4))}
    params = arrays if kind == "numpy" else {n: torch.tensor(v) for n, v in arrays.items()}
    def as_np(v):
        return v.numpy().copy() if isinstance(v, torch.Tensor) else v.copy()

    before = {n: as_np(v) for n, v in params.items()}
    numeric = gradcheck.numerical_gradient(lambda p: float(quadratic(p)), params, eps=1e-6)
    for name, value in params.items():
        np.testing.assert_array_equal(as_np(value), before[name])      # restored exactly
        assert isinstance(numeric[name], type(value))
    exact = {"w": 2 * arrays["A"] * arrays["w"], "b": 3 * arrays["b"] ** 2, "A": arrays["w"] ** 2}
    report = gradcheck.check_gradients(lambda p: float(quadratic(p)), exact, params)
    assert report and report.max_error < 1e-8


def test_torch_autograd_gradients_pass_the_check():
    torch.manual_seed(0)
    params = {"w": torch.randn(3, 4, dtype=torch.float64, requires_grad=True),
              "b": torch.randn(5, dtype=torch.float64, requires_grad=True),
              "A": torch.randn(3, 4, dtype=torch.float64, requires_grad=True)}
    quadratic(params).backward()
    analytic = {n: p.grad.clone() for n, p in params.items()}
    report = gradcheck.check_gradients(lambda p: quadratic(p).item(), analytic, params)
    assert report.passed, report


def test_detects_a_sign_bug():
    rng = np.random.default_rng(1)
    params = {"w": rng.normal(size=(3, 4)), "b": rng.normal(size=5), "A": rng.normal(size=(3, 4))}
    wrong = {"w": -2 * params["A"] * params["w"], "b": 3 * params["b"] ** 2,
             "A": params["w"] ** 2}
    report = gradcheck.check_gradients(lambda p: float(quadratic(p)), wrong, params)
    assert not report
    assert report.worst == "w" and report.errors["w"] == pytest.approx(1.0)
    assert report.errors["b"] < 1e-7 and report.errors["A"] < 1e-7
    text = str(report)
    assert "FAIL w" in text and "FAILED (worst: w)" in text


def test_detects_the_dropped_recursive_term_of_bptt():
    rng = np.random.default_rng(2)
    params = bptt.init_params(3, 5, 2, rng)
    x, z = rng.normal(size=(7, 2, 3)), rng.normal(size=(7, 2, 2))

    def f(p):
        return bptt.loss_and_grads(p, x, z)[0]

    _, right = bptt.loss_and_grads(params, x, z)
    _, wrong = bptt.loss_and_grads(params, x, z, recurrent=False)
    assert gradcheck.check_gradients(f, right, params)
    report = gradcheck.check_gradients(f, wrong, params)
    assert not report
    assert report.errors["W_hh"] > 0.05 and report.errors["b_h"] > 0.05
    assert report.errors["W_ho"] < 1e-7                  # the output layer has no recurrence


_ONES = {"w": np.ones(3)}


@pytest.mark.parametrize("call,error,message", [
    pytest.param(lambda: gradcheck.relative_error(np.ones(3), np.ones(2)), ValueError,
                 "cannot compare shapes (3,) and (2,)", id="relative-error-shapes"),
    pytest.param(lambda: gradcheck.relative_error([1.0], np.ones(3)), TypeError,
                 "a must be a numpy.ndarray or torch.Tensor, got list",
                 id="relative-error-list"),
    pytest.param(lambda: gradcheck.numerical_gradient(lambda p: 0.0, {}), TypeError,
                 "params must be a non-empty dict {name: array or tensor}, got dict",
                 id="no-params"),
    pytest.param(lambda: gradcheck.numerical_gradient(lambda p: 0.0, {"w": [1.0, 2.0]}),
                 TypeError, "params['w'] must be a numpy.ndarray or torch.Tensor, got list",
                 id="param-is-a-list"),
    pytest.param(lambda: gradcheck.numerical_gradient(lambda p: 0.0,
                                                      {"w": np.ones(3, dtype=int)}),
                 TypeError, "params['w'] must be floating point, got dtype int64",
                 id="param-integer"),
    pytest.param(lambda: gradcheck.numerical_gradient(lambda p: 0.0, _ONES, eps=0.0),
                 ValueError, "eps must be positive, got 0.0", id="eps-zero"),
    pytest.param(lambda: gradcheck.check_gradients(lambda p: 0.0, {}, _ONES), KeyError,
                 "analytic_grads has no gradient for ['w']", id="analytic-missing"),
    pytest.param(lambda: gradcheck.compare_gradients({"a": np.ones(2)}, {"b": np.ones(2)}),
                 KeyError, "the gradients name different parameters: ['a'] vs ['b']",
                 id="compare-different-names"),
    pytest.param(lambda: gradcheck.compare_gradients({"a": np.ones(2)}, {"a": np.ones(3)}),
                 ValueError, "gradient 'a' has shape (2,) on one side and (3,) on the other",
                 id="compare-different-shapes"),
])
def test_bad_inputs_give_clear_errors(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


def test_float32_parameters_warn():
    with pytest.warns(UserWarning, match=re.escape("params['w'] is float32: finite "
                                                   "differences need float64")):
        gradcheck.numerical_gradient(lambda p: float(p["w"].sum()),
                                     {"w": np.ones(3, dtype=np.float32)}, eps=1e-2)
