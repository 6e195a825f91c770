"""Self-checks for chapter 10 (sequence to sequence with attention)."""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import product

import numpy as np
import torch

from ..selfcheck import CheckFailed, expect, expect_answered, expect_close, self_check

__all__ = ["check_masked_attention", "check_beam_step", "check_swap_experiment",
           "check_score_gradient"]


def _generator() -> torch.Generator:
    seed = int(np.random.default_rng().integers(2**31))   # fresh OS entropy, not the learner's RNG
    return torch.Generator().manual_seed(seed)


def _random_mask(gen: torch.Generator, batch: int, src: int) -> torch.Tensor:
    lengths = torch.randint(1, src + 1, (batch,), generator=gen)
    lengths[0] = src                                     # one row without padding
    if batch > 1:
        lengths[1] = 1                                   # one row with a single real position
    return torch.arange(src)[None] < lengths[:, None]


def _as_tensor(value: object, what: str) -> torch.Tensor:
    expect(isinstance(value, torch.Tensor), f"{what} should return a tensor, got "
                                            f"{type(value).__name__}")
    return value  # type: ignore[return-value]


@self_check("Exercise 10.1 (★): masked attention weights")
def check_masked_attention(masked_attention: Callable[[torch.Tensor, torch.Tensor],
                                                      torch.Tensor]) -> None:
    """``masked_attention(scores (B, T, S), mask (B, S))`` → weights ``(B, T, S)``: a softmax
    over the source axis in which positions with ``mask == False`` get exactly zero weight."""
    gen = _generator()
    for _ in range(4):
        B, T, S = (int(v) for v in torch.randint(2, 6, (3,), generator=gen))
        scores = 3 * torch.randn(B, T, S, generator=gen)
        mask = _random_mask(gen, B, S)
        want = torch.softmax(scores.masked_fill(~mask[:, None], float("-inf")), -1)
        got = _as_tensor(masked_attention(scores.clone(), mask.clone()), "masked_attention")
        expect(got.shape == want.shape, f"the weights should have shape {tuple(want.shape)} "
                                        f"(batch, output steps, source positions), got "
                                        f"{tuple(got.shape)}")
        expect(bool(torch.isfinite(got).all()),
               "the weights contain NaN or infinity: a softmax over entries that are all -inf "
               "gives NaN — take it over the source positions (the last axis), where every row "
               "has at least one real position")
        padded = got.masked_select(~mask[:, None].expand_as(got))
        if padded.numel() and padded.abs().max() > 0:
            if torch.allclose(got, torch.softmax(scores, -1), atol=1e-6):
                raise CheckFailed("padded source positions get weight: the mask is not used")
            if torch.allclose(got, torch.softmax(scores * mask[:, None], -1), atol=1e-6):
                raise CheckFailed("setting masked *scores* to 0 is not enough: e^0 = 1 still "
                                  "gives them weight; fill them with -inf before the softmax")
            raise CheckFailed(f"padded positions should get exactly 0 weight, got up to "
                              f"{padded.abs().max().item():.3g}")
        sums = got.sum(-1)
        if not torch.allclose(sums, torch.ones_like(sums), atol=1e-5):
            plain = torch.softmax(scores, -1) * mask[:, None]
            if torch.allclose(got, plain, atol=1e-6):
                raise CheckFailed("multiplying the softmax by the mask zeroes the padding but "
                                  "the weights no longer sum to 1: renormalise, or mask before "
                                  "the softmax")
            raise CheckFailed("each output step's weights should sum to 1 over the source "
                              f"positions (the last axis); sums range from "
                              f"{sums.min().item():.3g} to {sums.max().item():.3g}")
        expect_close(got, want, what="masked_attention(scores, mask)", atol=1e-6,
                     hint="softmax over the last axis (source positions) after filling the "
                          "masked scores with -inf")


def _brute_force_beam(scores: torch.Tensor, log_probs: torch.Tensor, beam: int
                      ) -> list[tuple[float, int, int]]:
    K, V = log_probs.shape
    cands = [(float(scores[k] + log_probs[k, v]), k, v) for k, v in product(range(K), range(V))]
    return sorted(cands, key=lambda c: -c[0])[:beam]


def _beam_case(gen: torch.Generator, K: int, V: int, beam: int
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores (K,) and log-probabilities (K, V) on which each usual mistake gives its own
    answer: the best-scored parent keeps at least two children (so extending each hypothesis
    by its own best token is wrong), and the worst-scored parent has the two likeliest tokens
    of all (so ranking by log p alone keeps two of its children, which the search does not).
    Parents come in a random order; scores are 4 or more apart; no two extensions tie."""
    while True:  # the construction held on 20,000 of 20,000 draws; a tie would be redrawn
        logits = 0.05 * torch.randn(K, V, generator=gen)            # near-uniform rows
        two = torch.randperm(V, generator=gen)[:2]
        logits[K - 1, two] += 4 + 0.2 * torch.rand(2, generator=gen)  # log p ≈ -0.75 each
        scores = -(4 * torch.arange(K) + torch.rand(K, generator=gen))  # best first
        order = torch.randperm(K, generator=gen)
        scores, log_probs = scores[order], torch.log_softmax(logits, -1)[order]
        totals = (scores[:, None] + log_probs).flatten()
        kept = {(k, v) for _, k, v in _brute_force_beam(scores, log_probs, beam)}
        alone = {(int(i) // V, int(i) % V) for i in log_probs.flatten().topk(beam).indices}
        if (len(set(np.round(totals.tolist(), 6))) == K * V and alone != kept
                and len({k for k, _ in kept}) < beam and len({k for k, _ in alone}) < beam):
            return scores, log_probs


@self_check("Exercise 10.2 (★★): one step of beam search")
def check_beam_step(beam_step: Callable[[torch.Tensor, torch.Tensor, int],
                                        tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
                    ) -> None:
    """``beam_step(scores (K,), log_probs (K, V), beam)`` → ``(new scores, parent, token)``,
    each ``(beam,)``, best first, compared with a brute-force search over all K·V extensions."""
    gen = _generator()
    for _ in range(5):
        K, V = int(torch.randint(2, 5, (1,), generator=gen)), int(torch.randint(3, 7, (1,),
                                                                            generator=gen))
        beam = int(torch.randint(2, K * V // 2 + 1, (1,), generator=gen))
        scores, log_probs = _beam_case(gen, K, V, beam)
        oracle = _brute_force_beam(scores, log_probs, beam)
        alone = log_probs.flatten().topk(beam).indices
        alone_pairs = [(int(i) // V, int(i) % V) for i in alone]
        result = beam_step(scores.clone(), log_probs.clone(), beam)
        expect(isinstance(result, (tuple, list)) and len(result) == 3,
               "beam_step should return a tuple (new_scores, parent, token)")
        new, parent, token = (torch.as_tensor(r) for r in result)
        expect(new.shape == (beam,) and parent.shape == (beam,) and token.shape == (beam,),
               f"each of the three results should have shape ({beam},) (one per kept "
               f"hypothesis), got {tuple(new.shape)}, {tuple(parent.shape)}, {tuple(token.shape)}")
        got = [(float(s), int(k), int(v)) for s, k, v in zip(new, parent, token)]
        want_pairs = [(k, v) for _, k, v in oracle]
        got_pairs = [(k, v) for _, k, v in got]
        if got_pairs != want_pairs:
            if sorted(got_pairs) == sorted(want_pairs):
                raise CheckFailed("the right hypotheses, in the wrong order: return them best "
                                  "first")
            if got_pairs == alone_pairs:
                raise CheckFailed("you ranked the extensions by the new token's log-probability "
                                  "alone: add each parent's score (log p of the prefix) first")
            per_hyp = all(v == int(log_probs[k].argmax()) for k, v in got_pairs)
            if per_hyp:
                raise CheckFailed("you extended each hypothesis by its own best token: beam "
                                  "search keeps the best `beam` of *all* K·V extensions, so one "
                                  "hypothesis may have several children and another none")
            flat_wrong = [(k, v) for k, v in got_pairs
                          if not (0 <= k < K and 0 <= v < V)]
            if flat_wrong:
                raise CheckFailed(f"parent must be in 0..{K - 1} and token in 0..{V - 1}; got "
                                  f"{flat_wrong[0]}: split the flat index i into parent "
                                  f"i // V and token i % V (V = vocabulary size, not K)")
            raise CheckFailed(f"kept (parent, token) {got_pairs}, the brute-force search keeps "
                              f"{want_pairs}")
        expect_close(new, torch.tensor([s for s, _, _ in oracle]), what="the new scores",
                     atol=1e-5, hint="a new score is the parent's score plus the token's "
                                     "log-probability (sums of logs, not products of "
                                     "probabilities)")


_SWAP_NUMBERS = (21, 34, 42, 57, 68, 73, 86, 99, 345, 1042)


@self_check("Exercise 10.3 (★★): what chrF and BLEU say about a systematic error")
def check_swap_experiment(em: float | None, chrf: float | None, bleu: float | None) -> None:
    """The learner's measured exact match (fraction), chrF and BLEU (0–100) of the "swapped"
    translations of ``_SWAP_NUMBERS`` (German with tens before units)."""
    expect_answered(None not in (em, chrf, bleu), "set em, chrf and bleu to what you measured")
    from .. import seq2seq

    refs = [seq2seq.number_words(n, "de") for n in _SWAP_NUMBERS]
    swapped = [_swap(r) for r in refs]
    want = seq2seq.corpus_scores(swapped, refs)
    want_em = seq2seq.exact_match(swapped, refs)
    for name, value in (("em", em), ("chrf", chrf), ("bleu", bleu)):
        expect(isinstance(value, (int, float, np.floating)) and not isinstance(value, bool),
               f"{name} should be a number, got {type(value).__name__}")
    expect(0 <= float(em) <= 1, f"em should be a fraction in [0, 1], got {em}")
    expect(abs(float(em) - want_em) < 1e-9,
           f"em should be {want_em:.3g}: every swapped translation differs from its reference")
    if abs(float(chrf) - want["chrF"]) > 0.05:
        if abs(float(chrf) - want["chrF"] / 100) < 1e-3:
            raise CheckFailed("sacrebleu reports chrF on a 0–100 scale: use .score as it is")
        if abs(float(chrf) - want["BLEU"]) < 0.05:
            raise CheckFailed("you swapped chrF and BLEU")
        raise CheckFailed(f"chrF should be about {want['chrF']:.1f}, got {chrf}: score the "
                          "swapped strings against the correct ones with corpus_scores")
    expect(abs(float(bleu) - want["BLEU"]) < 0.05,
           f"BLEU should be about {want['BLEU']:.1f}, got {bleu}")


_UNITS = "ein|zwei|drei|vier|fünf|sechs|sieben|acht|neun"


def _swap(german: str) -> str:
    """The tens before the units in a German number word: "zweiundvierzig" → "vierzigundzwei"."""
    return re.sub(rf"({_UNITS})und(\w*?(?:zig|ßig))", r"\2und\1", german)


@self_check("Exercise 10.4 (★★★): the gradient through masked attention")
def check_score_gradient(score_gradient: Callable[[torch.Tensor, torch.Tensor, torch.Tensor],
                                                  torch.Tensor]) -> None:
    """``score_gradient(weights (B, S), values (B, S, M), g (B, M))`` → ``∂ℓ/∂scores (B, S)``
    for ``ℓ = Σ_b g_b · c_b``, ``c_b = Σ_j weights_bj values_bj``, weights a masked softmax
    (masked positions have weight 0). Compared with autograd."""
    gen = _generator()
    for _ in range(4):
        B, S, M = (int(v) for v in torch.randint(2, 6, (3,), generator=gen))
        scores = torch.randn(B, S, generator=gen, dtype=torch.float64, requires_grad=True)
        mask = _random_mask(gen, B, S)
        values = torch.randn(B, S, M, generator=gen, dtype=torch.float64)
        g = torch.randn(B, M, generator=gen, dtype=torch.float64)
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), -1)
        loss = (g * (weights[..., None] * values).sum(1)).sum()
        want, = torch.autograd.grad(loss, scores)
        got = _as_tensor(score_gradient(weights.detach().clone(), values.clone(), g.clone()),
                         "score_gradient")
        expect(got.shape == want.shape, f"the gradient should have shape {tuple(want.shape)} "
                                        f"(one entry per score), got {tuple(got.shape)}")
        got = got.detach().double()
        w = weights.detach()
        naive = w * (values @ g[..., None])[..., 0]       # forgot the -c term
        if torch.allclose(got, naive, atol=1e-8) and not torch.allclose(naive, want, atol=1e-8):
            raise CheckFailed("you kept only α_j (g·h_j): the softmax couples the weights, "
                              "so subtract α_j (g·c) — the weights' derivative is "
                              "α_j (δ_jk − α_k)")
        if (got * ~mask).abs().max() > 1e-9:
            raise CheckFailed("masked positions must get exactly zero gradient: their weight is "
                              "0 whatever their score")
        expect_close(got, want, what="score_gradient(weights, values, g)", atol=1e-8,
                     hint="∂ℓ/∂s_j = α_j (g·h_j − g·c)")
