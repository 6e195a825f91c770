"""Self-checks for chapter 3, "Backpropagation through time".

- :func:`check_detach_state` (★): cut a recurrent state (tensor or LSTM tuple) from its graph.
- :func:`check_reach_fraction` (★★, derive-then-check): which fraction of the losses of
  BPTT(k1, k2) sends a gradient to the input d steps back; checked against autograd's zeros.
- :func:`check_tbptt_grads` (★★★): the gradient of truncated BPTT(k1, k2).
- :func:`check_truncation_bias` (★★, experiment): how long a truncation must be for the
  truncated gradient of W_hh to point where the full one does, for small and large W_hh.

``BIAS_RADII`` and ``BIAS_PROBLEMS`` hold the two problems of exercise 3.4.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import bptt
from ..selfcheck import CheckFailed, expect, expect_close, init_parameters, self_check

__all__ = ["check_detach_state", "check_reach_fraction", "check_tbptt_grads",
           "check_truncation_bias"]


def _expect_detached(got: Any, want: torch.Tensor, what: str) -> None:
    expect(isinstance(got, torch.Tensor), f"{what} should be a torch.Tensor, got "
           f"{type(got).__name__}")
    expect(got.grad_fn is None and not got.requires_grad,
           f"{what} is still attached to the graph (grad_fn={got.grad_fn}); "
           "the next chunk's backward() would run into the previous chunk. Hint: .detach()")
    expect_close(got, want, what, atol=0, rtol=0,
                 hint="detaching must keep the values: only the history is dropped")


@self_check("Exercise 3.1 (★): detach the state between chunks")
def check_detach_state(detach_state: Callable[[Any], Any]) -> None:
    """``detach_state(state)`` must handle a tensor, an ``(h, c)`` tuple, and ``None``."""
    gen = torch.Generator().manual_seed(0)  # a local stream: the global one is not touched
    rnn, lstm = init_parameters(nn.RNN(2, 3), gen), init_parameters(nn.LSTM(2, 3), gen)
    x = torch.randn(4, 1, 2, generator=gen)
    _, h = rnn(x)
    _expect_detached(detach_state(h), h, "detach_state(h) for an nn.RNN state")
    _, (h, c) = lstm(x)
    got = detach_state((h, c))
    expect(isinstance(got, tuple) and len(got) == 2,
           f"for an LSTM state (h, c), detach_state should return a tuple of 2 tensors, got "
           f"{type(got).__name__}" + (f" of length {len(got)}" if isinstance(got, tuple) else "")
           + ". Hint: nn.LSTM takes its state back as a tuple, and both h and c carry history")
    _expect_detached(got[0], h, "detach_state((h, c))[0]")
    _expect_detached(got[1], c, "detach_state((h, c))[1] (the cell state c)")
    expect(detach_state(None) is None,
           "detach_state(None) should return None (the first chunk starts with no state)")


@self_check("Exercise 3.3 (★★★): the gradient of truncated BPTT(k1, k2)")
def check_tbptt_grads(tbptt_grads: Callable[..., Any]) -> None:
    """``tbptt_grads(params, x, target, k1, k2, h0) -> {name: gradient}`` (MSE loss)."""
    rng = np.random.default_rng(7)
    steps, batch = 11, 2
    params = bptt.init_params(3, 6, 2, rng)
    x = rng.normal(size=(steps, batch, 3))
    target = rng.normal(size=(steps, batch, 2))
    h0 = 0.5 * rng.normal(size=(batch, 6))
    _, full = bptt.loss_and_grads(params, x, target, h0)
    for k1, k2 in [(11, 11), (4, 4), (3, 5), (1, 3), (2, 20)]:
        got = tbptt_grads(params, x, target, k1, k2, h0)
        what = f"tbptt_grads(..., k1={k1}, k2={k2})"
        expect(isinstance(got, dict), f"{what} should return a dict {{name: gradient}}, got "
               f"{type(got).__name__}")
        missing = [n for n in bptt.PARAM_NAMES if n not in got]
        expect(not missing, f"{what} has no gradient for {missing}")
        _, want = bptt.truncated_bptt_grads(params, x, target, k1, k2, h0)
        for name in bptt.PARAM_NAMES:
            try:
                expect_close(got[name], want[name], f"{what}[{name!r}]", atol=1e-10, rtol=1e-8)
            except CheckFailed as failure:
                hint = ""
                if k1 < steps and np.allclose(np.asarray(got[name]), full[name]):
                    hint = (" — this is the FULL BPTT gradient: the state k2 steps back must "
                            "be treated as a constant")
                elif (k1, k2) == (3, 5):
                    hint = (" — with k2 > k1, each update backpropagates only the losses of "
                            "its last k1 steps, through k2 steps")
                raise CheckFailed(str(failure) + hint) from None


# --------------------------------------------------------------------------------------------
# Exercise 3.2: predict the truncation horizon
# --------------------------------------------------------------------------------------------

def _fraction_reference(k1: int, k2: int, d: int) -> float:
    return min(1.0, max(0.0, (k2 - d) / k1))


def _measured_fraction(k1: int, k2: int, d: int, rng: np.random.Generator) -> float:
    """Autograd's answer: the fraction of losses t of full updates with dl_t/dx_{t-d} != 0."""
    steps = k2 + 4 * k1
    params = bptt.init_params(2, 3, 1, rng)
    x, target = rng.normal(size=(steps, 1, 2)), rng.normal(size=(steps, 1, 1))
    reach = bptt.truncated_input_gradients(params, x, target, k1, k2)
    hits = total = 0
    for start, first, end in bptt.truncation_windows(steps, k1, k2):
        if end - start < k2 or end - first < k1:        # the first updates and a short last
            continue
        for t in range(first, end):
            total += 1
            hits += bool(t - d >= 0 and reach[t, t - d] > 0)
    return hits / total


_FRACTION_MISTAKES: list[tuple[str, Callable[[int, int, int], float]]] = [
    ("k1 and k2 swapped: k1 is the number of steps between updates (the losses of one "
     "update), k2 the number of steps backpropagated",
     lambda k1, k2, d: min(1.0, max(0.0, (k1 - d) / k2))),
    ("this is the answer for chunks (k2 = k1): with k2 > k1 even the oldest loss of an update "
     "reaches k2 - k1 steps back",
     lambda k1, k2, d: max(0.0, (k1 - d) / k1)),
    ("not every loss is backpropagated through k2 steps: only the newest loss of an update "
     "is; the oldest reaches k2 - k1 steps back",
     lambda k1, k2, d: 1.0 if d < k2 else 0.0),
    ("off by one: a loss reaches its own input (lag 0), so the newest loss of an update "
     "reaches lags 0 to k2 - 1",
     lambda k1, k2, d: min(1.0, max(0.0, (k2 - d + 1) / k1))),
    ("off by one: a loss reaches its own input (lag 0), so the newest loss of an update "
     "reaches lags 0 to k2 - 1",
     lambda k1, k2, d: min(1.0, max(0.0, (k2 - d - 1) / k1))),
]

_FRACTION_CASES = [(3, 3, 1), (3, 3, 3), (2, 5, 2), (2, 5, 4), (2, 5, 6), (4, 6, 3), (1, 4, 2),
                   (3, 7, 5), (5, 5, 0)]


def _as_fraction(value: Any, what: str) -> float:
    if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim == 0:
        value = value.item()                                   # a 0-d tensor or array
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise CheckFailed(f"{what} should be a number between 0 and 1, got "
                          f"{type(value).__name__} {value!r}")
    return float(value)


@self_check("Exercise 3.2 (★★): predict the truncation horizon")
def check_reach_fraction(fraction_reached: Callable[[int, int, int], Any]) -> None:
    """``fraction_reached(k1, k2, d)``: the share of losses whose gradient reaches lag ``d``.

    Checked on fixed and random cases against autograd's measured zeros
    (:func:`rnncourse.bptt.truncated_input_gradients`), away from the sequence's ends.
    """
    rng = np.random.default_rng()            # a private stream: the learner's is not touched
    cases = list(_FRACTION_CASES)
    for _ in range(3):
        k1 = int(rng.integers(1, 6))
        k2 = k1 + int(rng.integers(0, 5))
        cases.append((k1, k2, int(rng.integers(0, k2 + 2))))
    answers = {case: _as_fraction(fraction_reached(*case), "fraction_reached(k1={}, k2={}, "
                                  "d={})".format(*case)) for case in cases}
    measure_rng = np.random.default_rng(11)
    for (k1, k2, d), got in answers.items():
        what = f"fraction_reached(k1={k1}, k2={k2}, d={d})"
        measured = _measured_fraction(k1, k2, d, measure_rng)
        if abs(got - measured) < 1e-9:
            continue
        if not 0.0 <= got <= 1.0:
            raise CheckFailed(f"{what} = {got:.4g}, but a fraction lies in [0, 1]: clip it "
                              "(no loss reaches lags >= k2; every loss reaches small lags)")
        for hint, mistake in _FRACTION_MISTAKES:      # the mistake that explains every answer
            if all(abs(value - mistake(*case)) < 1e-9 for case, value in answers.items()):
                raise CheckFailed(f"{what} = {got:.4g}, autograd measured {measured:.4g}. "
                                  f"Hint: {hint}")
        raise CheckFailed(f"{what} = {got:.4g}, autograd measured {measured:.4g} (the losses "
                          "of one update are those of its last k1 steps; each reaches back to "
                          "the update's first input, k2 steps before the update)")


# --------------------------------------------------------------------------------------------
# Exercise 3.4: how biased is the truncated gradient? (an experiment)
# --------------------------------------------------------------------------------------------

BIAS_RADII: tuple[float, float] = (0.5, 1.5)
"""Spectral radii of W_hh in the two problems of exercise 3.4."""


def _bias_problem(radius: float, seed: int = 0) -> tuple[dict, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    params = bptt.init_params(3, 16, 2, rng)
    w = rng.normal(size=(16, 16))
    params["W_hh"] = w * (radius / np.max(np.abs(np.linalg.eigvals(w))))
    return params, rng.normal(size=(40, 8, 3)), rng.normal(size=(40, 8, 2))


BIAS_PROBLEMS: dict[float, tuple[dict, np.ndarray, np.ndarray]] = {
    r: _bias_problem(r) for r in BIAS_RADII}
"""``{radius: (params, x, target)}``: 40 steps, batch 8, 16 hidden units, MSE targets."""


def _cosine_reference(params: dict, x: np.ndarray, target: np.ndarray, k: int) -> float:
    _, full = bptt.loss_and_grads(params, x, target)
    _, truncated = bptt.truncated_bptt_grads(params, x, target, k)
    a, b = full["W_hh"].ravel(), truncated["W_hh"].ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _cosine_mistakes(params: dict, x: np.ndarray, target: np.ndarray, k: int
                     ) -> list[tuple[str, float]]:
    _, full = bptt.loss_and_grads(params, x, target)
    _, truncated = bptt.truncated_bptt_grads(params, x, target, k)
    a = np.concatenate([full[n].ravel() for n in bptt.PARAM_NAMES])
    b = np.concatenate([truncated[n].ravel() for n in bptt.PARAM_NAMES])
    reference = _cosine_reference(params, x, target, k)
    return [("the cosine of W_hh's gradients only; all parameters together also count the "
             "output layer, whose gradient truncation does not change",
             float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))),
            ("that is 1 - cosine; return the cosine itself", 1.0 - reference),
            ("the ratio of the norms measures length, not direction: use the cosine",
             float(np.linalg.norm(truncated["W_hh"]) / np.linalg.norm(full["W_hh"])))]


def _smallest_k(params: dict, x: np.ndarray, target: np.ndarray, level: float = 0.99) -> int:
    for k in range(1, x.shape[0] + 1):
        if _cosine_reference(params, x, target, k) >= level:
            return k
    return x.shape[0]


@self_check("Exercise 3.4 (★★): how long must the truncation be?")
def check_truncation_bias(gradient_cosine: Callable[..., Any], smallest_k: Any) -> None:
    """``gradient_cosine(params, x, target, k)`` and ``smallest_k = {radius: k}``.

    The function is compared with the reference on random problems (a private generator);
    ``smallest_k[r]`` must be the smallest ``k`` whose cosine is at least 0.99 on
    ``BIAS_PROBLEMS[r]``.
    """
    rng = np.random.default_rng()
    for _ in range(3):
        params, x, target = _bias_problem(float(rng.uniform(0.3, 1.8)),
                                          seed=int(rng.integers(1_000_000)))
        k = int(rng.integers(1, 20))
        what = f"gradient_cosine(params, x, target, k={k})"
        got = _as_fraction(gradient_cosine(params, x, target, k), what)
        want = _cosine_reference(params, x, target, k)
        if abs(got - want) < 1e-8:
            continue
        for hint, value in _cosine_mistakes(params, x, target, k):
            if abs(got - value) < 1e-8:
                raise CheckFailed(f"{what} = {got:.6f}, expected {want:.6f}. Hint: {hint}")
        raise CheckFailed(f"{what} = {got:.6f}, expected {want:.6f}: the cosine between the "
                          "full-BPTT and the truncated (k1 = k2 = k) gradients of W_hh")
    expect(isinstance(smallest_k, dict) and set(smallest_k) == set(BIAS_RADII),
           f"smallest_k should be a dict with the keys {list(BIAS_RADII)}, got {smallest_k!r}")
    for radius in BIAS_RADII:
        want = _smallest_k(*_bias_problem(radius))
        got = smallest_k[radius]
        expect(isinstance(got, (int, np.integer)) and not isinstance(got, bool),
               f"smallest_k[{radius}] should be an int, got {type(got).__name__}")
        if got != want:
            cos_got = (_cosine_reference(*_bias_problem(radius), int(got))
                       if 1 <= got <= 40 else float("nan"))
            hint = (" (the cosine is not monotone in k: look for the first k that reaches "
                    "0.99, scanning from k = 1)" if cos_got >= 0.99 else
                    f" (at k = {got} the cosine is only {cos_got:.3f})")
            raise CheckFailed(f"smallest_k[{radius}] = {got}, but the smallest k with "
                              f"cosine >= 0.99 is different{hint}")
