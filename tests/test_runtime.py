import warnings

import numpy as np
import pytest
import torch

from rnncourse import runtime


def test_device_is_cuda_exactly_when_available():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert runtime.get_device().type == expected


def test_device_can_be_forced_to_cpu(monkeypatch):
    assert runtime.get_device("cpu").type == "cpu"
    monkeypatch.setenv("RNNCOURSE_DEVICE", "cpu")
    assert runtime.get_device().type == "cpu"


def test_device_rejects_unknown_names_and_missing_cuda(monkeypatch):
    with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
        runtime.get_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        runtime.get_device("cuda")


def test_seeding_repeats_python_numpy_and_torch_draws():
    def draw():
        runtime.seed_everything(123)
        import random

        return random.random(), np.random.rand(), torch.rand(3), torch.nn.Linear(4, 2).weight

    a, b = draw(), draw()
    assert a[0] == b[0] and a[1] == b[1]
    assert torch.equal(a[2], b[2]) and torch.equal(a[3], b[3])


def test_seeding_returns_a_seeded_generator():
    g1, g2 = runtime.seed_everything(5), runtime.seed_everything(5)
    assert torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))


@pytest.mark.parametrize("bad", [-1, 1.5, "0", None, True])
def test_seeding_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        runtime.seed_everything(bad)


def test_progress_yields_everything_without_the_iprogress_warning(capsys):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        items = list(runtime.progress(range(5), desc="demo"))
    assert items == [0, 1, 2, 3, 4]
    assert not [w for w in caught if "IProgress" in str(w.message)]


def test_progress_can_be_switched_off(monkeypatch, capsys):
    monkeypatch.setenv("RNNCOURSE_NO_PROGRESS", "1")
    assert list(runtime.progress(range(3), desc="quiet")) == [0, 1, 2]
    assert "quiet" not in capsys.readouterr().err


def test_describe_names_versions_and_device():
    text = runtime.describe()
    assert torch.__version__ in text and "device" in text


def test_in_colab_is_false_here():
    assert runtime.in_colab() is False
