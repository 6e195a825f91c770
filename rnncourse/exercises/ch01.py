"""Self-checks for the exercises of chapter 1, "Sequences and memory".

- :func:`check_patterns` (★): name the input/output pattern of everyday tasks.
- :func:`check_window` (★★, experiment): predict, then measure, the best accuracy on running
  parity of a per-step predictor that sees a window of the last ``k`` inputs.
- :func:`check_readout` (★★): turn ``torch.nn.RNN`` outputs on padded batches into what the
  N:1 and N:N patterns need.
- :func:`check_parity_rnn` (★★★): choose the weights of a 2-unit RNN that computes running
  parity exactly.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import torch

from ..selfcheck import expect, expect_answered, expect_close, self_check

# Only the checks are exported. PATTERN_TASKS stays a public attribute: it is the statement of
# exercise 1.1 (``ch01.PATTERN_TASKS``), not an answer.
__all__ = ["check_patterns", "check_window", "check_readout", "check_parity_rnn"]

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
    expect_answered(len(missing) < len(PATTERN_TASKS), "not answered yet: map each task to "
                    "its pattern")
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


def _fresh_generator() -> torch.Generator:
    """A private generator with a new seed on every call: the learner's RNG is not touched."""
    return torch.Generator().manual_seed(int.from_bytes(os.urandom(6), "little"))


# ---------------------------------------------------------------------------------------------
# Exercise 1.2 (★★, experiment): how far back does a window see?
# ---------------------------------------------------------------------------------------------

def _reference_window(x: torch.Tensor, k: int) -> torch.Tensor:
    padded = torch.cat([x.new_zeros(x.shape[0], k - 1, x.shape[2]), x], dim=1)
    return torch.cat([padded[:, j:j + x.shape[1]] for j in range(k)], dim=2)


def _reference_window_accuracy(k: int, T: int) -> float:
    return 0.5 + min(k, T) / (2 * T)


def _window_mistakes(x: torch.Tensor, k: int) -> dict[str, torch.Tensor]:
    """Windows built wrongly in the usual ways, for the same ``x`` and ``k``."""
    rolled = torch.cat([torch.roll(x, j, dims=1) for j in range(k - 1, -1, -1)], dim=2)
    shifted = torch.cat([x.new_zeros(x.shape[0], 1, x.shape[2]), x[:, :-1]], dim=1)
    return {
        "wrap-around": rolled,
        "without the current input": _reference_window(shifted, k),
        "future inputs": _reference_window(x.flip(1), k).flip(1),
    }


_WINDOW_HINTS = {
    "wrap-around": "torch.roll wraps around: at the first steps your window holds the *last* "
                   "inputs of the sequence; pad with zeros before the start instead",
    "without the current input": "off by one: your window at step t ends at x_(t-1); it must "
                                 "end at x_t, the current input",
    "future inputs": "your window looks ahead (x_t .. x_(t+k-1)): a causal window holds the "
                     "current and the k - 1 previous inputs",
}

_WINDOW_PREDICTIONS: dict[str, tuple[Callable[[int, int], float], str]] = {
    "k / T": (lambda k, T: min(k, T) / T,
              "beyond the window the parity is a coin flip, but a guess is still right half "
              "the time: those steps count 1/2 each, not 0"),
    "1/2 + 1/(2T)": (lambda k, T: 0.5 + 0.5 / T,
                     "that is the memoryless (k = 1) value; a window of k inputs knows the "
                     "whole prefix at the first k steps"),
    "off by one": (lambda k, T: 0.5 + min(k - 1, T) / (2 * T),
                   "off by one: a window of k inputs sees all of x_1 .. x_t for t = 1 .. k, "
                   "that is k steps, not k - 1"),
    "twice": (lambda k, T: min(1.0, 0.5 + min(k, T) / T),
              "a step inside the window is worth 1 instead of 1/2, so it adds 1/(2T), not 1/T"),
    "no cap": (lambda k, T: 0.5 + k / (2 * T),
               "a window longer than the sequence sees everything: the accuracy stops at 1"),
}


@self_check("Exercise 1.2: how far back does a window see?")
def check_window(window: Callable[[torch.Tensor, int], torch.Tensor],
                 predict: Callable[[int, int], float]) -> None:
    """``window(x, k)``: for bits ``x`` of shape (batch, seq_len, 1), the (batch, seq_len, k)
    tensor whose step ``t`` holds ``x_(t-k+1), ..., x_t`` (zeros before the start; any fixed
    order of the k columns). ``predict(k, T)``: the best accuracy on running parity of length
    ``T`` of any predictor that sees only that window. Tested on random cases."""
    expect(callable(window), f"window should be a function, got {type(window).__name__}")
    expect(callable(predict), f"predict should be a function, got {type(predict).__name__}")
    g = _fresh_generator()
    cases = [(1, 6)] + [(int(torch.randint(2, 6, (1,), generator=g)),
                         int(torch.randint(6, 12, (1,), generator=g))) for _ in range(3)]
    for k, seq_len in cases:
        x = torch.randint(0, 2, (8, seq_len, 1), generator=g).float()
        x[0] = 1.0                                       # all ones: every wrong window shows
        original = x.clone()
        got = window(x, k)
        expect(torch.equal(x, original), "window must not modify x in place")
        expect(isinstance(got, torch.Tensor) and tuple(got.shape) == (8, seq_len, k),
               f"window(x, {k}) for x of shape {tuple(x.shape)} should have shape "
               f"{(8, seq_len, k)}, got "
               f"{tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__}")
        want = _reference_window(x, k)
        got = got.detach().to(want.dtype).cpu()
        if any(torch.equal(got, want[..., list(p)]) for p in (range(k), range(k - 1, -1, -1))):
            continue
        for name, wrong in _window_mistakes(x, k).items():
            expect(not any(torch.equal(got, wrong[..., list(p)])
                           for p in (range(k), range(k - 1, -1, -1))), _WINDOW_HINTS[name])
        bad = int((got != want).flatten(1).any(1).nonzero()[0]) if got.shape == want.shape else 0
        expect(False, f"window(x, {k}) is wrong for x = {x[bad, :, 0].int().tolist()}: "
                      f"expected the columns x_(t-{k - 1}) .. x_t at every step t, with zeros "
                      "before the start")
    pairs = [(1, 20), (int(torch.randint(2, 9, (1,), generator=g)), 20),
             (int(torch.randint(2, 9, (1,), generator=g)), int(torch.randint(9, 40, (1,),
                                                                              generator=g))),
             (25, 20)]
    for k, T in pairs:
        answer = predict(k, T)
        try:
            value = float(answer)
        except (TypeError, ValueError, RuntimeError):
            value = math.nan
        expect(math.isfinite(value), f"predict({k}, {T}) should be a number between 0 and 1, "
                                     f"got {answer!r:.60}")
        want = _reference_window_accuracy(k, T)
        if abs(value - want) <= 1e-6:
            continue
        for _, (wrong, hint) in _WINDOW_PREDICTIONS.items():
            expect(abs(value - wrong(k, T)) > 1e-6, f"predict({k}, {T}) = {value:.4f}: {hint}")
        expect(False, f"predict({k}, {T}) = {value:.4f} is not the best accuracy; count the "
                      "steps t = 1 .. T where the window holds the whole prefix, and what a "
                      "best guess scores at the others")


# ---------------------------------------------------------------------------------------------
# Exercise 1.3 (★★): read out the right outputs of a padded batch
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


# ---------------------------------------------------------------------------------------------
# Exercise 1.4 (★★★): a parity RNN by hand
# ---------------------------------------------------------------------------------------------

_PARITY_SHAPES = {"weight_ih": (2, 1), "weight_hh": (2, 2), "bias": (2,), "weight_ho": (1, 2),
                  "bias_o": (1,)}


def _run_step_rnn(w: dict[str, torch.Tensor], bits: torch.Tensor) -> torch.Tensor:
    """Output bits (batch, seq_len) of the step-unit RNN ``w`` on ``bits`` (batch, seq_len)."""
    h = bits.new_zeros(bits.shape[0], 2)
    outputs = []
    for x_t in bits.unbind(1):
        z = x_t[:, None] @ w["weight_ih"].T + h @ w["weight_hh"].T + w["bias"]   # (batch, 2)
        h = (z > 0).to(bits.dtype)
        outputs.append(((h @ w["weight_ho"].T + w["bias_o"])[:, 0] > 0).to(bits.dtype))
    return torch.stack(outputs, dim=1)


def _parity_candidates(bits: torch.Tensor) -> dict[str, torch.Tensor]:
    parity = torch.cumsum(bits, dim=1) % 2
    before = torch.cat([torch.zeros_like(parity[:, :1]), parity[:, :-1]], dim=1)
    previous = torch.cat([torch.zeros_like(bits[:, :1]), bits[:, :-1]], dim=1)
    return {
        "right": parity,
        "inverted": 1 - parity,
        "off by one": before,
        "last two": (bits + previous) % 2,
        "memoryless": bits,
        "any one so far": torch.cummax(bits, dim=1).values,
        "constant 0": torch.zeros_like(bits),
        "constant 1": torch.ones_like(bits),
    }


_PARITY_HINTS = {
    "inverted": "inverted: your output is 1 when the number of ones so far is even (check the "
                "sign of the read-out, or what h_0 = 0 stands for)",
    "off by one": "off by one: your output at step t is the parity of x_1 .. x_(t-1), the "
                  "earlier bits; y_t must include the current bit, y_t = x_t XOR y_(t-1)",
    "last two": "your network computes x_t XOR x_(t-1), the last two bits only: the state must "
                "carry the parity so far, so feed back the units that encode it, not a copy of "
                "the previous input",
    "memoryless": "your output is x_t itself: the state does not reach the output (look at "
                  "weight_hh)",
    "any one so far": "your output is 1 once any 1 has been seen (an OR that never resets): a "
                      "second 1 must flip the parity back to 0",
    "constant 0": "your output is always 0",
    "constant 1": "your output is always 1",
}


@self_check("Exercise 1.4: a parity RNN by hand")
def check_parity_rnn(weights: Any) -> None:
    """``weights`` is a dict with ``weight_ih`` (2, 1), ``weight_hh`` (2, 2), ``bias`` (2,),
    ``weight_ho`` (1, 2) and ``bias_o`` (1,) (nested lists or tensors) of the RNN
    ``h_t = step(weight_ih x_t + weight_hh h_(t-1) + bias)``, ``h_0 = 0``, with output bit
    ``1 if weight_ho h_t + bias_o > 0 else 0``, where ``step(z) = 1 if z > 0 else 0``. It must
    output the running parity of every bit string; tested on random and edge-case strings."""
    expect_answered(weights is not None, "not answered yet: set weights to a dict with the keys "
                                + ", ".join(_PARITY_SHAPES))
    expect(isinstance(weights, dict), f"weights should be a dict, got {type(weights).__name__}")
    missing = [key for key in _PARITY_SHAPES if key not in weights]
    expect(not missing, f"weights has no {', '.join(missing)}")
    w = {}
    for key, shape in _PARITY_SHAPES.items():
        try:
            value = torch.as_tensor(weights[key], dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            expect(False, f"weights[{key!r}] should be numbers of shape {shape}, got "
                          f"{weights[key]!r:.60}")
        if value.numel() == math.prod(shape) and value.dim() <= len(shape):
            value = value.reshape(shape)                 # e.g. bias_o = 0.5, weight_ho = [1, -1]
        expect(tuple(value.shape) == shape, f"weights[{key!r}] should have shape {shape}, got "
                                            f"{tuple(value.shape)}")
        expect(bool(torch.isfinite(value).all()), f"weights[{key!r}] holds NaN or infinity")
        w[key] = value
    g = _fresh_generator()
    edge = torch.zeros(5, 12, dtype=torch.float64)
    edge[1] = 1.0                                        # all ones
    edge[2, 0] = 1.0                                     # a single 1 at the start
    edge[3, -1] = 1.0                                    # a single 1 at the end
    edge[4, ::2] = 1.0                                   # 1, 0, 1, 0, ...
    random_bits = torch.randint(0, 2, (200, 12), generator=g).double()
    long_bits = torch.randint(0, 2, (20, 300), generator=g).double()
    for bits in (edge, random_bits, long_bits):
        got = _run_step_rnn(w, bits)
        candidates = _parity_candidates(bits)
        if torch.equal(got, candidates["right"]):
            continue
        for name, hint in _PARITY_HINTS.items():
            expect(not torch.equal(got, candidates[name]), hint)
        wrong = (got != candidates["right"])
        row = int(wrong.any(dim=1).nonzero()[0])
        step = int(wrong[row].nonzero()[0])
        shown = bits[row, :step + 1].int().tolist()
        expect(False, f"wrong at step {step + 1} of the bit string {shown}"
                      f"{' ...' if step + 1 < bits.shape[1] else ''}: the running parity is "
                      f"{int(candidates['right'][row, step])}, your network says "
                      f"{int(got[row, step])}")
