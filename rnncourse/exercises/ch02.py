"""Self-checks for chapter 2, "The mathematics of the forward pass".

- :func:`check_param_count` (★) — predict parameter counts of ``nn.RNN`` by hand
- :func:`check_softmax_cross_entropy` (★★) — a stable softmax and cross-entropy in NumPy
- :func:`check_half_life_radius` (★★) — derive the spectral radius of a k-step memory half-life
- :func:`check_fixed_point` (★★) — the fixed points of ``h = tanh(ρ h)`` and their stability
- :func:`check_edge_of_chaos` (★★★) — measure where a driven tanh RNN becomes chaotic
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..forward import lyapunov_exponent, matrix_with_spectral_radius
from ..selfcheck import CheckFailed, expect, expect_close, self_check

__all__ = ["check_param_count", "check_softmax_cross_entropy", "check_half_life_radius",
           "check_fixed_point", "check_edge_of_chaos"]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


# --- Exercise 2.1 (★): predict parameter counts ---------------------------------------------

# The configuration of the exercise: nn.RNN(50, 128, num_layers=2), then bidirectional=True.
_INPUT, _HIDDEN, _LAYERS = 50, 128, 2


def _count(input_size: int = _INPUT, hidden_size: int = _HIDDEN, num_layers: int = _LAYERS,
           bias: int = 2, directions: int = 1, upper_in: int | None = None) -> int:
    """Parameter counts, right (defaults) or with a typical mistake, to name it."""
    upper_in = directions * hidden_size if upper_in is None else upper_in
    total = 0
    for k in range(num_layers):
        layer_in = input_size if k == 0 else upper_in
        total += directions * (hidden_size * (layer_in + hidden_size) + bias * hidden_size)
    return total


def _torch_count(bidirectional: bool) -> int:
    rnn = torch.nn.RNN(_INPUT, _HIDDEN, _LAYERS, bidirectional=bidirectional, device="meta")
    return sum(p.numel() for p in rnn.parameters())  # "meta": shapes only, no RNG used


@self_check("Exercise 2.1 (★): predict parameter counts")
def check_param_count(predict_counts: Callable[[], Any]) -> None:
    """``predict_counts() -> (unidirectional, bidirectional, redundant)``, three ints.

    For ``nn.RNN(50, 128, num_layers=2)``: its number of parameters, the number with
    ``bidirectional=True``, and how many of the unidirectional one's parameters are redundant
    (could be removed without changing any function the network can compute).
    """
    answer = predict_counts()
    expect(isinstance(answer, (tuple, list)) and len(answer) == 3,
           f"predict_counts() should return three ints (unidirectional, bidirectional, "
           f"redundant), got {answer!r}")
    uni, bi, redundant = answer
    for name, value in (("unidirectional", uni), ("bidirectional", bi), ("redundant", redundant)):
        expect(_is_int(value), f"{name} should be an int, got {type(value).__name__} ({value!r})")
    want_uni, want_bi = _torch_count(False), _torch_count(True)
    assert want_uni == _count() and want_bi == _count(directions=2)
    uni_mistakes = {
        _count(bias=1): "PyTorch has two bias vectors per layer, b_ih and b_hh",
        _count(bias=0): "bias=True by default: count b_ih and b_hh of every layer",
        _count(upper_in=_INPUT): "the second layer reads the 128 states of the first layer, "
                                 "not the 50 input features",
        _count(num_layers=1): "num_layers=2: count both layers",
    }
    expect(uni == want_uni, f"nn.RNN(50, 128, num_layers=2) does not have {uni} parameters. "
           f"Hint: {uni_mistakes.get(uni, 'each layer has W_ih, W_hh, b_ih and b_hh')}")
    bi_mistakes = {
        _count(directions=2, upper_in=_HIDDEN): "the second layer of a bidirectional RNN reads "
                                                 "both directions of the first: 2H = 256 features",
        want_uni: "bidirectional=True doubles every layer (one copy reads the sequence backwards)",
        _count(directions=2, bias=1): "each direction of each layer has two bias vectors",
    }
    expect(bi == want_bi, f"the bidirectional RNN does not have {bi} parameters. "
           f"Hint: {bi_mistakes.get(bi, 'two directions per layer; upper layers read 2H')}")
    redundant_mistakes = {
        2 * _LAYERS * _HIDDEN: "only the sum b_ih + b_hh matters, so one of the two vectors of "
                               "each layer is redundant, not both",
        _HIDDEN: "every layer has its own pair of bias vectors: one redundant vector per layer",
        0: "every layer's b_ih + b_hh could be stored as one vector",
    }
    hint = redundant_mistakes.get(redundant, "which parameters change nothing the layer computes?")
    expect(redundant == _LAYERS * _HIDDEN,
           f"{redundant} redundant parameters is not right. Hint: {hint}")


# --- Exercise 2.2 (★★): a stable softmax and cross-entropy -----------------------------------

@self_check("Exercise 2.2 (★★): stable softmax and cross-entropy")
def check_softmax_cross_entropy(softmax_fn: Callable[..., Any],
                                cross_entropy_fn: Callable[..., Any]) -> None:
    """``softmax_fn(z)`` over the last axis; ``cross_entropy_fn(logits, targets)`` (a mean)."""
    rng = np.random.default_rng(3)
    z = rng.standard_normal((6, 4)) * 3
    expect_close(softmax_fn(z.copy()), torch.softmax(torch.from_numpy(z), dim=-1),
                 what="softmax_fn(z) for z of shape (6, 4)", atol=1e-12,
                 hint="softmax along the last axis: exp(z) / exp(z).sum(-1, keepdims=True)")
    big = z * 1000.0  # exp(3000) overflows a float64
    expect_close(softmax_fn(big.copy()), torch.softmax(torch.from_numpy(big), dim=-1),
                 what="softmax_fn(z) for large logits (|z| up to ~1e4)", atol=1e-12,
                 hint="subtract the row maximum before exp: softmax(z) = softmax(z - max z)")
    targets = rng.integers(0, 4, size=6)
    want = F.cross_entropy(torch.from_numpy(z), torch.from_numpy(targets)).item()
    got = cross_entropy_fn(z.copy(), targets.copy())
    probs_ce = F.cross_entropy(torch.softmax(torch.from_numpy(z), -1),
                               torch.from_numpy(targets)).item()
    hint = "the mean over the batch of -log softmax(logits)[i, targets[i]]"
    if np.isclose(float(np.asarray(got)), probs_ce):
        hint = "cross_entropy_fn takes logits: apply softmax inside it, once"
    expect_close(np.asarray(got, dtype=np.float64).reshape(()), want,
                 what="cross_entropy_fn(logits, targets)", atol=1e-10, hint=hint)
    want_big = F.cross_entropy(torch.from_numpy(big), torch.from_numpy(targets)).item()
    expect_close(np.asarray(cross_entropy_fn(big.copy(), targets.copy()),
                            dtype=np.float64).reshape(()), want_big,
                 what="cross_entropy_fn for large logits", atol=1e-8, rtol=1e-10,
                 hint="use log-softmax = z - max z - log(sum(exp(z - max z))), never log(softmax)")


# --- Exercise 2.3 (★★): the radius of a k-step half-life -------------------------------------

_HALF_LIFE_MISTAKES: list[tuple[Callable[[int], float], str]] = [
    (lambda k: 1 - 1 / k, "1 - 1/k is only the first-order approximation of 0.5**(1/k): the "
                          "difference shrinks by rho at EVERY step, so rho**k = 0.5"),
    (lambda k: 1 / k, "1/k is not a decay factor per step: solve rho**k = 0.5"),
    (lambda k: 0.5 / k, "0.5/k spreads the halving over k steps additively; the decay is "
                        "multiplicative: rho**k = 0.5"),
    (lambda k: 0.5 ** k, "0.5**k halves at every step; the distance must halve once in k steps"),
    (lambda k: np.exp(-1 / k), "exp(-1/k) divides the distance by e in k steps (a time constant), "
                               "not by 2 (a half-life)"),
    (lambda k: 2 ** (1 / k), "2**(1/k) > 1 doubles the distance; a half-life needs rho < 1"),
    (lambda k: 0.5 ** (1 / (k + 1)), "off by one step: after k steps the distance is rho**k "
                                     "times the initial one"),
]


@self_check("Exercise 2.3 (★★): the spectral radius of a k-step half-life")
def check_half_life_radius(radius_for_half_life: Callable[[int], Any]) -> None:
    """``radius_for_half_life(k) -> rho`` with ``rho**k = 1/2``, checked on random ``k``."""
    rng = np.random.default_rng()  # a fresh generator: random cases, the learner's RNG untouched
    cases = [20, 1, *(int(k) for k in rng.integers(2, 500, size=4))]
    for k in cases:
        got = radius_for_half_life(k)
        expect(_is_number(got), f"radius_for_half_life({k}) should return a number, got "
                                f"{type(got).__name__} ({got!r})")
        want = 0.5 ** (1 / k)
        if abs(float(got) - want) > 1e-9:
            hint = next((text for wrong, text in _HALF_LIFE_MISTAKES
                         if abs(float(got) - wrong(k)) < 1e-9),
                        "after k steps the distance is rho**k times what it was: set it to 1/2")
            raise CheckFailed(f"radius_for_half_life({k}) = {float(got):.6g}, expected "
                              f"{want:.6g}. Hint: {hint}")


# --- Exercise 2.4 (★★): fixed points of h = tanh(rho h) ---------------------------------------

def _fixed_point(rho: float) -> float:
    """The largest root h >= 0 of h = tanh(rho h), by bisection (0 when rho <= 1)."""
    if rho <= 1:
        return 0.0
    lo, hi = 1e-12, 1.0                      # tanh(rho h) - h is > 0 at lo, < 0 at hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if np.tanh(rho * mid) > mid else (lo, mid)
    return 0.5 * (lo + hi)


@self_check("Exercise 2.4 (★★): fixed points of h = tanh(ρ h)")
def check_fixed_point(fixed_point: Callable[[float], Any]) -> None:
    """``fixed_point(rho) -> (h_star, slope)``: the largest fixed point ``h* >= 0``, ``f'(h*)``."""
    rng = np.random.default_rng()  # random radii, from a generator of the check's own
    radii = [3.0, 0.5, *(float(r) for r in rng.uniform(1.2, 6.0, size=3)),
             float(rng.uniform(0.1, 0.95))]
    for rho in radii:
        got = fixed_point(rho)
        expect(isinstance(got, (tuple, list)) and len(got) == 2 and all(map(_is_number, got)),
               f"fixed_point({rho:.4g}) should return two numbers (h_star, slope), got {got!r}")
        h, slope = (float(v) for v in got)
        want = _fixed_point(rho)
        if abs(h - want) > 1e-6:
            if rho > 1 and abs(h) < 1e-6:
                hint = (f"0 is a fixed point, but for rho > 1 it is unstable (slope rho = "
                        f"{rho:.3g} > 1); find the other one, h* > 0")
            elif rho <= 1:
                hint = ("for rho <= 1, |tanh(rho h)| < |h| for every h != 0: the only fixed point "
                        "is 0")
            elif abs(h + want) < 1e-6:
                hint = "-h* is a fixed point too (tanh is odd); return the positive one"
            elif abs(h - 1) < 1e-6:
                hint = f"h = 1 is not a fixed point: tanh({rho:.3g}) < 1"
            elif abs(h - np.tanh(rho)) < 1e-6:
                hint = ("tanh(rho) is one step of the map from h = 1, not its fixed point: "
                        "iterate until h stops changing, or solve h = tanh(rho h) by bisection")
            else:
                hint = "solve h = tanh(rho h) for h > 0 numerically (iterate, bisect or Newton)"
            raise CheckFailed(f"fixed_point({rho:.4g}) gives h_star = {h:.6g}, expected "
                              f"{want:.6g}. Hint: {hint}")
        want_slope = rho * (1 - want ** 2)
        if abs(slope - want_slope) > 1e-5:
            hint = "the slope of f(h) = tanh(rho h) is f'(h) = rho (1 - tanh(rho h)^2)"
            if abs(slope - rho) < 1e-6 and rho > 1:
                hint = ("rho is the slope at h = 0 only; at h* the tanh is flatter: multiply by "
                        "1 - h*^2")
            elif abs(slope - (1 - want ** 2)) < 1e-6:
                hint = "you forgot the chain rule's factor rho: f'(h) = rho (1 - tanh(rho h)^2)"
            elif abs(slope - rho * (1 - want)) < 1e-6:
                hint = "tanh'(u) = 1 - tanh(u)^2: square h*"
            raise CheckFailed(f"fixed_point({rho:.4g}) gives slope {slope:.6g}, expected "
                              f"{want_slope:.6g}. Hint: {hint}")


# --- Exercise 2.5 (★★★): the edge of chaos ----------------------------------------------------

_EDGE_SIZE, _EDGE_STEPS, _EDGE_DISCARD = 64, 1000, 100


def _lyapunov_driven(rho: float, amplitude: float, seed: int = 0) -> float:
    q = matrix_with_spectral_radius(_EDGE_SIZE, 1.0, "orthogonal", np.random.default_rng(1 + seed))
    drive = amplitude * np.random.default_rng(2 + seed).standard_normal((_EDGE_STEPS, _EDGE_SIZE))
    return lyapunov_exponent(rho * q, np.zeros(_EDGE_SIZE), _EDGE_STEPS, "tanh", drive,
                             discard=_EDGE_DISCARD)


@functools.lru_cache(maxsize=16)
def _edge_reference(amplitude: float) -> float:
    """The spectral radius at which the driven network's Lyapunov exponent crosses 0."""
    lo, hi = 0.9, 4.0
    for _ in range(12):                              # bisection to ~1e-3
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if _lyapunov_driven(mid, amplitude) > 0 else (mid, hi)
    return round(0.5 * (lo + hi), 3)


EDGE_TOLERANCE = 0.1
"""How far from the reference an answer of exercise 2.5 may be (seeds move it by ~0.02)."""


@self_check("Exercise 2.5 (★★★): the edge of chaos")
def check_edge_of_chaos(edge_of_chaos: Callable[[float], Any]) -> None:
    """``edge_of_chaos(amplitude) -> rho_c``: where the driven network's λ changes sign."""
    rng = np.random.default_rng()  # one random amplitude, so a hard-coded pair cannot pass
    amplitudes = [0.5, 1.5, round(float(rng.uniform(0.7, 1.3)), 2)]
    got = {}
    for amplitude in amplitudes:
        value = edge_of_chaos(amplitude)
        expect(_is_number(value), f"edge_of_chaos({amplitude}) should return a number (a "
                                  f"spectral radius), got {type(value).__name__} ({value!r})")
        got[amplitude] = float(value)
    weak, strong = got[0.5], got[1.5]
    expect(not (abs(weak - 1) < 0.05 and abs(strong - 1) < 0.05),
           f"edge_of_chaos gives rho_c = {weak:.3g} and {strong:.3g}: rho = 1 is where the "
           f"origin of the *undriven linear* network loses stability. Measure the Lyapunov "
           f"exponent of the driven tanh network instead (forward.lyapunov_exponent with inputs)")
    expect(strong > weak, f"edge_of_chaos(1.5) = {strong:.3g} should be larger than "
                          f"edge_of_chaos(0.5) = {weak:.3g}: a stronger drive pushes more units "
                          f"into the flat part of tanh, so the effective gain is smaller and "
                          f"chaos needs a larger rho. Check the sign convention of your crossing")
    for amplitude, value in got.items():
        want = _edge_reference(amplitude)
        expect(abs(value - want) <= EDGE_TOLERANCE,
               f"edge_of_chaos({amplitude}) = {value:.3f}, but the Lyapunov exponent changes "
               f"sign near rho = {want:.2f} (accepted: ±{EDGE_TOLERANCE}). Hint: measure "
               f"lambda(rho) over at least 1000 steps, discard the first 100, and locate where "
               f"it crosses 0 (bisection between rho = 1 and 4)")
