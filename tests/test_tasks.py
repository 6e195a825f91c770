import math

import pytest
import torch

from rnncourse import tasks


def test_adding_problem_layout_and_target():
    x, y = tasks.adding_problem(256, 30, generator=torch.Generator().manual_seed(0))
    assert x.shape == (256, 30, 2) and y.shape == (256, 1) and x.dtype == torch.float32
    markers = x[..., 1]
    assert torch.all(markers.sum(dim=1) == 2)
    assert torch.all(markers[:, :15].sum(dim=1) == 1) and torch.all(markers[:, 15:].sum(dim=1) == 1)
    assert torch.allclose(y[:, 0], (x[..., 0] * markers).sum(dim=1))
    assert torch.all((x[..., 0] >= 0) & (x[..., 0] < 1))


def test_adding_problem_baseline_is_one_sixth():
    _, y = tasks.adding_problem(200_000, 4, generator=torch.Generator().manual_seed(1),
                                dtype=torch.float64)
    assert abs(((y - 1.0) ** 2).mean().item() - tasks.ADDING_BASELINE_MSE) < 0.003
    assert tasks.ADDING_BASELINE_MSE == pytest.approx(1 / 6)


def test_adding_problem_is_reproducible_with_a_seeded_generator():
    a = tasks.adding_problem(8, 10, generator=torch.Generator().manual_seed(3))
    b = tasks.adding_problem(8, 10, generator=torch.Generator().manual_seed(3))
    c = tasks.adding_problem(8, 10, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize("kwargs, message", [
    ({"batch_size": 0, "seq_len": 10}, "batch_size must be a positive integer"),
    ({"batch_size": 4, "seq_len": 1}, "seq_len must be at least 2"),
    ({"batch_size": 4, "seq_len": 2.5}, "seq_len must be a positive integer"),
])
def test_adding_problem_rejects_bad_sizes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tasks.adding_problem(**kwargs)


def test_copy_memory_layout():
    x, y = tasks.copy_memory(64, delay=15, n_symbols=8, n_copy=10,
                             generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (64, 35) and x.dtype == y.dtype == torch.long
    assert torch.all((x[:, :10] >= 1) & (x[:, :10] <= 8))
    assert torch.all(x[:, 10:24] == 0)           # delay - 1 blanks
    assert torch.all(x[:, 24] == 9)              # the "go" marker
    assert torch.all(x[:, 25:] == 0)
    assert torch.all(y[:, :25] == 0) and torch.equal(y[:, 25:], x[:, :10])


def test_copy_memory_baseline_matches_its_formula_and_rejects_bad_sizes():
    assert tasks.copy_memory_baseline(100) == pytest.approx(10 * math.log(8) / 120)
    with pytest.raises(ValueError, match="delay must be a positive integer"):
        tasks.copy_memory(4, delay=0)
