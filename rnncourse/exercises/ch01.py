"""Self-checks for the exercises of chapter 1, "Sequences and memory".

- :func:`check_patterns` (★): name the input/output pattern of everyday tasks.
- :func:`check_h2` (★★): compute ``h_2`` of a tiny RNN by hand (problem in :data:`H2_PROBLEM`).
- :func:`check_readout` (★★★): turn ``torch.nn.RNN`` outputs on padded batches into what the
  N:1 and N:N patterns need.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..selfcheck import expect, expect_close, self_check

# Only the checks are exported. PATTERN_TASKS and H2_PROBLEM stay public attributes: they are
# the statements of exercises 1.1 and 1.2 (``ch01.PATTERN_TASKS``), not answers.
__all__ = ["check_patterns", "check_h2", "check_readout"]

# ---------------------------------------------------------------------------------------------
# Exercise 1.1 (★): which pattern?
# ---------------------------------------------------------------------------------------------

_PATTERN_ANSWERS: dict[str, tuple[str, str]] = {
    "classify one photo as cat or dog": (
        "1:1", "one input, one output, and no sequence on either side"),
    "write a caption for a photo": (
        "1:N", "the input is a single image; the output is a sentence, one word per step"),
    "decide whether a film review is positive or negative": (
        "N:1", "the whole review is read, then a single label comes out"),
    "tag every word of a sentence with its part of speech": (
        "N:N", "each word gets its own tag, at the same step as the word"),
    "translate an English sentence into French": (
        "N:M", "the French sentence has its own length and word order, so outputs are not "
               "aligned with inputs"),
    "compose a melody in a chosen style": (
        "1:N", "one input (the style), then a sequence of notes"),
    "predict tomorrow's temperature from the last 30 days": (
        "N:1", "thirty inputs, one number out"),
    "transcribe a voice recording into text": (
        "N:M", "there are far more audio frames than letters, and they do not line up one to one"),
    "flag each card payment as fraud or not, as it arrives": (
        "N:N", "one verdict per payment, given as each payment arrives"),
}

PATTERN_TASKS: list[str] = list(_PATTERN_ANSWERS)
"""The tasks of exercise 1.1, in order; answer with ``{task: pattern}``."""

_VALID = ("1:1", "1:N", "N:1", "N:N", "N:M")


@self_check("Exercise 1.1: input/output patterns")
def check_patterns(answer: dict[str, str]) -> None:
    """``answer`` maps every task of :data:`PATTERN_TASKS` to one of 1:1, 1:N, N:1, N:N, N:M."""
    expect(isinstance(answer, dict), f"answer should be a dict {{task: pattern}}, "
                                     f"got {type(answer).__name__}")
    missing = [task for task in PATTERN_TASKS if task not in answer]
    expect(not missing, f"{len(missing)} task(s) have no answer yet, e.g. {missing[0]!r}"
           if missing else "")
    wrong = []
    for task in PATTERN_TASKS:
        given = str(answer[task]).strip().upper().replace(" ", "")
        expect(given in _VALID, f"the answer for {task!r} is {answer[task]!r}; use one of "
                                f"{', '.join(_VALID)}")
        want, hint = _PATTERN_ANSWERS[task]
        if given != want:
            wrong.append(f"{task!r} is not {given} (hint: {hint})")
    expect(not wrong, f"{len(PATTERN_TASKS) - len(wrong)} of {len(PATTERN_TASKS)} right; "
                      + "; ".join(wrong))


# ---------------------------------------------------------------------------------------------
# Exercise 1.2 (★★): h_2 by hand
# ---------------------------------------------------------------------------------------------

H2_PROBLEM: dict[str, list[Any]] = {
    "W_xh": [[0.5], [-1.0]],            # (hidden_size=2, input_size=1)
    "W_hh": [[0.1, 0.4], [-0.3, 0.2]],  # (2, 2)
    "b_h": [0.0, 0.1],                  # (2,)
    "x": [1.0, 2.0],                    # x_1, x_2 (scalars)
    "h0": [0.0, 0.0],
}
"""The tiny RNN of exercise 1.2: ``h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h)``, ``h_0 = 0``."""


def _h2_variants() -> dict[str, torch.Tensor]:
    p = {k: torch.tensor(v, dtype=torch.float64) for k, v in H2_PROBLEM.items()}
    W_xh, W_hh, b, x, h0 = p["W_xh"][:, 0], p["W_hh"], p["b_h"], p["x"], p["h0"]
    h1 = torch.tanh(W_xh * x[0] + W_hh @ h0 + b)
    return {
        "right": torch.tanh(W_xh * x[1] + W_hh @ h1 + b),
        "h1": h1,
        "no_memory": torch.tanh(W_xh * x[1] + b),
        "no_tanh": W_xh * x[1] + W_hh @ (W_xh * x[0] + b) + b,
        "no_tanh_last": W_xh * x[1] + W_hh @ h1 + b,
        "transposed": torch.tanh(W_xh * x[1] + W_hh.T @ h1 + b),
    }


@self_check("Exercise 1.2: h_2 by hand")
def check_h2(h2: Any) -> None:
    """``h2`` is the hidden state after two steps, two numbers (rounded to 3 decimals is fine)."""
    expect(h2 is not None, "not answered yet: set h2 to your two numbers, e.g. [0.1, -0.2]")
    variants = _h2_variants()
    got = torch.as_tensor(h2, dtype=torch.float64).reshape(-1)
    expect(got.numel() == 2, f"h_2 should hold 2 numbers (hidden_size = 2), got {got.numel()}")
    diagnoses = {
        "h1": "that is h_1; apply the recurrence once more with x_2",
        "no_memory": "you dropped the W_hh h_1 term: without it the network has no memory",
        "no_tanh": "you left out tanh: every step is h_t = tanh(...)",
        "no_tanh_last": "you forgot the tanh at step 2",
        "transposed": "use W_hh @ h_1 (row i of W_hh feeds unit i), not its transpose",
    }
    for name, message in diagnoses.items():
        expect(not torch.allclose(got, variants[name], atol=2e-3), message)
    expect_close(got, variants["right"], "h_2", atol=2e-3, rtol=0,
                 hint="h_1 = tanh(W_xh x_1 + W_hh h_0 + b_h), then h_2 from h_1 and x_2")


# ---------------------------------------------------------------------------------------------
# Exercise 1.3 (★★★): read out the right outputs of a padded batch
# ---------------------------------------------------------------------------------------------

def _reference_readout(output: torch.Tensor, lengths: torch.Tensor,
                       pattern: str) -> torch.Tensor:
    steps = torch.arange(output.shape[1], device=output.device)
    if pattern == "N:1":
        return output[torch.arange(output.shape[0], device=output.device), lengths - 1]
    return output * (steps[None, :] < lengths[:, None]).unsqueeze(-1).to(output.dtype)


@self_check("Exercise 1.3: read-out for N:1 and N:N on a padded batch")
def check_readout(readout: Callable[[torch.Tensor, torch.Tensor, str], torch.Tensor]) -> None:
    """``readout(output, lengths, pattern)``: ``output`` (batch, seq_len, hidden) from a
    batch-first ``torch.nn.RNN`` run on right-padded sequences, ``lengths`` (batch,) the true
    lengths. For ``"N:1"`` return each sequence's last real step, (batch, hidden); for
    ``"N:N"`` return ``output`` with padded steps set to zero, (batch, seq_len, hidden)."""
    expect(callable(readout), f"readout should be a function, got {type(readout).__name__}")
    g = torch.Generator().manual_seed(1)
    rnn = torch.nn.RNN(3, 5, batch_first=True)
    with torch.no_grad():
        for p in rnn.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    lengths = torch.tensor([6, 1, 4, 6, 2])
    x = torch.randn(5, 6, 3, generator=g)
    for i, n in enumerate(lengths.tolist()):
        x[i, n:] = 0.0                                   # padding
    with torch.no_grad():
        output, _ = rnn(x)
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True,
                                                         enforce_sorted=False)
        _, h_n = rnn(packed)                             # the true last states
    original = output.clone()

    got = readout(output, lengths, "N:1")
    expect(torch.equal(output, original), "readout must not modify output in place")
    expect(isinstance(got, torch.Tensor), f"readout(..., 'N:1') should return a tensor, "
                                          f"got {type(got).__name__}")
    expect(tuple(got.shape) == (5, 5), f"readout(..., 'N:1') should have shape (batch, hidden)"
                                       f" = (5, 5), got {tuple(got.shape)}")
    expect(not torch.allclose(got, output[:, -1]),
           "you returned output[:, -1], the last *padded* step: sequences shorter than the "
           "batch's longest end earlier (use lengths)")
    expect(not torch.allclose(got, output[torch.arange(5), lengths.clamp(max=5)]),
           "off by one: a sequence of length n ends at index n - 1")
    expect_close(got, h_n[0], "readout(..., 'N:1')", atol=1e-6,
                 hint="pick output[i, lengths[i] - 1] for every i")

    got = readout(output, lengths, "N:N")
    expect(torch.equal(output, original), "readout must not modify output in place")
    expect(isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(output.shape),
           f"readout(..., 'N:N') should return a tensor of shape {tuple(output.shape)}, got "
           f"{tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__}")
    expect_close(got, _reference_readout(output, lengths, "N:N"), "readout(..., 'N:N')",
                 atol=1e-6, hint="keep steps t < lengths[i], set the others to 0")
