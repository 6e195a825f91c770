import numpy as np
import pytest
import torch

from rnncourse.validation import ShapeError, check_array, check_positive_int, check_probability

DIMS = ("batch", "seq_len", "input_size")


def test_accepts_tensors_and_arrays_of_the_right_layout():
    check_array(torch.zeros(2, 5, 3), "x", DIMS, {"input_size": 3})
    check_array(np.zeros((2, 5, 3)), "x", DIMS, {"input_size": 3})


def test_wrong_type_names_the_expected_shape():
    expected = r"x must be a torch.Tensor .* \(batch, seq_len, input_size=3\), got list"
    with pytest.raises(TypeError, match=expected):
        check_array([[1.0]], "x", DIMS, {"input_size": 3})


def test_wrong_rank_reports_both_shapes():
    with pytest.raises(ShapeError, match=r"3 dimensions .* got shape \(5, 3\) \(2 dimensions\)"):
        check_array(torch.zeros(5, 3), "x", DIMS)


def test_wrong_size_names_the_dimension():
    with pytest.raises(ShapeError, match=r"input_size is 4, expected 3"):
        check_array(torch.zeros(2, 5, 4), "x", DIMS, {"input_size": 3})


def test_empty_sequence_is_refused_unless_allowed():
    with pytest.raises(ShapeError, match="empty dimension seq_len"):
        check_array(torch.zeros(2, 0, 3), "x", DIMS)
    check_array(torch.zeros(2, 0, 3), "x", DIMS, allow_empty=True)


def test_integer_dtype_is_refused_for_float_inputs():
    with pytest.raises(TypeError, match="floating point .* got dtype torch.int64"):
        check_array(torch.zeros(2, 5, 3, dtype=torch.long), "x", DIMS)
    check_array(torch.zeros(2, 5, 3, dtype=torch.long), "x", DIMS, floating=False)


def test_shape_error_is_a_value_error():
    assert issubclass(ShapeError, ValueError)


@pytest.mark.parametrize("bad", [0, -2, 1.0, "3", True])
def test_positive_int(bad):
    assert check_positive_int(3, "n") == 3
    with pytest.raises(ValueError, match="n must be a positive integer"):
        check_positive_int(bad, "n")


@pytest.mark.parametrize("bad", [1, -0.1, 1.5, "0.5"])
def test_probability(bad):
    assert check_probability(0.25, "p") == 0.25
    with pytest.raises(ValueError, match=r"p must be a number in \[0, 1\)"):
        check_probability(bad, "p")
