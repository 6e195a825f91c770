import re

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


# --- check_torch_rnn_call: torch's own modules, mistakes named in plain words -------------
from torch import nn  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence  # noqa: E402

from rnncourse.validation import check_torch_rnn_call  # noqa: E402

X = torch.zeros(4, 7, 3)  # (batch, seq_len, input_size)


@pytest.mark.parametrize("module, input, hx", [
    (nn.GRU(3, 5, batch_first=True), X, torch.zeros(1, 4, 5)),
    (nn.GRU(3, 5, batch_first=True), X, None),
    (nn.LSTM(3, 5, num_layers=2, bidirectional=True), X.transpose(0, 1),
     (torch.zeros(4, 4, 5), torch.zeros(4, 4, 5))),
    (nn.LSTM(3, 8, batch_first=True, proj_size=5), X, (torch.zeros(1, 4, 5), torch.zeros(1, 4, 8))),
    (nn.RNN(3, 5), torch.zeros(7, 3), torch.zeros(1, 5)),
    (nn.GRU(3, 5), pack_padded_sequence(X, [7, 3, 2, 1], batch_first=True), torch.zeros(1, 4, 5)),
])
def test_valid_torch_calls_pass_and_torch_agrees(module, input, hx):
    check_torch_rnn_call(module, input, hx)
    module(input, hx)  # torch accepts the same call


@pytest.mark.parametrize("module, input, hx, words", [
    (nn.GRU(3, 5, batch_first=True), X, torch.zeros(4, 1, 5), "never batch-first"),
    (nn.LSTM(3, 5, batch_first=True), X, torch.zeros(1, 4, 5), "tuple (h_0, c_0)"),
    (nn.LSTM(3, 8, batch_first=True, proj_size=5), X, (torch.zeros(1, 4, 8), torch.zeros(1, 4, 8)),
     "proj_size=5"),
    (nn.GRU(3, 5, batch_first=True), torch.zeros(4, 7, 2), None, "input_size is 2, expected 3"),
    (nn.GRU(3, 5, num_layers=2, bidirectional=True), X.transpose(0, 1), torch.zeros(2, 4, 5),
     "num_layers*num_directions is 2, expected 4"),
    (nn.GRU(3, 5), pack_padded_sequence(X, [7, 3, 2, 1], batch_first=True), torch.zeros(1, 3, 5),
     "batch is 3, expected 4"),
    (nn.GRU(3, 5), X.double(), None, "dtype torch.float64"),
    (nn.GRU(3, 5), X.numpy(), None, "torch.from_numpy"),
    ("gru", X, None, "torch.nn.RNN, GRU or LSTM"),
])
def test_invalid_torch_calls_are_named(module, input, hx, words):
    with pytest.raises((ShapeError, TypeError, ValueError), match=re.escape(words)):
        check_torch_rnn_call(module, input, hx)
    if isinstance(module, nn.Module) and isinstance(input, torch.Tensor):
        with pytest.raises((RuntimeError, IndexError, ValueError)):  # torch refuses it too
            module(input, hx)
