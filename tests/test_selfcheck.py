import numpy as np
import torch

from rnncourse.selfcheck import CheckResult, expect, expect_close, expect_equal, self_check


@self_check("Exercise 0.1: double")
def check_double(fn):
    expect_equal(fn(2), 4, what="fn(2)", hint="multiply by two")


@self_check("Exercise 0.2: tanh step")
def check_step(fn):
    x = torch.linspace(-2, 2, 6).reshape(2, 3)
    expect_close(fn(x), torch.tanh(x), what="step(x)")


def test_correct_answer_passes_and_is_truthy():
    result = check_double(lambda v: 2 * v)
    assert isinstance(result, CheckResult) and result and result.passed
    assert str(result) == "✅ Exercise 0.1: double: correct"


def test_wrong_answer_fails_with_expected_value_and_hint():
    result = check_double(lambda v: v + 3)
    assert not result
    assert "fn(2) should be 4, got 5" in result.message and "multiply by two" in result.message
    assert str(result).startswith("❌")


def test_crashing_answer_is_reported_with_its_line_not_raised():
    def answer(v):
        return v / 0

    result = check_double(answer)
    assert not result
    assert "ZeroDivisionError" in result.message and "return v / 0" in result.message


def test_unimplemented_skeleton_says_so():
    def answer(v):
        raise NotImplementedError

    assert "not implemented yet" in check_double(answer).message


def test_close_check_reports_shape_and_largest_difference():
    assert check_step(torch.tanh)
    wrong_shape = check_step(lambda x: torch.tanh(x).T)
    assert "shape (2, 3), got (3, 2)" in wrong_shape.message
    off = check_step(lambda x: torch.tanh(x) + (x > 1.5) * 0.1)
    assert "largest difference 0.1" in off.message and "index (1, 2)" in off.message
    nan = check_step(lambda x: x * float("nan"))
    assert "NaN" in nan.message
    not_array = check_step(lambda x: "tanh")
    assert "array or tensor" in not_array.message


def test_expect_and_numpy_inputs():
    @self_check("numpy")
    def check(fn):
        expect(callable(fn), "pass a function")
        expect_close(fn(np.ones(3)), np.full(3, 2.0), what="fn(ones)")

    assert check(lambda a: a * 2)
    assert check(3).message == "pass a function"


def test_html_repr_is_escaped_and_coloured():
    html = check_double(lambda v: "<b>").__repr__()
    assert "<b>" in html
    assert "&lt;b&gt;" in check_double(lambda v: "<b>")._repr_html_()
