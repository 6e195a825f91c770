"""Where and how code runs: device choice, seeding, progress bars, Colab detection.

Every notebook starts with::

    from rnncourse import runtime
    device = runtime.setup(0)          # seeds, plot style, device, CPU threads, denormals
    print(runtime.describe())          # versions and device, one line

and shows the package's code with ``runtime.show_source(lstm.lstm_cell)``.
"""

from __future__ import annotations

import ast
import inspect
import os
import random
import sys
import warnings
from collections.abc import Iterable, Iterator
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")

__all__ = ["get_device", "seed_everything", "setup", "progress", "in_colab", "describe",
           "show_source"]


def get_device(prefer: str | None = None) -> torch.device:
    """Return the device to compute on: ``cuda`` when a GPU is visible, else ``cpu``.

    Args:
        prefer: force a device (``"cpu"`` or ``"cuda"``). The environment variable
            ``RNNCOURSE_DEVICE`` does the same without editing a notebook.

    Raises:
        ValueError: ``prefer`` names a device that is not ``"cpu"`` or ``"cuda"``, or asks for
            ``"cuda"`` on a machine without a GPU.
    """
    choice = prefer if prefer is not None else os.environ.get("RNNCOURSE_DEVICE")
    if choice is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {choice!r}")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for, but torch sees no CUDA GPU on this machine")
    return torch.device(choice)


def seed_everything(seed: int = 0, deterministic: bool = True) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) so that a run can be repeated.

    Args:
        seed: a non-negative integer.
        deterministic: also ask PyTorch for deterministic kernels where it has them
            (``warn_only``, so an op without a deterministic version still runs).

    Returns:
        A ``torch.Generator`` seeded with ``seed``, for code that wants its own stream.
    """
    seed = _checked_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        _use_deterministic_algorithms()
        # cuBLAS needs this to be deterministic; harmless on CPU.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return torch.Generator().manual_seed(seed)


def _use_deterministic_algorithms() -> None:
    """``torch.use_deterministic_algorithms(True, warn_only=True)``, without the import of
    ``torch._inductor`` that torch 2.13 makes inside it just to set one flag (1.1-1.4 s of CPU,
    paid by every notebook and every grading kernel). The inductor reads the same flag from
    ``TORCHINDUCTOR_DETERMINISTIC`` when it is imported later; if it already is, or torch lacks
    the setter, the public call runs."""
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None or "torch._inductor.config" in sys.modules:
        torch.use_deterministic_algorithms(True, warn_only=True)
        return
    os.environ["TORCHINDUCTOR_DETERMINISTIC"] = "1"
    setter(True, warn_only=True)


def _checked_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def setup(seed: int = 0, *, threads: int | None = 1,
          flush_denormal: bool = True) -> torch.device:
    """Prepare a notebook in one call and return the device to compute on.

    In order, and why:

    - :func:`seed_everything` (``seed``): the same numbers on every run of the notebook.
    - :func:`rnncourse.plotting.use_style`: the course's colour-blind-safe figures.
    - :func:`get_device`: CUDA when a GPU is visible (or ``RNNCOURSE_DEVICE``), else CPU.
    - On CPU, ``torch.set_num_threads(threads)``: one thread is 10–40× faster for the course's
      small models on a busy 2-core CPU (``threads=None`` keeps torch's default).
    - ``torch.set_flush_denormal(flush_denormal)``: subnormal gradients make backward 10–20×
      slower on CPU from T≈150; flushing them to zero changes no result that matters.

    It prints nothing: notebooks print :func:`describe` next.

    Args:
        seed: a non-negative integer.
        threads: CPU threads for torch (a positive integer), or ``None`` to leave them alone.
        flush_denormal: flush subnormal floats to zero on the CPU (``True``/``False``).

    Raises:
        ValueError: ``seed`` is not a non-negative integer, or ``threads`` is not ``None`` or
            a positive integer.
        TypeError: ``flush_denormal`` is not a bool.
    """
    seed = _checked_seed(seed)
    if threads is not None and (isinstance(threads, bool)
                                or not isinstance(threads, (int, np.integer)) or threads < 1):
        raise ValueError(f"threads must be a positive integer or None (torch's default), "
                         f"got {threads!r}")
    if not isinstance(flush_denormal, (bool, np.bool_)):
        raise TypeError(f"flush_denormal must be True or False, got {flush_denormal!r}")
    from . import plotting  # matplotlib only when a notebook sets up, not on every import

    seed_everything(seed)
    plotting.use_style()
    device = get_device()
    if device.type == "cpu" and threads is not None:
        torch.set_num_threads(int(threads))
    torch.set_flush_denormal(bool(flush_denormal))
    return device


def in_colab() -> bool:
    """True when running inside Google Colab."""
    return "google.colab" in sys.modules


def _silence_iprogress_warning() -> None:
    # tqdm.auto warns "IProgress not found" (with a machine path) when ipywidgets is absent.
    # The course keeps ipywidgets out (it would pull require.js from a CDN into the pages),
    # so the text bar is what we want and the warning is noise.
    warnings.filterwarnings("ignore", message=".*IProgress not found.*")
    try:
        from tqdm import TqdmExperimentalWarning

        warnings.filterwarnings("ignore", category=TqdmExperimentalWarning)
    except ImportError:  # pragma: no cover - old tqdm
        pass


def progress(iterable: Iterable[T], desc: str | None = None, total: int | None = None,
             **kwargs: object) -> Iterator[T]:
    """Wrap ``iterable`` in a text progress bar that works in terminals and notebooks.

    The bar is a plain ``tqdm`` writing to stderr (notebooks merge its updates into one
    block), so it needs no widgets and prints no warning. Set ``RNNCOURSE_NO_PROGRESS=1``
    to switch bars off.
    """
    _silence_iprogress_warning()
    from tqdm import tqdm

    disable = os.environ.get("RNNCOURSE_NO_PROGRESS", "") not in ("", "0")
    kwargs.setdefault("mininterval", 0.5)
    kwargs.setdefault("ascii", True)
    return iter(tqdm(iterable, desc=desc, total=total, disable=disable, **kwargs))


def describe() -> str:
    """One line naming the versions and the device, for the top of each notebook."""
    device = get_device()
    gpu = f" ({torch.cuda.get_device_name(0)})" if device.type == "cuda" else ""
    return (f"Python {sys.version.split()[0]}, torch {torch.__version__}, "
            f"numpy {np.__version__}, device {device}{gpu}")


def show_source(obj: object, docstring: bool = False) -> None:
    """Print the source code of a function, method or class (dedented), and return ``None``.

    Notebooks use it to show the package's implementation next to the maths, e.g.
    ``runtime.show_source(lstm.lstm_cell)``. Decorators and the ``def``/``class`` line are
    kept. Unless ``docstring=True``, docstrings are left out: the object's own and those of
    the methods and functions defined inside it (found with :mod:`ast`, so any quoting style
    works); a body that was only a docstring shows as ``...``.

    Raises:
        TypeError: ``obj`` is not a function, method or class, or has no Python source.
    """
    target = obj.__func__ if inspect.ismethod(obj) else obj
    target = inspect.unwrap(target) if inspect.isfunction(target) else target
    if not (inspect.isfunction(target) or inspect.isclass(target)):
        raise TypeError(f"show_source expects a function, method or class, got "
                        f"{type(obj).__name__} ({obj!r:.60})")
    try:
        lines, _ = inspect.getsourcelines(obj)
    except (OSError, TypeError) as error:
        raise TypeError(f"no Python source for {obj!r:.60}: {error}") from None
    pad = lines[0][: len(lines[0]) - len(lines[0].lstrip())]
    lines = [line[len(pad):] if line.startswith(pad) else line for line in lines]
    if not docstring:
        lines = _without_docstrings(lines)
    print("".join(lines).rstrip("\n"))


def _without_docstrings(lines: list[str]) -> list[str]:
    """``lines`` (of one def or class) with the docstrings of every def and class removed."""
    tree = ast.parse("".join(lines))
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and node.body and isinstance(node.body[0], ast.Expr)
                and isinstance(node.body[0].value, ast.Constant)
                and isinstance(node.body[0].value.value, str)):
            found.append((node.body[0], len(node.body) == 1))
    # ast columns count UTF-8 bytes; edit from the bottom up so positions stay valid.
    raw = [line.encode() for line in lines]
    for expr, alone in sorted(found, key=lambda item: item[0].lineno, reverse=True):
        first, last = expr.lineno - 1, expr.end_lineno - 1
        before, after = raw[first][: expr.col_offset], raw[last][expr.end_col_offset:]
        keep = b"..." if alone else b""  # a body of only a docstring needs a statement
        if not before.strip() and not after.strip():
            tail = last + 1
            while not alone and tail < len(raw) and not raw[tail].strip():
                tail += 1                  # and the blank lines that followed it
            raw[first:tail] = [before + keep + b"\n"] if alone else []
        else:                              # e.g. ``def f(): "doc"; return 1``
            rest = after.lstrip()
            if not alone and rest.startswith(b";"):
                rest = rest[1:].lstrip()
            body = (keep if alone else rest).rstrip(b"\r\n")
            raw[first:last + 1] = [before.rstrip() + b" " + body + b"\n" if before.strip()
                                   else before + body + b"\n"]
    return [line.decode() for line in raw]
