"""Self-checks for chapter 7 (deep and bidirectional RNNs)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ..selfcheck import (
    CheckFailed,
    expect,
    expect_answered,
    expect_close,
    expect_equal,
    expect_fraction,
    init_parameters,
    self_check,
)

__all__ = ["check_hn_shape", "check_last_layer_states", "check_is_causal",
           "check_padded_bidirectional", "check_magnitude_experiment"]

_CONFIGS = [(1, False, 3, 5), (2, True, 4, 6), (3, True, 1, 2), (4, False, 2, 7)]


@self_check("Exercise 7.1: the shape of h_n")
def check_hn_shape(hn_shape: Callable[[int, bool, int, int], tuple[int, ...]]) -> None:
    """``hn_shape(num_layers, bidirectional, batch, hidden_size)`` must return ``h_n``'s shape
    for ``torch.nn.GRU(..., batch_first=True)``."""
    for layers, bi, batch, hidden in _CONFIGS:
        gru = nn.GRU(3, hidden, num_layers=layers, bidirectional=bi, batch_first=True)
        with torch.no_grad():
            _, h_n = gru(torch.zeros(batch, 4, 3))
        got = hn_shape(layers, bi, batch, hidden)
        expect(isinstance(got, (tuple, list, torch.Size)),
               f"hn_shape should return a tuple of ints, got {type(got).__name__}")
        expect_equal(tuple(got), tuple(h_n.shape),
                     what=f"hn_shape(num_layers={layers}, bidirectional={bi}, batch={batch}, "
                          f"hidden_size={hidden})",
                     hint="h_n is never batch-first; its first size counts layers × directions")


@self_check("Exercise 7.2: the last layer's final states")
def check_last_layer_states(last_layer_states: Callable[[torch.Tensor, int], torch.Tensor]
                            ) -> None:
    """``last_layer_states(h_n, num_layers)`` for a *bidirectional* module must return
    ``(batch, 2H)``: the last layer's forward final state, then its backward final state."""
    gen = torch.Generator().manual_seed(7)
    for layers in (1, 3):
        gru = init_parameters(nn.GRU(4, 5, num_layers=layers, bidirectional=True,
                                     batch_first=True), gen)
        x = torch.randn(2, 6, 4, generator=gen)
        with torch.no_grad():
            output, h_n = gru(x)
        want = torch.cat([output[:, -1, :5], output[:, 0, 5:]], dim=-1)
        got = last_layer_states(h_n, layers)
        expect(isinstance(got, torch.Tensor),
               f"last_layer_states should return a tensor, got {type(got).__name__}")
        expect_close(got, want, what=f"last_layer_states(h_n, num_layers={layers})",
                     hint="h_n.view(num_layers, 2, batch, H)[-1] holds the last layer's two "
                          "directions; the forward one equals output[:, -1, :H], the backward "
                          "one output[:, 0, H:]")


class _Probe(nn.Module):
    """A small tagger whose causality the check knows: a GRU (optionally bidirectional, or
    reading ``x[:, t + peek]`` beside ``x[:, t]``), a linear read-out, optionally a softmax and
    a faint dependence of every output on the last input (``leak``)."""

    def __init__(self, gen: torch.Generator, features: int, hidden: int, outputs: int,
                 bidirectional: bool = False, peek: int = 0, leak: float = 0.0,
                 softmax: bool = False, recurrent: bool = True):
        super().__init__()
        self.peek, self.leak, self.softmax, self.recurrent = peek, leak, softmax, recurrent
        width = features * (2 if peek else 1)
        self.rnn = init_parameters(nn.GRU(width, hidden, batch_first=True,
                                          bidirectional=bidirectional), gen)
        self.head = init_parameters(nn.Linear(hidden * (2 if bidirectional else 1), outputs),
                                    gen, bound=0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.peek:
            ahead = torch.cat([x[:, self.peek:], torch.zeros_like(x[:, :self.peek])], dim=1)
            x_in = torch.cat([x, ahead], dim=-1)          # step t also reads x[:, t + peek]
        else:
            x_in = x
        if self.recurrent:
            hidden = self.rnn(x_in)[0]
        else:                                            # one step at a time: no memory at all
            hidden = torch.cat([self.rnn(x_in[:, t:t + 1])[0] for t in range(x.shape[1])], 1)
        y = self.head(hidden)                            # (batch, seq_len, outputs)
        if self.leak:
            y = y + self.leak * x[:, -1:].sum(-1, keepdim=True)   # every step sees x_{T-1}
        return y.softmax(-1) if self.softmax else y


def _as_bool(value: object, what: str) -> bool:
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.dtype == torch.bool:
        return bool(value.item())
    expect(isinstance(value, (bool, np.bool_)),
           f"{what} should return True or False, got {type(value).__name__} {value!r}")
    return bool(value)


_CAUSAL_CASES = {
    # name: (constructor options, causal?, hint when the answer is wrong)
    "a one-layer GRU tagger": (
        {}, True, "a causal output y_t may depend on x_t itself and on the past: test only "
                  "the inputs s > t, never s = t"),
    "a memoryless tagger (each step sees only its own x_t)": (
        {"recurrent": False}, True, "y_t may depend on x_t: the present input is allowed; "
                                    "only s > t is leakage"),
    "a bidirectional GRU tagger": (
        {"bidirectional": True}, False,
        "the backward direction reads the future at every step but the last: test every "
        "step t, not only the last one (whose future is empty)"),
    "a memoryless tagger that also reads x[:, t + 2]": (
        {"peek": 2, "recurrent": False}, False,
        "this model looks two steps ahead, not one: test every s > t, not only s = t + 1"),
    "a tagger whose outputs depend faintly (weight 1e-4) on the last input": (
        {"leak": 1e-4}, False,
        "a causal model's gradient with respect to a future input is exactly 0; a small "
        "gradient is still leakage, so do not compare with a loose tolerance"),
    "a bidirectional tagger with softmax outputs": (
        {"bidirectional": True, "softmax": True}, False,
        "its outputs are probabilities that sum to 1, so the gradient of their *sum* is zero "
        "whatever the model reads: differentiate each output unit separately (or a random "
        "combination of them)"),
}


@self_check("Exercise 7.3 (★★): a causality test")
def check_is_causal(is_causal: Callable[[nn.Module, torch.Tensor], bool]) -> None:
    """``is_causal(model, x)`` must say whether every output step ``y[:, t]`` of
    ``model(x)`` (``(batch, seq_len, outputs)``) is independent of the inputs ``x[:, s]``,
    ``s > t``. Run on random models with known answers (a private generator, new each call)."""
    rng = np.random.default_rng()
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    names = list(_CAUSAL_CASES)
    rng.shuffle(names)                          # the learner's function sees them in any order
    wrong = {}
    for name in names:
        options, causal, _ = _CAUSAL_CASES[name]
        features, hidden, outputs = (int(v) for v in rng.integers(2, 5, size=3))
        seq_len, batch = int(rng.integers(5, 9)), int(rng.integers(2, 4))
        model = _Probe(gen, features, hidden, outputs, **options)
        x = torch.randn(batch, seq_len, features, generator=gen)
        got = _as_bool(is_causal(model, x.clone()), "is_causal")
        if got != causal:
            wrong[name] = got
    # the most telling mistake first (a loose tolerance can also miss the softmax gradients)
    for name in _CAUSAL_CASES:
        if name in wrong:
            _, causal, hint = _CAUSAL_CASES[name]
            verdict = "causal" if causal else "not causal"
            raise CheckFailed(f"on {name}, is_causal returned {wrong[name]}, but the model is "
                              f"{verdict}. Hint: {hint}")


# --------------------------------------------------------------------------- padding


def _packed_reference(x: torch.Tensor, lengths: torch.Tensor, fwd: nn.GRU, bwd: nn.GRU
                      ) -> torch.Tensor:
    """``nn.GRU(bidirectional=True)`` with ``fwd``'s and ``bwd``'s weights on a packed batch."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    both = nn.GRU(fwd.input_size, fwd.hidden_size, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(both, f"{name}_l0").copy_(getattr(fwd, f"{name}_l0"))
            getattr(both, f"{name}_l0_reverse").copy_(getattr(bwd, f"{name}_l0"))
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        output, _ = pad_packed_sequence(both(packed)[0], batch_first=True,
                                        total_length=x.shape[1])
    return output


def _flip_everything(x: torch.Tensor, fwd: nn.GRU, bwd: nn.GRU) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([fwd(x)[0], bwd(x.flip(1))[0].flip(1)], dim=-1)


@self_check("Exercise 7.4 (★★★): a bidirectional layer that respects padding")
def check_padded_bidirectional(padded_bidirectional: Callable[..., torch.Tensor]) -> None:
    """``padded_bidirectional(x, lengths, fwd, bwd)``: ``x`` ``(batch, seq_len, input_size)``
    padded after each sequence's ``lengths[b]`` steps, ``fwd``/``bwd`` one-layer batch-first
    GRUs. Must return ``(batch, seq_len, 2H)`` equal to ``nn.GRU(bidirectional=True)`` on the
    packed batch (zeros at padded steps). Random sizes and lengths, a private generator."""
    rng = np.random.default_rng()
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    for _ in range(2):
        batch, seq_len = int(rng.integers(3, 6)), int(rng.integers(5, 9))
        features, hidden = int(rng.integers(2, 5)), int(rng.integers(2, 6))
        lengths = torch.as_tensor(rng.integers(1, seq_len, size=batch))
        lengths[int(rng.integers(batch))] = seq_len              # one sequence is not padded
        fwd = init_parameters(nn.GRU(features, hidden, batch_first=True), gen)
        bwd = init_parameters(nn.GRU(features, hidden, batch_first=True), gen)
        x = torch.randn(batch, seq_len, features, generator=gen)
        valid = torch.arange(seq_len)[None, :] < lengths[:, None]          # (batch, seq_len)
        x = x * valid[..., None]                                 # padding is zeros
        want = _packed_reference(x, lengths, fwd, bwd)
        with torch.no_grad():
            got = padded_bidirectional(x.clone(), lengths.clone(), fwd, bwd)
        expect(isinstance(got, torch.Tensor),
               f"padded_bidirectional should return a tensor, got {type(got).__name__}")
        what = f"output for lengths {lengths.tolist()}"
        expect(tuple(got.shape) == tuple(want.shape),
               f"{what} should have shape {tuple(want.shape)}, got {tuple(got.shape)}")
        if torch.allclose(got, want, atol=1e-5):
            continue
        naive = _flip_everything(x, fwd, bwd)
        if torch.allclose(got[valid], naive[valid], atol=1e-5):
            raise CheckFailed(f"{what} is what x.flip(1) gives: flipping the padded batch "
                              "makes the backward direction of a short sequence start on its "
                              "padding. Reverse each sequence within its own length "
                              "(steps lengths[b]-1, ..., 0)")
        if torch.allclose(got[valid], want[valid], atol=1e-5):
            raise CheckFailed(f"{what} is right on the real steps but not on the padded ones: "
                              "there it should be 0, as pad_packed_sequence returns")
        if torch.allclose(got[..., :hidden][valid], want[..., :hidden][valid], atol=1e-5):
            raise CheckFailed(f"{what}: the forward half is right, the backward half "
                              f"(output[..., {hidden}:]) is not. Hint: step t must hold the "
                              "backward state that has read x[b, t:lengths[b]]")
        expect_close(got, want, what=what, atol=1e-5,
                     hint="compare with nn.GRU(bidirectional=True) on "
                          "pack_padded_sequence(x, lengths, batch_first=True, "
                          "enforce_sorted=False)")


# --------------------------------------------------------------------------- experiment




@self_check("Exercise 7.5 (★★): what layer normalisation cannot see")
def check_magnitude_experiment(acc_ln: object, acc_lstm: object) -> None:
    """``acc_ln`` and ``acc_lstm``: held-out accuracies (fractions) of a ``LayerNormLSTM``
    tagger and of the same tagger with ``nn.LSTM`` on the magnitude task of the exercise
    (tag 1 where ``|x_t| > 1``, one input feature, balanced classes)."""
    expect_answered(acc_ln is not None and acc_lstm is not None,
                    "not attempted yet: set acc_ln and acc_lstm to the accuracies you measured")
    ln, plain = expect_fraction(acc_ln, "acc_ln"), expect_fraction(acc_lstm, "acc_lstm")
    if ln > 0.9 and plain < 0.65:
        raise CheckFailed(f"acc_ln = {ln:.3f} and acc_lstm = {plain:.3f} look swapped: which "
                          "model can tell |x_t| = 0.5 from |x_t| = 1.5?")
    expect(ln < 0.6,
           f"acc_ln = {ln:.3f} is above chance (0.5), which a LayerNormLSTM cannot reach here: "
           "with one input feature, LN(W_ih x_t) = sign(x_t) LN(w), so its states depend only on "
           "the signs of the inputs. Did you pass layer_norm=False, or give the model more than "
           "one input feature?")
    expect(ln > 0.4, f"acc_ln = {ln:.3f} is below chance (0.5): measure the accuracy of the "
                     "arg-max tag on a held-out batch of the task")
    expect(plain > 0.9,
           f"acc_lstm = {plain:.3f}: nn.LSTM can learn this threshold to > 0.9; train longer "
           "(a few hundred steps) or with a larger learning rate (1e-2)")
