"""Self-checks for chapter 8 (language models and text generation)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from ..selfcheck import (
    CheckFailed,
    expect,
    expect_answered,
    expect_close,
    expect_number,
    self_check,
)

__all__ = ["check_bits_and_perplexity", "check_sampler", "check_repetition",
           "check_kn_bigram"]




# --------------------------------------------------------------------------- 8.1


@self_check("Exercise 8.1 (★): bits per character and perplexity")
def check_bits_and_perplexity(bpc_and_perplexity: Callable[[np.ndarray], tuple]) -> None:
    """``bpc_and_perplexity(p)``: ``p`` holds the probabilities a model gave to each actual
    next character of a text; return ``(bits per character, perplexity)``."""
    rng = np.random.default_rng()
    for n in (int(rng.integers(5, 12)), int(rng.integers(50, 200))):
        p = rng.uniform(0.01, 0.99, size=n)
        got = bpc_and_perplexity(p.copy())
        expect(isinstance(got, (tuple, list)) and len(got) == 2,
               f"bpc_and_perplexity should return a pair (bpc, perplexity), got {got!r:.60}")
        bpc, ppl = expect_number(got[0], "bpc"), expect_number(got[1], "perplexity")
        want = -np.mean(np.log2(p))
        if math.isclose(bpc, -np.mean(np.log(p)), rel_tol=1e-6):
            raise CheckFailed("your bpc is in nats: use log base 2 for bits")
        if math.isclose(bpc, -np.sum(np.log2(p)), rel_tol=1e-6):
            raise CheckFailed("your bpc is the total number of bits: divide by the number of "
                              "characters (a mean, not a sum)")
        if math.isclose(bpc, -want, rel_tol=1e-6):
            raise CheckFailed("your bpc is negative: it is minus the mean log2 probability")
        expect(math.isclose(bpc, want, rel_tol=1e-6),
               f"bpc should be {want:.6f} for these {n} probabilities, got {bpc:.6f}")
        if math.isclose(ppl, math.e ** want, rel_tol=1e-6):
            raise CheckFailed("perplexity = 2 ** bpc when bpc is in bits (e ** cross-entropy "
                              "only for nats)")
        if math.isclose(ppl, 1 / np.mean(p), rel_tol=1e-6):
            raise CheckFailed("perplexity is the inverse *geometric* mean of the probabilities, "
                              "not 1 / (arithmetic mean)")
        expect(math.isclose(ppl, 2 ** want, rel_tol=1e-6),
               f"perplexity should be {2 ** want:.6f}, got {ppl:.6f}")


# --------------------------------------------------------------------------- 8.2


def _reference_probs(logits: torch.Tensor, temperature: float, k: int | None) -> np.ndarray:
    probs = torch.softmax(logits.double() / temperature, -1)
    if k is not None:
        keep = torch.topk(probs, k).indices
        mask = torch.zeros_like(probs)
        mask[keep] = 1
        probs = probs * mask / (probs * mask).sum()
    return probs.numpy()


@self_check("Exercise 8.2 (★★): temperature and top-k sampling", time_limit=60)
def check_sampler(sample_next: Callable[..., int], draws: int = 3000) -> None:
    """``sample_next(logits, temperature, top_k, generator)`` must return one index drawn from
    ``softmax(logits / temperature)`` restricted to the ``top_k`` largest (renormalised; all
    when ``top_k`` is None), using only ``generator``. Checked distributionally: ``draws``
    samples per case against the exact probabilities, on random logits."""
    rng = np.random.default_rng()
    cases = [(1.0, None), (0.5, None), (2.0, None), (1.0, 3), (0.7, 4)]
    logits = _separating_logits(rng, cases, draws)
    V = len(logits)
    seed = int(rng.integers(2**31))
    for temperature, k in cases:
        gen = torch.Generator().manual_seed(seed)
        counts = np.zeros(V)
        for _ in range(draws):
            i = sample_next(logits.clone(), temperature, k, gen)
            if isinstance(i, torch.Tensor) and i.numel() == 1:
                i = i.item()
            expect(isinstance(i, (int, np.integer)) and 0 <= int(i) < V,
                   f"sample_next should return an int index in [0, {V}), got {i!r:.40}")
            counts[int(i)] += 1
        freq = counts / draws
        want = _reference_probs(logits, temperature, k)
        what = f"temperature={temperature}, top_k={k}"
        if k is not None:
            outside = freq[want == 0].sum()
            expect(outside == 0, f"with {what}, {outside:.1%} of the draws fell outside the "
                                 f"{k} most likely indices: keep only the top {k}")
        if np.allclose(freq, np.eye(V)[int(torch.argmax(logits))]):
            raise CheckFailed(f"with {what}, every draw was the most likely index: that is "
                              "greedy decoding, not sampling")
        if _near(freq, want, draws):
            continue
        wrong = {"softmax(logits) with the temperature ignored (dividing the probabilities by "
                 "it changes nothing once they are renormalised: divide the logits)":
                 _reference_probs(logits, 1.0, k),
                 "softmax(logits * temperature) (divide, do not multiply)":
                 _reference_probs(logits, 1 / temperature, k),
                 "top-k applied with k - 1 or k + 1 (keep exactly k)":
                 _reference_probs(logits, temperature, k - 1) if k and k > 1 else None}
        for mistake, probs in wrong.items():
            if probs is not None and _near(freq, probs, draws):
                raise CheckFailed(f"with {what}, your draws follow {mistake}")
        raise CheckFailed(f"with {what}, the draw frequencies {np.round(freq, 3).tolist()} are "
                          f"far from the exact probabilities {np.round(want, 3).tolist()}")
    gen_a, gen_b = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
    torch.manual_seed(seed + 1)
    a = [int(sample_next(logits.clone(), 1.0, None, gen_a)) for _ in range(30)]
    torch.manual_seed(seed + 2)
    b = [int(sample_next(logits.clone(), 1.0, None, gen_b)) for _ in range(30)]
    expect(a == b, "two generators with the same seed gave different draws: draw with "
                   "torch.multinomial(..., generator=generator), not from the global RNG")


def _tolerance(probs: np.ndarray, draws: int) -> np.ndarray:
    return 4 * np.sqrt(probs * (1 - probs) / draws) + 0.01


def _near(freq: np.ndarray, probs: np.ndarray, draws: int) -> bool:
    """Whether observed frequencies are within 4 standard errors (+ 0.01) of ``probs``."""
    return bool(np.all(np.abs(freq - probs) <= _tolerance(probs, draws)))


def _separating_logits(rng: np.random.Generator, cases: list[tuple[float, int | None]],
                       draws: int, tries: int = 2000) -> torch.Tensor:
    """Random logits on which, in every case, the right distribution and each mistake's
    (temperature ignored, multiplied, k - 1) differ by more than both tolerances at some index,
    so ``draws`` samples from one are never :func:`_near` another. About 1 draw in 25 qualifies
    at 2,000 draws; with very few draws none may, and the best-separated one is used."""
    def margin(logits: torch.Tensor) -> float:
        worst = np.inf
        for temperature, k in cases:
            params = {(temperature, k), (1.0, k), (1 / temperature, k)}
            if k is not None and k > 1:
                params.add((temperature, k - 1))
            probs = [_reference_probs(logits, t, kk) for t, kk in params]
            for i, a in enumerate(probs):
                for b in probs[i + 1:]:
                    gap = np.abs(a - b) - _tolerance(a, draws) - _tolerance(b, draws)
                    worst = min(worst, float(gap.max()))
        return worst

    best, best_margin = None, -np.inf
    for _ in range(tries):
        logits = torch.as_tensor(rng.normal(0, 1.5, size=int(rng.integers(6, 10))))
        m = margin(logits)
        if m > 0:
            return logits
        if m > best_margin:
            best, best_margin = logits, m
    return best


# --------------------------------------------------------------------------- 8.3


def _repetition(train: str, held_out: str, n: int) -> float:
    grams = {train[i:i + n] for i in range(len(train) - n + 1)}
    text = train[-n:] + held_out                   # each held-out char has n chars before it
    return float(np.mean([text[j - n:j] in grams for j in range(n, len(text))]))


def _variants(train: str, held_out: str, n: int) -> dict[str, float]:
    grams = {train[i:i + n] for i in range(len(train) - n + 1)}
    grams1 = {train[i:i + n + 1] for i in range(len(train) - n)}
    text = train[-n:] + held_out
    return {
        "you included the predicted character (test the n characters *before* it)":
            float(np.mean([text[j - n:j + 1] in grams1 for j in range(n, len(text))])),
        "you looked the strings up in the held-out text itself, not in the training text":
            float(np.mean([held_out[j - n:j] in {held_out[i:i + n]
                                                 for i in range(len(held_out) - n + 1)}
                           for j in range(n, len(held_out))])),
        "you skipped the first n held-out characters (their context starts in the training "
        "text)": float(np.mean([held_out[j - n:j] in grams for j in range(n, len(held_out))])),
    }


@self_check("Exercise 8.3 (★★): measure the repetition statistic")
def check_repetition(repetition_fraction: Callable[[str, str, int], float],
                     measured: object = None) -> None:
    """``repetition_fraction(train, held_out, n)``: the fraction of held-out characters whose
    ``n`` preceding characters (reaching back into ``train`` for the first ones) occur
    somewhere in ``train``. ``measured``: your value for ``n = 20`` on the chapter's test
    split (``text.split_stream(text.pydoc_corpus())``)."""
    rng = np.random.default_rng()
    alphabet = list("abcde")
    for _ in range(3):
        n = int(rng.integers(2, 5))
        train = "".join(rng.choice(alphabet, size=int(rng.integers(60, 120))))
        piece = int(rng.integers(0, len(train) - 20))
        held_out = "".join(rng.choice(alphabet, size=15)) + train[piece:piece + 20] \
            + "".join(rng.choice(alphabet, size=10))
        want = _repetition(train, held_out, n)
        got = expect_number(repetition_fraction(train, held_out, n), "repetition_fraction")
        if math.isclose(got, want, abs_tol=1e-9):
            continue
        if math.isclose(got, 100 * want, abs_tol=1e-6):
            raise CheckFailed("give a fraction in [0, 1], not a percentage")
        for mistake, value in _variants(train, held_out, n).items():
            if math.isclose(got, value, abs_tol=1e-9):
                raise CheckFailed(f"repetition_fraction(n={n}) = {got:.4f}, expected "
                                  f"{want:.4f}: {mistake}")
        raise CheckFailed(f"repetition_fraction(train, held_out, n={n}) should be {want:.4f} "
                          f"for train={train!r:.30}..., got {got:.4f}")
    expect_answered(measured is not None,
                    "the function is right; now set `measured` to its value for n = 20 on the "
                    "chapter's test split")
    from .. import text

    train, _, test = text.split_stream(text.pydoc_corpus())
    want = _repetition(train, test, 20)
    value = expect_number(measured, "measured")
    expect(math.isclose(value, want, abs_tol=1e-6),
           f"measured = {value:.4f}, but on the chapter's test split the fraction for n = 20 is "
           "different: use train and test of text.split_stream(text.pydoc_corpus())")


# --------------------------------------------------------------------------- 8.4


def _kn_bigram(counts: np.ndarray, d: float) -> np.ndarray:
    continuation = (counts > 0).sum(0).astype(float)                  # distinct predecessors
    p_cont = continuation / continuation.sum()
    return _with_lower(counts, d, p_cont)


@self_check("Exercise 8.4 (★★★): an interpolated Kneser–Ney bigram")
def check_kn_bigram(kn_bigram: Callable[[np.ndarray, float], np.ndarray]) -> None:
    """``kn_bigram(counts, d)``: ``counts[h, w]`` is how often character ``w`` followed ``h``;
    return ``P`` with ``P[h, w] = max(c(hw) - d, 0) / c(h) + γ(h) p_cont(w)``,
    ``γ(h) = d · #{w: c(hw) > 0} / c(h)``, ``p_cont(w)`` proportional to the number of distinct
    ``h`` with ``c(hw) > 0``; a row with ``c(h) = 0`` is ``p_cont``. Random count matrices."""
    rng = np.random.default_rng()
    for _ in range(3):
        V = int(rng.integers(4, 8))
        counts = rng.integers(0, 5, size=(V, V)) * (rng.random((V, V)) < 0.6)
        counts[int(rng.integers(V))] = 0                                  # an unseen context
        counts[0, 1] = max(counts[0, 1], 1)
        d = float(rng.uniform(0.3, 0.9))
        want = _kn_bigram(counts.astype(float), d)
        got = kn_bigram(counts.copy(), d)
        if isinstance(got, torch.Tensor):
            got = got.detach().numpy()
        got = np.asarray(got, dtype=float)
        expect(got.shape == (V, V), f"kn_bigram should return a ({V}, {V}) array, got shape "
                                    f"{got.shape}")
        if np.allclose(got, want, atol=1e-9):
            continue
        sums = got.sum(1)
        unigram = counts.sum(0) / counts.sum()
        alt = {
            "each row should sum to 1; you left out the back-off mass γ(h) p_cont(w)":
                np.maximum(counts - d, 0) / np.maximum(counts.sum(1, keepdims=True), 1),
            "the lower order is the *continuation* distribution (how many distinct characters "
            "precede w), not the plain character frequency":
                _with_lower(counts.astype(float), d, unigram),
        }
        for mistake, value in alt.items():
            if np.allclose(got[counts.sum(1) > 0], value[counts.sum(1) > 0], atol=1e-9):
                raise CheckFailed(mistake)
        if np.any(got < -1e-12):
            raise CheckFailed("some probabilities are negative: an unseen pair gets "
                              "max(0 - d, 0) = 0 from its own count, never 0 - d")
        if not np.allclose(sums, 1, atol=1e-9):
            raise CheckFailed(f"the rows of your P sum to {np.round(sums, 4).tolist()}; every "
                              "row is a distribution over the next character (a row with "
                              "c(h) = 0 is p_cont)")
        expect_close(got, want, what=f"kn_bigram(counts, d={d:.3f})", atol=1e-9)


def _with_lower(counts: np.ndarray, d: float, lower: np.ndarray) -> np.ndarray:
    total = counts.sum(1, keepdims=True)
    gamma = d * (counts > 0).sum(1, keepdims=True) / np.where(total > 0, total, 1)
    p = np.maximum(counts - d, 0) / np.where(total > 0, total, 1) + gamma * lower[None, :]
    return np.where(total > 0, p, lower[None, :])
