"""Self-checks for chapter 9 (sequence classification)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from ..selfcheck import (
    CheckFailed,
    expect,
    expect_answered,
    expect_close,
    expect_fraction,
    self_check,
)

__all__ = ["check_batch_sizes", "check_masked_mean", "check_last_real_step",
           "check_shuffled_experiment"]


def _random_lengths(rng: np.random.Generator, batch: int, seq_len: int) -> torch.Tensor:
    lengths = rng.integers(1, seq_len + 1, size=batch)
    lengths[int(rng.integers(batch))] = seq_len         # one full sequence ...
    others = [b for b in range(batch) if lengths[b] != seq_len]
    if others:
        lengths[others[0]] = 1                          # ... and one of length 1
    return torch.as_tensor(lengths, dtype=torch.long)


# --------------------------------------------------------------------------- batch_sizes

@self_check("Exercise 9.1 (★): what a packed batch computes")
def check_batch_sizes(batch_sizes: Callable[[Sequence[int]], Sequence[int]]) -> None:
    """``batch_sizes(lengths)`` must return, for a list of sequence lengths, the list that
    ``pack_padded_sequence(...).batch_sizes`` holds: at step ``t`` (from 0), how many sequences
    are still running. Random lengths, a private generator."""
    rng = np.random.default_rng()
    for _ in range(4):
        batch, seq_len = int(rng.integers(3, 9)), int(rng.integers(3, 9))
        lengths = _random_lengths(rng, batch, seq_len)
        x = torch.zeros(batch, seq_len, 1)
        want = pack_padded_sequence(x, lengths, batch_first=True,
                                    enforce_sorted=False).batch_sizes.tolist()
        got = batch_sizes(lengths.tolist())
        if isinstance(got, torch.Tensor):
            got = got.tolist()
        expect(isinstance(got, (list, tuple)),
               f"batch_sizes should return a list of ints, got {type(got).__name__}")
        got = [int(v) for v in got]
        if got == want:
            continue
        what = f"batch_sizes({lengths.tolist()})"
        if got == sorted(lengths.tolist(), reverse=True):
            raise CheckFailed(f"{what} returned the sorted lengths {got}: batch_sizes has one "
                              f"entry per time step (max length {seq_len}), counting the "
                              "sequences that are still running at that step")
        if len(got) == seq_len and got[0] == batch and got[1:] == want[:-1]:
            raise CheckFailed(f"{what} = {got} is shifted by one step: at step t (from 0) "
                              "sequence b is running if t < lengths[b], i.e. lengths[b] > t")
        if len(got) == len(lengths) or len(got) != len(want):
            raise CheckFailed(f"{what} should have {len(want)} entries (one per time step up "
                              f"to the longest sequence), got {len(got)}: {got}")
        raise CheckFailed(f"{what} should be {want}, got {got}. Hint: count, for each step "
                          "t, the sequences with lengths[b] > t")


# --------------------------------------------------------------------------- masked mean

def _padded_output(rng: np.random.Generator, gen: torch.Generator
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    batch, seq_len, hidden = int(rng.integers(3, 7)), int(rng.integers(4, 9)), \
        int(rng.integers(2, 6))
    lengths = _random_lengths(rng, batch, seq_len)
    # padded steps hold large non-zero values, as an unpacked recurrence leaves there
    output = torch.randn(batch, seq_len, hidden, generator=gen, dtype=torch.float64)
    output = output + 10.0 * (torch.arange(seq_len)[None, :, None] >= lengths[:, None, None])
    return output, lengths


@self_check("Exercise 9.2 (★): a mean over time that ignores padding")
def check_masked_mean(masked_mean: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
                      ) -> None:
    """``masked_mean(output, lengths)``: ``output`` ``(batch, seq_len, H)``, ``lengths`` a
    ``(batch,)`` long tensor; must return ``(batch, H)``, the mean over the first
    ``lengths[b]`` steps of each sequence, whatever the padded steps hold."""
    rng = np.random.default_rng()
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    for _ in range(3):
        output, lengths = _padded_output(rng, gen)
        seq_len = output.shape[1]
        want = torch.stack([output[b, :n].mean(0) for b, n in enumerate(lengths.tolist())])
        original = output.clone()
        with torch.no_grad():
            got = masked_mean(output, lengths.clone())
        expect(isinstance(got, torch.Tensor),
               f"masked_mean should return a tensor, got {type(got).__name__}")
        expect(torch.equal(output, original),
               "masked_mean changed its input `output` in place: compute a new tensor")
        what = f"masked_mean for lengths {lengths.tolist()}"
        expect(tuple(got.shape) == tuple(want.shape),
               f"{what} should have shape {tuple(want.shape)} (batch, H), got "
               f"{tuple(got.shape)}")
        got = got.double()
        if torch.allclose(got, want, atol=1e-6):
            continue
        mask = (torch.arange(seq_len)[None, :] < lengths[:, None]).double()[..., None]
        if torch.allclose(got, output.mean(1), atol=1e-6):
            raise CheckFailed(f"{what} is output.mean(dim=1): it averages the padded steps "
                              "too. Multiply by a mask of the real steps first")
        if torch.allclose(got, (output * mask).sum(1) / seq_len, atol=1e-6):
            raise CheckFailed(f"{what} divides the masked sum by seq_len={seq_len}; divide "
                              "each sequence's sum by its own length")
        wide = (torch.arange(seq_len)[None, :] <= lengths[:, None]).double()[..., None]
        if torch.allclose(got, (output * wide).sum(1) / lengths[:, None], atol=1e-6):
            raise CheckFailed(f"{what}: the mask includes step lengths[b] (t <= lengths[b]); "
                              "with steps counted from 0, the real ones are t < lengths[b]")
        expect_close(got, want, what=what, atol=1e-6,
                     hint="sum output * mask over time, divide by lengths")


# --------------------------------------------------------------------------- last step

@self_check("Exercise 9.3 (★★): the last real step of each sequence")
def check_last_real_step(last_real_step: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
                         ) -> None:
    """``last_real_step(output, lengths)`` must return ``(batch, H)`` with row ``b`` equal to
    ``output[b, lengths[b] - 1]``, without a Python loop over the batch being required."""
    rng = np.random.default_rng()
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    for _ in range(3):
        output, lengths = _padded_output(rng, gen)
        batch = output.shape[0]
        want = output[torch.arange(batch), lengths - 1]
        with torch.no_grad():
            got = last_real_step(output, lengths.clone())
        expect(isinstance(got, torch.Tensor),
               f"last_real_step should return a tensor, got {type(got).__name__}")
        what = f"last_real_step for lengths {lengths.tolist()}"
        if tuple(got.shape) == (batch, batch, output.shape[2]):
            raise CheckFailed(f"{what} has shape {tuple(got.shape)}: output[:, lengths - 1] "
                              "picks every listed step for every sequence. Pair row b with "
                              "its own step: output[torch.arange(batch), lengths - 1], or "
                              "gather")
        expect(tuple(got.shape) == tuple(want.shape),
               f"{what} should have shape {tuple(want.shape)} (batch, H), got "
               f"{tuple(got.shape)}")
        got = got.double()
        if torch.allclose(got, want):
            continue
        if torch.allclose(got, output[:, -1]):
            raise CheckFailed(f"{what} is output[:, -1], the padded last step: for every "
                              "sequence shorter than seq_len it reads padding. That is the "
                              "bug of §9.3")
        shifted = output[torch.arange(batch), lengths.clamp(max=output.shape[1] - 1)]
        if torch.allclose(got, shifted):
            raise CheckFailed(f"{what} reads step lengths[b]: steps are counted from 0, so "
                              "the last real one is lengths[b] - 1")
        expect_close(got, want, what=what, hint="row b is output[b, lengths[b] - 1]")


# --------------------------------------------------------------------------- experiment



@self_check("Exercise 9.4 (★★★): what word order buys")
def check_shuffled_experiment(acc_negated: object, acc_contrast: object) -> None:
    """The held-out accuracies, on negated and on contrast reviews (words shuffled), of the
    GRU trained on reviews whose words were shuffled. Expected: negation still learned (a
    GRU can learn a non-linear function of the *set* of words), contrast at chance (a contrast
    review and its clause swap have the same words and opposite labels)."""
    expect_answered(acc_negated is not None and acc_contrast is not None,
                    "set acc_negated and acc_contrast to the accuracies you measured")
    negated = expect_fraction(acc_negated, "acc_negated")
    contrast = expect_fraction(acc_contrast, "acc_contrast")
    if contrast > 0.8:
        raise CheckFailed(f"acc_contrast = {contrast:.3f} is what a model that reads the word "
                          "order gets: did you shuffle the words of the training reviews "
                          "(and of the test reviews)?")
    expect(0.3 <= contrast <= 0.7,
           f"acc_contrast = {contrast:.3f}: on shuffled words a contrast review and its "
           "clause swap are the same input with opposite labels, so expect about 1/2. Did you "
           "measure on the contrast reviews of the held-out split only?")
    expect(negated >= 0.7,
           f"acc_negated = {negated:.3f}: a GRU sees the whole set of words, so 'not' together "
           "with 'good' is learnable even in shuffled order (a bag-of-words logistic "
           "regression cannot: it is linear). Train as the task says (300 steps, lr 1e-2) and "
           "measure on the negated reviews only")
