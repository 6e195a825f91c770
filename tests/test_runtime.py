import functools
import os
import random
import subprocess
import sys
import types
import warnings

import matplotlib as mpl
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


def test_seeding_asks_for_deterministic_algorithms_without_importing_the_inductor():
    # torch.use_deterministic_algorithms imports torch._inductor (over a second of CPU per
    # notebook); seed_everything sets the same two flags without it, and a later import of the
    # inductor still finds its deterministic mode on.
    code = ("import sys, torch\n"
            "from rnncourse import runtime\n"
            "runtime.seed_everything(0)\n"
            "print('torch._inductor' in sys.modules, torch.are_deterministic_algorithms_enabled(),"
            " torch.is_deterministic_algorithms_warn_only_enabled())\n"
            "import torch._inductor.config as c\n"
            "print(c.deterministic)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={k: v for k, v in os.environ.items()
                               if k != "TORCHINDUCTOR_DETERMINISTIC"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "True", "True"], done.stdout


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


def test_in_colab_follows_the_google_colab_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert runtime.in_colab() is True
    monkeypatch.delitem(sys.modules, "google.colab")
    assert runtime.in_colab() is False


# ----------------------------------------------------------------------------- setup

def _flushing() -> bool:
    """Whether the CPU flushes float32 subnormals to zero now (1e-40 is subnormal)."""
    return (torch.tensor([1e-40], dtype=torch.float32) * 1.0).item() == 0.0


@pytest.fixture
def torch_settings(monkeypatch):
    """Give back torch's thread count, flush-to-zero mode and matplotlib's style afterwards."""
    threads, flushing = torch.get_num_threads(), _flushing()
    monkeypatch.delenv("RNNCOURSE_DEVICE", raising=False)
    with mpl.rc_context():
        yield
    torch.set_num_threads(threads)
    torch.set_flush_denormal(flushing)


def _draws():
    return torch.rand(4), torch.randn(2, 3), np.random.rand(3), random.random()


def _same(a, b):
    return (torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and np.array_equal(a[2], b[2])
            and a[3] == b[3])


def test_setup_seeds_like_seed_everything(torch_settings):
    runtime.setup(3)
    after_setup = _draws()
    runtime.seed_everything(3)
    assert _same(after_setup, _draws())
    runtime.setup(4)
    assert not _same(after_setup, _draws())


def test_setup_returns_the_device_and_prints_nothing(torch_settings, capsys):
    device = runtime.setup(0)
    assert isinstance(device, torch.device) and device == runtime.get_device()
    assert capsys.readouterr() == ("", "")


def test_setup_sets_cpu_threads(torch_settings, monkeypatch):
    monkeypatch.setenv("RNNCOURSE_DEVICE", "cpu")
    torch.set_num_threads(2)
    assert runtime.setup(0).type == "cpu"
    assert torch.get_num_threads() == 1
    runtime.setup(0, threads=3)
    assert torch.get_num_threads() == 3
    torch.set_num_threads(2)
    runtime.setup(0, threads=None)               # None: torch's own choice stays
    assert torch.get_num_threads() == 2


def test_setup_leaves_threads_alone_on_a_gpu(torch_settings, monkeypatch):
    monkeypatch.setattr(runtime, "get_device", lambda prefer=None: torch.device("cuda"))
    torch.set_num_threads(2)
    assert runtime.setup(0, threads=1).type == "cuda"
    assert torch.get_num_threads() == 2


def test_setup_flushes_subnormals(torch_settings):
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush subnormals")
    assert not _flushing()                       # 1e-40 * 1 stays 1e-40 ...
    runtime.setup(0)
    assert _flushing()                           # ... and becomes 0 once flushing is on
    runtime.setup(0, flush_denormal=False)
    assert not _flushing()


def test_setup_applies_the_course_style(torch_settings):
    mpl.rcdefaults()
    assert mpl.rcParams["axes.spines.top"] is True
    runtime.setup(0)
    assert mpl.rcParams["axes.spines.top"] is False and mpl.rcParams["axes.grid"] is True


@pytest.mark.parametrize("kwargs, error, match", [
    ({"seed": -1}, ValueError, "non-negative integer"),
    ({"seed": 1.5}, ValueError, "non-negative integer"),
    ({"threads": 0}, ValueError, "positive integer or None"),
    ({"threads": 2.0}, ValueError, "positive integer or None"),
    ({"threads": True}, ValueError, "positive integer or None"),
    ({"flush_denormal": "yes"}, TypeError, "True or False"),
])
def test_setup_rejects_bad_arguments_before_changing_anything(torch_settings, kwargs, error,
                                                              match):
    torch.set_num_threads(2)
    with pytest.raises(error, match=match):
        runtime.setup(**{"seed": 0, "threads": 1, **kwargs})
    assert torch.get_num_threads() == 2


def test_setup_arguments_after_seed_are_keyword_only():
    with pytest.raises(TypeError):
        runtime.setup(0, 1)


# ----------------------------------------------------------------------------- show_source

def _decorate(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


@_decorate
def _documented(x):
    '''Doc in single quotes, with "double" ones and ∂c/∂h inside.

    A second paragraph.
    '''
    kept = '''a triple-single-quoted string in the body'''
    """a bare string statement that is not the docstring"""
    return x, kept


class _Sample:
    """The class docstring."""

    size = 3

    def method(self, y):
        r"""The method docstring."""
        return y * self.size

    def other(self):
        return "no docstring here"


def _one_liner(): "doc ★"; return 1  # noqa: E702, E704


def _only_a_docstring():
    """Nothing else."""


def _shown(capsys, obj, **kwargs):
    assert runtime.show_source(obj, **kwargs) is None
    return capsys.readouterr().out


def test_show_source_drops_the_docstring_but_not_strings_in_the_body(capsys):
    text = _shown(capsys, _documented)
    assert text.startswith("@_decorate\ndef _documented(x):\n    kept = ")
    assert "Doc in single" not in text and "second paragraph" not in text
    assert "'''a triple-single-quoted string in the body'''" in text
    assert '"""a bare string statement that is not the docstring"""' in text
    assert text.rstrip().endswith("return x, kept")
    full = _shown(capsys, _documented, docstring=True)
    assert "Doc in single quotes" in full and "∂c/∂h" in full and "A second paragraph." in full


def test_show_source_of_a_method_is_dedented(capsys):
    for method in (_Sample.method, _Sample().method):
        text = _shown(capsys, method)
        assert text == "def method(self, y):\n    return y * self.size\n"
    assert "The method docstring" in _shown(capsys, _Sample.method, docstring=True)


def test_show_source_of_a_class_shows_its_methods(capsys):
    text = _shown(capsys, _Sample)
    assert text.startswith("class _Sample:\n    size = 3\n")
    assert "def method(self, y):" in text and "def other(self):" in text
    assert "docstring" not in text.replace("no docstring here", "")
    full = _shown(capsys, _Sample, docstring=True)
    assert '"""The class docstring."""' in full and "The method docstring" in full


def test_show_source_keeps_code_sharing_a_line_and_empty_bodies_valid(capsys):
    assert _shown(capsys, _one_liner).startswith("def _one_liner(): return 1")
    assert _shown(capsys, _only_a_docstring) == "def _only_a_docstring():\n    ...\n"


def test_show_source_of_package_code(capsys):
    text = _shown(capsys, runtime.get_device)
    assert text.startswith("def get_device(")
    assert "Raises:" not in text and "choice = prefer" in text
    from rnncourse.exercises import ch02

    assert _shown(capsys, ch02.check_param_count).startswith("@self_check(")


@pytest.mark.parametrize("bad", [3, "lstm_cell", len, functools.partial(_documented, 1)])
def test_show_source_rejects_what_is_not_a_function_or_class(bad):
    with pytest.raises(TypeError, match="expects a function, method or class, got"):
        runtime.show_source(bad)
