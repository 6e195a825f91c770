"""Self-checks for chapter 13 (beyond classic RNNs: scans, minGRU, attention's memory)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..selfcheck import CheckFailed, expect, expect_answered, expect_close, self_check

__all__ = ["check_sequential_scan", "check_log_space_scan", "check_kv_cache_experiment",
           "check_work_efficient_schedule"]


def _reference_loop(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None) -> torch.Tensor:
    h = torch.zeros_like(b[0]) if h0 is None else h0
    out = []
    for a_t, b_t in zip(a.unbind(0), b.unbind(0)):
        h = a_t * h + b_t
        out.append(h)
    return torch.stack(out)


def _random_case(rng: np.random.Generator, gen: torch.Generator, T: int | None = None,
                 dtype: torch.dtype = torch.float64
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    T = int(rng.integers(5, 40)) if T is None else T
    shape = (T, int(rng.integers(1, 4)), int(rng.integers(2, 6)))
    a = torch.rand(shape, generator=gen, dtype=dtype) * 0.98 + 0.01   # (0.01, 0.99)
    b = torch.randn(shape, generator=gen, dtype=dtype)
    h0 = torch.randn(shape[1:], generator=gen, dtype=dtype)
    return a, b, h0


def _as_tensor(value: Any, what: str) -> torch.Tensor:
    expect(isinstance(value, torch.Tensor),
           f"{what} should return a torch.Tensor, got {type(value).__name__}")
    return value


@self_check("Exercise 13.1 (★): a sequential scan")
def check_sequential_scan(sequential_scan: Callable[..., torch.Tensor]) -> None:
    """``sequential_scan(a, b, h0)`` must return every ``h_t = a_t h_{t-1} + b_t``,
    ``(T, ...)`` for ``a``, ``b`` of shape ``(T, ...)`` and ``h0`` ``(...)``."""
    rng = np.random.default_rng()
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    for _ in range(3):
        a, b, h0 = _random_case(rng, gen)
        want = _reference_loop(a, b, h0)
        got = _as_tensor(sequential_scan(a.clone(), b.clone(), h0.clone()), "sequential_scan")
        if got.shape == want.shape[1:] and torch.allclose(got, want[-1]):
            raise CheckFailed("you returned only the final state h_T; return every state, "
                              "stacked along time: shape (T, ...)")
        expect(got.shape == want.shape, f"the result should have shape {tuple(want.shape)} "
                                        f"(T, ...), got {tuple(got.shape)}")
        if torch.allclose(got, _reference_loop(a, b, None)):
            raise CheckFailed("your states ignore h0: the first step is h_1 = a_1 h0 + b_1")
        shifted = torch.cat([h0[None], want[:-1]])
        if torch.allclose(got, shifted):
            raise CheckFailed("your states are shifted by one step: out[0] should be h_1 = "
                              "a_1 h0 + b_1 (after the first input), not h0")
        swapped = _reference_loop(a, a * b, h0)          # a_t (h_{t-1} + b_t)
        if torch.allclose(got, swapped):
            raise CheckFailed("you computed a_t (h_{t-1} + b_t); the recurrence adds b_t "
                              "after the decay: a_t h_{t-1} + b_t")
        expect_close(got, want, what="sequential_scan(a, b, h0)", atol=1e-10, rtol=1e-10)


@self_check("Exercise 13.2 (★★): a log-space scan, in float64 and float32")
def check_log_space_scan(log_space_linear_scan: Callable[..., torch.Tensor]) -> None:
    """``log_space_linear_scan(log_a, log_b)`` (``(T, ...)`` each, ``h_0 = 0``) must return
    every ``h_t = a_t h_{t-1} + b_t`` with ``a = exp(log_a)``, ``b = exp(log_b)``, in the input's
    dtype: to 1e-10 in float64, and to 1e-5 (relative) in float32 at ``T = 2048``."""
    rng = np.random.default_rng()
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    a, _, _ = _random_case(rng, gen)
    b = torch.rand(a.shape, generator=gen, dtype=torch.float64) + 0.05
    got = _as_tensor(log_space_linear_scan(a.log(), b.log()), "log_space_linear_scan")
    want = _reference_loop(a, b, None)
    expect(got.shape == want.shape, f"the result should have shape {tuple(want.shape)} "
                                    f"(T, ...), got {tuple(got.shape)}")
    expect_close(got, want, what="float64 log_space_linear_scan", atol=1e-10, rtol=1e-10,
                 hint="h_t = exp(a*_t + logcumsumexp(log b - a*)_t) with a* = cumsum(log a)")
    # a long float32 case: sigmoid-like decays, as minGRU's 1 - z_t
    T = 2048
    log_a = -torch.nn.functional.softplus(torch.randn(T, 2, 8, generator=gen) + 1.0)
    log_b = torch.randn(T, 2, 8, generator=gen) * 0.5 - 1.0
    want = _reference_loop(log_a.double().exp(), log_b.double().exp(), None)
    got = _as_tensor(log_space_linear_scan(log_a.clone(), log_b.clone()),
                     "log_space_linear_scan")
    expect(got.dtype == torch.float32,
           f"for float32 inputs return float32 (cast back after accumulating), got {got.dtype}")
    expect(got.shape == want.shape, f"the result should have shape {tuple(want.shape)}, got "
                                    f"{tuple(got.shape)}")
    if not torch.isfinite(got).all():
        raise CheckFailed("in float32 at T = 2048 your result has inf or NaN: the products "
                          "of a_t underflow and b_t / A_t overflows (the naive cumprod/cumsum "
                          "scan); stay in log space (logcumsumexp) until the last exp")
    rel = ((got.double() - want).abs() / want.abs()).max().item()
    if rel > 1e-5:
        raise CheckFailed(f"in float32 at T = 2048 your states are off by {rel:.1e} (relative): "
                          "the float32 cumulative sum a*_t = Σ log a_s grows like t and loses "
                          "digits in a*_t + logcumsumexp(...); accumulate the cumulative sums in "
                          "float64 and cast the result back to float32")


@self_check("Exercise 13.3 (★★): the key/value cache, predicted and measured")
def check_kv_cache_experiment(measured: Any, predicted_per_token: Any, lstm_bytes: Any) -> None:
    """The experiment of the exercise: a ``beyond.CharTransformer(50, d_model=32, nhead=4,
    num_layers=3, dim_feedforward=64, context=64)`` generating 40 tokens for a batch of 5:
    ``measured[t]`` the cache's bytes after ``t + 1`` tokens, ``predicted_per_token`` the bytes
    each token adds (the learner's prediction) and ``lstm_bytes`` the bytes of the state
    ``(h, c)`` of ``nn.LSTM(50, 32, num_layers=3)`` for the same batch."""
    expect_answered(measured is not None and predicted_per_token is not None
                    and lstm_bytes is not None,
                    "set measured, predicted_per_token and lstm_bytes")
    layers, d_model, batch, tokens, fp = 3, 32, 5, 40, 4
    per_token = 2 * layers * d_model * batch * fp
    expect(isinstance(measured, (list, tuple, np.ndarray, torch.Tensor)),
           f"measured should be a list of {tokens} byte counts, got {type(measured).__name__}")
    values = [float(v) for v in list(measured)]
    expect(len(values) == tokens, f"measured should hold {tokens} numbers (one after each "
                                  f"generated token), got {len(values)}")
    want = [per_token * (t + 1) for t in range(tokens)]
    if values == [v / fp for v in want]:
        raise CheckFailed("measured counts values, not bytes: multiply numel() by "
                          "element_size() (4 bytes in float32)")
    expect(values == want, f"measured should grow by {per_token} bytes per token "
                           f"({want[0]}, {want[1]}, ..., {want[-1]}), got {values[0]:.0f}, "
                           f"{values[1]:.0f}, ..., {values[-1]:.0f}: sum numel() * "
                           "element_size() over every layer's K and V after each step")
    expect(isinstance(predicted_per_token, (int, float, np.integer, np.floating))
           and not isinstance(predicted_per_token, bool),
           f"predicted_per_token should be a number, got {type(predicted_per_token).__name__}")
    mistakes = {per_token / 2: "you counted the keys or the values, not both: a factor 2",
                per_token / layers: "every layer caches its own keys and values: × num_layers",
                per_token / fp: "that is a count of values; in bytes multiply by 4 (float32)",
                per_token / batch: "every sequence of the batch has its own cache: × batch"}
    p = float(predicted_per_token)
    if p != per_token and p in mistakes:
        raise CheckFailed(f"predicted_per_token = {p:.0f}: {mistakes[p]}")
    expect(p == per_token, f"predicted_per_token should be {per_token} (2 × layers × d_model "
                           f"× batch × 4 bytes), got {p:.0f}")
    lstm = 2 * layers * d_model * batch * fp
    expect(isinstance(lstm_bytes, (int, float, np.integer, np.floating))
           and not isinstance(lstm_bytes, bool),
           f"lstm_bytes should be a number, got {type(lstm_bytes).__name__}")
    if float(lstm_bytes) == lstm / 2:
        raise CheckFailed("an LSTM's state is (h, c): count both tensors")
    expect(float(lstm_bytes) == lstm, f"lstm_bytes should be {lstm}, got {lstm_bytes}")


@self_check("Exercise 13.4 (★★★): a work-efficient scan schedule")
def check_work_efficient_schedule(schedule: Callable[[int], list]) -> None:
    """``schedule(T)`` must return rounds (lists of ``(source, target)`` pairs; a round sets
    every ``x[target] = x[source] • x[target]`` at once, reading before writing) that compute
    an inclusive scan for any ``T``, with at most ``2 ceil(log2 T)`` rounds and at most
    ``2 T`` combines."""
    rng = np.random.default_rng()
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    lengths = [1, 2, 8, 64, 100, 1000] + [int(v) for v in rng.integers(3, 300, size=3)]
    for T in lengths:
        rounds = schedule(T)
        expect(isinstance(rounds, (list, tuple)), f"schedule({T}) should return a list of "
                                                  f"rounds, got {type(rounds).__name__}")
        work = 0
        A, B = None, None
        a, b, _ = _random_case(rng, gen, T=T)
        A, B = list(a.unbind(0)), list(b.unbind(0))
        for k, pairs in enumerate(rounds):
            expect(isinstance(pairs, (list, tuple)), f"round {k} of schedule({T}) should be a "
                                                     f"list of (source, target) pairs")
            targets = [t for _, t in pairs]
            expect(len(set(targets)) == len(targets),
                   f"round {k} of schedule({T}) writes a position twice")
            new = {}
            for pair in pairs:
                expect(isinstance(pair, (list, tuple)) and len(pair) == 2,
                       f"round {k} of schedule({T}) holds {pair!r}, not a (source, target) pair")
                s, t = (int(v) for v in pair)
                expect(0 <= s < t < T, f"pair ({s}, {t}) in schedule({T}): a source must come "
                                       "before its target, both in [0, T)")
                new[t] = (A[s] * A[t], A[t] * B[s] + B[t])
            for t, (a_t, b_t) in new.items():
                A[t], B[t] = a_t, b_t
            work += len(pairs)
        want = _reference_loop(a, b, None)
        if not torch.allclose(torch.stack(B), want, atol=1e-9, rtol=1e-9):
            hint = (" (it works when T is a power of two: handle the ragged end)"
                    if T & (T - 1) else "")
            bad = int((torch.stack(B) - want).abs().flatten(1).max(1).values.argmax())
            raise CheckFailed(f"schedule({T}) does not compute the scan: position {bad} is "
                              f"wrong{hint}")
        depth_limit = 2 * math.ceil(math.log2(T)) if T > 1 else 0
        if len(rounds) > depth_limit:
            raise CheckFailed(f"schedule({T}) has {len(rounds)} rounds; a scan needs at most "
                              f"{depth_limit} (2 ceil(log2 T)); one combine per round is the "
                              "sequential loop")
        if work > 2 * T:
            raise CheckFailed(f"schedule({T}) does {work} combines, more than 2T = {2 * T}: "
                              "Hillis–Steele (every position every round) is fast but not "
                              "work-efficient; build sums of blocks (up-sweep), then fill in")
