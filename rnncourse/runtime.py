"""Where and how code runs: device choice, seeding, progress bars, Colab detection.

Every notebook starts with::

    from rnncourse import runtime
    device = runtime.get_device()      # CUDA when present, else CPU
    runtime.seed_everything(0)         # same numbers on every CPU run
"""

from __future__ import annotations

import os
import random
import sys
import warnings
from collections.abc import Iterable, Iterator
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")

__all__ = ["get_device", "seed_everything", "progress", "in_colab", "describe"]


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
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        # cuBLAS needs this to be deterministic; harmless on CPU.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return torch.Generator().manual_seed(seed)


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
    return iter(tqdm(iterable, desc=desc, total=total, disable=disable, **kwargs))  # type: ignore[arg-type]


def describe() -> str:
    """One line naming the versions and the device, for the top of each notebook."""
    device = get_device()
    gpu = f" ({torch.cuda.get_device_name(0)})" if device.type == "cuda" else ""
    return (f"Python {sys.version.split()[0]}, torch {torch.__version__}, "
            f"numpy {np.__version__}, device {device}{gpu}")
