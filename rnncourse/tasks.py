"""Synthetic long-dependency tasks: the adding problem and the copy-memory task.

Both are generated on the fly, so they need no download and can be made as long as a lesson
needs. Used from chapter 4 (a plain RNN fails) to chapter 6 (gated cells succeed).

Adding problem (Hochreiter & Schmidhuber, 1997; Le et al., 2015)
    Input ``x`` of shape ``(batch, seq_len, 2)``: channel 0 holds numbers drawn uniformly from
    [0, 1); channel 1 is a marker that is 1 at exactly two steps, one in each half of the
    sequence. The target is the sum of the two marked numbers. Always predicting 1.0 (the
    mean of that sum) gives MSE = Var(U + U') = 2/12 = 1/6 ≈ 0.167: the baseline to beat.

Copy-memory task (Arjovsky et al., 2016)
    ``n_copy`` symbols from {1, ..., n_symbols} are shown, then ``delay - 1`` blanks (0), then a
    "go" marker (n_symbols + 1), then ``n_copy`` blanks. The model must output blanks everywhere
    except those last ``n_copy`` steps, where it reproduces the symbols in order (the sequence
    has ``delay + 2 * n_copy`` steps; the paper's T is ``delay``).
    Predicting blanks and then uniformly random symbols gives cross-entropy
    ``n_copy * log(n_symbols) / seq_len``: the baseline (see :func:`copy_memory_baseline`).
"""

from __future__ import annotations

import math

import torch

from .validation import check_positive_int

__all__ = ["ADDING_BASELINE_MSE", "adding_problem", "copy_memory", "copy_memory_baseline"]

ADDING_BASELINE_MSE = 1.0 / 6.0


def _draw_device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def adding_problem(batch_size: int, seq_len: int, generator: torch.Generator | None = None,
                   device: torch.device | str | None = None,
                   dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw a batch of the adding problem.

    Args:
        batch_size: number of sequences.
        seq_len: steps per sequence (at least 2: one marker in each half).
        generator: a seeded ``torch.Generator`` for reproducible draws (CPU generator; data
            are drawn on the CPU and then moved, so results do not depend on the device).
        device: where the returned tensors live.
        dtype: floating dtype of the tensors.

    Returns:
        ``(x, y)`` with ``x`` of shape ``(batch_size, seq_len, 2)`` and ``y`` of shape
        ``(batch_size, 1)``, ``y = sum_t x[:, t, 0] * x[:, t, 1]``.
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    seq_len = check_positive_int(seq_len, "seq_len")
    if seq_len < 2:
        raise ValueError(f"seq_len must be at least 2 (one marker in each half), got {seq_len}")
    draw = _draw_device(generator)
    values = torch.rand(batch_size, seq_len, generator=generator, device=draw, dtype=torch.float64)
    half = seq_len // 2
    first = torch.randint(0, half, (batch_size,), generator=generator, device=draw)
    second = torch.randint(half, seq_len, (batch_size,), generator=generator, device=draw)
    markers = torch.zeros(batch_size, seq_len, dtype=torch.float64, device=draw)
    rows = torch.arange(batch_size, device=draw)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = torch.stack([values, markers], dim=-1)
    y = (values * markers).sum(dim=1, keepdim=True)
    return x.to(device=device or draw, dtype=dtype), y.to(device=device or draw, dtype=dtype)


def copy_memory(batch_size: int, delay: int, n_symbols: int = 8, n_copy: int = 10,
                generator: torch.Generator | None = None,
                device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw a batch of the copy-memory task.

    Token ids: 0 is the blank, 1..n_symbols are symbols, ``n_symbols + 1`` is the "go" marker,
    so a model needs ``n_symbols + 2`` input classes and ``n_symbols + 1`` output classes.

    Args:
        batch_size: number of sequences.
        delay: steps from the end of the symbols to the "go" marker, inclusive (the span
            to bridge; the paper's T).
        n_symbols: size of the symbol alphabet.
        n_copy: how many symbols to remember.
        generator: a seeded ``torch.Generator`` for reproducible draws.
        device: where the returned tensors live.

    Returns:
        ``(x, y)``, both ``torch.long`` of shape ``(batch_size, seq_len)`` with
        ``seq_len = delay + 2 * n_copy``. ``y`` is 0 except for its last ``n_copy`` steps,
        which equal the first ``n_copy`` steps of ``x``.
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    delay = check_positive_int(delay, "delay")
    n_symbols = check_positive_int(n_symbols, "n_symbols")
    n_copy = check_positive_int(n_copy, "n_copy")
    draw = _draw_device(generator)
    seq_len = delay + 2 * n_copy
    symbols = torch.randint(1, n_symbols + 1, (batch_size, n_copy), generator=generator,
                            device=draw)
    x = torch.zeros(batch_size, seq_len, dtype=torch.long, device=draw)
    y = torch.zeros(batch_size, seq_len, dtype=torch.long, device=draw)
    x[:, :n_copy] = symbols
    x[:, n_copy + delay - 1] = n_symbols + 1
    y[:, -n_copy:] = symbols
    return x.to(device or draw), y.to(device or draw)


def copy_memory_baseline(delay: int, n_symbols: int = 8, n_copy: int = 10) -> float:
    """Cross-entropy per step (nats) of the memoryless strategy: blanks, then random symbols."""
    seq_len = delay + 2 * n_copy
    return n_copy * math.log(n_symbols) / seq_len
