"""Chapter 1, "Sequences and memory": toy sequences, a memory task, the recurrence, the five
input/output patterns, and the diagrams that draw them.

Contents, in the order the chapter uses them:

- toy sequential data: :func:`encode_text`, :func:`toy_speech`, :func:`toy_time_series`,
  :func:`toy_melody` and :func:`piano_roll`;
- the memory experiment: :func:`running_parity` (a task whose answer at step ``t`` depends on
  every input so far), :func:`memoryless_baseline` (the best any per-step model can do),
  :class:`StepMLP` and :class:`RNNTagger` (trained with :func:`rnncourse.training.fit`);
- the recurrence ``h_t = tanh(W_ih x_t + W_hh h_{t-1} + b)`` (textbooks write ``W_xh`` for
  PyTorch's ``W_ih``; see ``book/glossary.md``): :func:`rnn_step`, :func:`unroll`,
  :func:`count_parameters`, :func:`window_mlp_param_count`;
- forgetting: :func:`input_sensitivity` and :func:`decay_per_step`;
- the input/output patterns: :data:`IO_PATTERNS` and :class:`PatternRNN`;
- diagrams: :func:`draw_unrolled`, :func:`draw_folded`, :func:`folded_unrolled_figure` and
  :func:`io_patterns_figure`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn

from .plotting import PALETTE, arrow, box, finish_diagram
from .validation import ShapeError, check_array, check_positive_int

__all__ = [
    "encode_text", "toy_speech", "toy_time_series", "toy_melody", "piano_roll",
    "running_parity", "Baseline", "memoryless_baseline", "StepMLP", "RNNTagger",
    "rnn_step", "unroll", "count_parameters", "window_mlp_param_count", "input_sensitivity",
    "decay_per_step",
    "IOPattern", "IO_PATTERNS", "PatternRNN", "draw_unrolled", "draw_folded",
    "folded_unrolled_figure", "io_patterns_figure",
]


# ---------------------------------------------------------------------------------------------
# Toy sequential data
# ---------------------------------------------------------------------------------------------

def encode_text(text: str, vocab: list[str] | None = None) -> tuple[Tensor, list[str]]:
    """Turn a string into a sequence of character ids.

    Args:
        text: a non-empty string.
        vocab: the alphabet; by default the sorted set of characters of ``text``.

    Returns:
        ``(ids, vocab)`` with ``ids`` a ``torch.long`` tensor of shape ``(len(text),)`` and
        ``vocab[ids[t]] == text[t]``.
    """
    if not isinstance(text, str) or not text:
        raise ValueError(f"text must be a non-empty string, got {text!r}")
    vocab = sorted(set(text)) if vocab is None else list(vocab)
    index = {ch: i for i, ch in enumerate(vocab)}
    missing = sorted(set(text) - set(index))
    if missing:
        raise ValueError(f"characters {missing} of text are not in vocab")
    return torch.tensor([index[ch] for ch in text], dtype=torch.long), vocab


def toy_speech(duration_s: float = 0.6, sample_rate: int = 8000,
               generator: torch.Generator | None = None) -> Tensor:
    """A synthetic two-syllable "voice": harmonics of a gliding pitch under two envelopes.

    Each syllable is ``sum_k a_k sin(2 pi k f0(t) t)`` (harmonics k = 1..6 of a pitch ``f0``
    that rises from 120 to 160 Hz), shaped by a smooth bump, plus a little noise.

    Returns:
        A float32 tensor of shape ``(round(duration_s * sample_rate),)``, the air pressure in
        arbitrary units, at ``sample_rate`` samples per second.
    """
    sample_rate = check_positive_int(sample_rate, "sample_rate")
    if not isinstance(duration_s, (int, float)) or duration_s <= 0:
        raise ValueError(f"duration_s must be a positive number of seconds, got {duration_s!r}")
    n = max(1, round(duration_s * sample_rate))
    t = torch.arange(n, dtype=torch.float64) / sample_rate
    f0 = 120.0 + 40.0 * t / duration_s
    phase = 2 * math.pi * torch.cumsum(f0, 0) / sample_rate
    voice = sum((0.8 ** k) * torch.sin(k * phase) for k in range(1, 7))
    u = t / duration_s                                   # 0 .. 1 over the clip
    envelope = (torch.exp(-((u - 0.28) / 0.09) ** 2) + 0.8 * torch.exp(-((u - 0.68) / 0.11) ** 2))
    noise = 0.03 * torch.randn(n, generator=generator, dtype=torch.float64)
    return (envelope * voice + noise).float()


def toy_time_series(n_days: int = 730, generator: torch.Generator | None = None) -> Tensor:
    """Synthetic daily mean temperatures (°C) of a temperate city: a yearly cycle plus AR(1)
    weather noise, ``T_d = 12 + 9 sin(2 pi (d - 110) / 365) + e_d`` with
    ``e_d = 0.7 e_{d-1} + 1.5 z_d`` and ``z_d`` standard normal.

    Returns:
        A float32 tensor of shape ``(n_days,)``.
    """
    n_days = check_positive_int(n_days, "n_days")
    days = torch.arange(n_days, dtype=torch.float64)
    z = torch.randn(n_days, generator=generator, dtype=torch.float64)
    noise = torch.zeros(n_days, dtype=torch.float64)
    for d in range(n_days):
        noise[d] = (0.7 * noise[d - 1] if d else 0.0) + 1.5 * z[d]
    return (12.0 + 9.0 * torch.sin(2 * math.pi * (days - 110) / 365) + noise).float()


def toy_melody() -> Tensor:
    """The first two phrases of "Twinkle, Twinkle, Little Star" (traditional) in C major.

    Returns:
        A ``torch.long`` tensor of shape ``(16,)``: one MIDI pitch per quarter-note step
        (60 is middle C); a half note is the same pitch on two steps.
    """
    return torch.tensor([60, 60, 67, 67, 69, 69, 67, 67, 65, 65, 64, 64, 62, 62, 60, 60])


def piano_roll(pitches: Tensor, low: int, high: int) -> Tensor:
    """One-hot piano roll of a monophonic melody.

    Args:
        pitches: ``torch.long`` tensor of shape ``(seq_len,)``, MIDI pitches in ``[low, high]``.
        low, high: the lowest and highest pitch of the roll.

    Returns:
        A float32 tensor of shape ``(seq_len, high - low + 1)`` with a single 1 per row.
    """
    if not isinstance(pitches, Tensor) or pitches.dim() != 1 or pitches.is_floating_point():
        raise ShapeError(f"pitches must be an integer tensor of shape (seq_len,), got "
                         f"{type(pitches).__name__} "
                         f"{tuple(pitches.shape) if isinstance(pitches, Tensor) else ''}")
    if high < low:
        raise ValueError(f"high ({high}) must be at least low ({low})")
    if pitches.numel() and (int(pitches.min()) < low or int(pitches.max()) > high):
        raise ValueError(f"pitches must lie in [{low}, {high}], got range "
                         f"[{int(pitches.min())}, {int(pitches.max())}]")
    return nn.functional.one_hot(pitches - low, high - low + 1).float()


# ---------------------------------------------------------------------------------------------
# The memory experiment
# ---------------------------------------------------------------------------------------------

def running_parity(batch_size: int, seq_len: int, generator: torch.Generator | None = None,
                   device: torch.device | str | None = None) -> tuple[Tensor, Tensor]:
    """Draw random bit strings and their running parity.

    ``y_t = (x_1 + ... + x_t) mod 2 = x_t XOR y_{t-1}`` (with ``y_0 = 0``): the answer at step
    ``t`` is 1 when an odd number of ones has been seen so far, *including* ``x_t``. For
    ``t >= 2`` the earlier parity ``y_{t-1}`` is a fair coin independent of ``x_t``, so
    ``y_t`` is too: a model that sees one step at a time cannot beat a coin flip there, while
    one bit of memory (flip it when a 1 arrives) solves it.

    Returns:
        ``(x, y)``: ``x`` float32 of shape ``(batch_size, seq_len, 1)`` with values in {0, 1},
        ``y`` float32 of shape ``(batch_size, seq_len)``. Drawn on the CPU, then moved to
        ``device``, so the numbers do not depend on the device.
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    seq_len = check_positive_int(seq_len, "seq_len")
    bits = torch.randint(0, 2, (batch_size, seq_len), generator=generator)
    y = torch.cumsum(bits, dim=1) % 2
    return bits.float().unsqueeze(-1).to(device), y.float().to(device)


class Baseline(NamedTuple):
    """The best a memoryless (per-step) predictor can do on a data set."""

    accuracy: float
    cross_entropy: float  # nats per step


def memoryless_baseline(x: Tensor, y: Tensor) -> Baseline:
    """Accuracy and cross-entropy of the best predictor that sees only the current input ``x_t``.

    It is a lookup table: for every distinct input vector, predict the label most often seen
    with it (accuracy), or the frequencies of the labels seen with it (cross-entropy), counted
    over all sequences and steps of ``(x, y)``. No per-step model, however large, can do better
    on the same data, because it too is a function of ``x_t`` alone.

    Args:
        x: inputs of shape ``(batch, seq_len, input_size)`` with few distinct values (e.g. bits).
        y: integer-valued labels of shape ``(batch, seq_len)``.
    """
    check_array(x, "x", ("batch", "seq_len", "input_size"))
    check_array(y, "y", ("batch", "seq_len"), sizes={"batch": x.shape[0], "seq_len": x.shape[1]},
                floating=False)
    rows = x.detach().reshape(-1, x.shape[-1]).cpu()
    labels = y.detach().reshape(-1).cpu().long()
    if int(labels.min()) < 0:
        raise ValueError(f"y must hold class labels 0, 1, 2, ..., got {int(labels.min())}")
    _, which = torch.unique(rows, dim=0, return_inverse=True)
    counts = torch.zeros(int(which.max()) + 1, int(labels.max()) + 1, dtype=torch.float64)
    counts.index_put_((which, labels), torch.ones_like(labels, dtype=torch.float64),
                      accumulate=True)
    n = labels.numel()
    accuracy = float(counts.max(dim=1).values.sum()) / n
    freq = counts / counts.sum(dim=1, keepdim=True)
    nll = -(counts * torch.log(freq.clamp_min(1e-300))).sum()
    return Baseline(accuracy, float(nll) / n)


class StepMLP(nn.Module):
    r"""A feed-forward net applied to each time step on its own (no memory).

    .. math:: y_t = W_2 \tanh(W_1 x_t + b_1) + b_2

    Shapes: input ``(batch, seq_len, input_size)``, output ``(batch, seq_len, output_size)``.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int = 1) -> None:
        super().__init__()
        self.input_size = check_positive_int(input_size, "input_size")
        self.net = nn.Sequential(
            nn.Linear(input_size, check_positive_int(hidden_size, "hidden_size")), nn.Tanh(),
            nn.Linear(hidden_size, check_positive_int(output_size, "output_size")))

    def forward(self, x: Tensor) -> Tensor:
        check_array(x, "x", ("batch", "seq_len", "input_size"), {"input_size": self.input_size})
        return self.net(x)


class RNNTagger(nn.Module):
    r"""An Elman RNN with a linear read-out at every step (the N:N pattern).

    .. math::
        h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}), \qquad
        y_t = W_{hy} h_t + b_y

    Shapes: input ``(batch, seq_len, input_size)``; :meth:`forward` returns logits
    ``(batch, seq_len, output_size)``, and the hidden states ``(batch, seq_len, hidden_size)``
    as well when ``return_hidden=True``.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int = 1) -> None:
        super().__init__()
        self.input_size = check_positive_int(input_size, "input_size")
        self.rnn = nn.RNN(input_size, check_positive_int(hidden_size, "hidden_size"),
                          batch_first=True)
        self.head = nn.Linear(hidden_size, check_positive_int(output_size, "output_size"))

    def forward(self, x: Tensor, return_hidden: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        check_array(x, "x", ("batch", "seq_len", "input_size"), {"input_size": self.input_size})
        states, _ = self.rnn(x)
        logits = self.head(states)
        return (logits, states) if return_hidden else logits


# ---------------------------------------------------------------------------------------------
# The recurrence, unrolled
# ---------------------------------------------------------------------------------------------

_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"tanh": torch.tanh, "relu": torch.relu}


def rnn_step(x_t: Tensor, h_prev: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias: Tensor,
             nonlinearity: str = "tanh") -> Tensor:
    r"""One step of the Elman recurrence, batched.

    .. math:: h_t = f(W_{ih} x_t + W_{hh} h_{t-1} + b)

    (textbooks write :math:`W_{xh}` for :math:`W_{ih}` and :math:`b_h` for :math:`b`).

    Args:
        x_t: ``(batch, input_size)``; h_prev: ``(batch, hidden_size)``.
        weight_ih: ``(hidden_size, input_size)``; weight_hh: ``(hidden_size, hidden_size)``;
        bias: ``(hidden_size,)``, one vector (``torch.nn.RNNCell`` splits it as
            ``bias_ih + bias_hh``).
        nonlinearity: ``"tanh"`` or ``"relu"``, as in ``torch.nn.RNN``.

    Returns:
        ``h_t`` of shape ``(batch, hidden_size)``.

    Example::

        cell = torch.nn.RNNCell(3, 4)
        h = rnn_step(x, h, cell.weight_ih, cell.weight_hh, cell.bias_ih + cell.bias_hh)
    """
    if nonlinearity not in _ACTIVATIONS:
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    check_array(weight_hh, "weight_hh", ("hidden_size", "hidden_size"))
    hidden = weight_hh.shape[0]
    check_array(weight_ih, "weight_ih", ("hidden_size", "input_size"), {"hidden_size": hidden})
    check_array(bias, "bias", ("hidden_size",), {"hidden_size": hidden})
    check_array(x_t, "x_t", ("batch", "input_size"), {"input_size": weight_ih.shape[1]})
    check_array(h_prev, "h_prev", ("batch", "hidden_size"),
                {"batch": x_t.shape[0], "hidden_size": hidden})
    return _ACTIVATIONS[nonlinearity](x_t @ weight_ih.T + h_prev @ weight_hh.T + bias)


def unroll(x: Tensor, h0: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias: Tensor,
           nonlinearity: str = "tanh") -> Tensor:
    """Apply :func:`rnn_step` along the sequence with the *same* weights at every step.

    Args:
        x: ``(batch, seq_len, input_size)`` (batch first); h0: ``(batch, hidden_size)``.

    Returns:
        All hidden states ``h_1 .. h_T``, shape ``(batch, seq_len, hidden_size)``: what
        ``torch.nn.RNN(..., batch_first=True)`` returns as ``output``.
    """
    check_array(x, "x", ("batch", "seq_len", "input_size"))
    h, states = h0, []
    for x_t in x.unbind(1):  # not x[:, t]: indexing makes backward quadratic in the length
        h = rnn_step(x_t, h, weight_ih, weight_hh, bias, nonlinearity)
        states.append(h)
    return torch.stack(states, dim=1)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable scalars of ``module``."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def window_mlp_param_count(seq_len: int, input_size: int, hidden_size: int,
                           output_size: int = 1) -> int:
    """Parameters of a one-hidden-layer MLP that reads a whole window of ``seq_len`` steps
    flattened into one vector: ``(seq_len * input_size + 1) * hidden_size +
    (hidden_size + 1) * output_size``. It grows with ``seq_len``; an RNN's count does not."""
    seq_len, input_size = (check_positive_int(seq_len, "seq_len"),
                           check_positive_int(input_size, "input_size"))
    hidden_size, output_size = (check_positive_int(hidden_size, "hidden_size"),
                                check_positive_int(output_size, "output_size"))
    return (seq_len * input_size + 1) * hidden_size + (hidden_size + 1) * output_size


def input_sensitivity(rnn: nn.RNN, x: Tensor) -> Tensor:
    r"""How strongly the first input still moves the hidden state ``t`` steps later.

    Runs a single-layer, unidirectional, batch-first ``rnn`` on ``x`` (shape
    ``(batch, seq_len, input_size)``, from ``h_0 = 0``) and returns, for ``t = 1 .. seq_len``,

    .. math:: s_t = \Big(\frac{1}{B} \sum_b \big\lVert \partial h_t^{(b)} /
              \partial x_1^{(b)} \big\rVert_F^2\Big)^{1/2},

    the Frobenius norm of the Jacobian of ``h_t`` with respect to ``x_1`` (root mean square
    over the batch), a float64 tensor of shape ``(seq_len,)``. Uses forward-mode
    differentiation: one pass per input feature gives one column of every Jacobian at once.
    """
    if (not isinstance(rnn, nn.RNN) or not rnn.batch_first or rnn.num_layers != 1
            or rnn.bidirectional):
        raise TypeError("rnn must be a single-layer, unidirectional torch.nn.RNN "
                        "with batch_first=True")
    check_array(x, "x", ("batch", "seq_len", "input_size"), {"input_size": rnn.input_size})
    x = x.to(next(rnn.parameters()))
    squares = torch.zeros(x.shape[1], dtype=torch.float64)
    for i in range(rnn.input_size):
        direction = torch.zeros_like(x)
        direction[:, 0, i] = 1.0                         # perturb feature i of x_1 only
        column = torch.func.jvp(lambda inp: rnn(inp)[0], (x,), (direction,))[1]
        squares += column.detach().double().pow(2).sum(dim=-1).mean(dim=0).cpu()
    return squares.sqrt()


def decay_per_step(values: Tensor) -> float:
    r"""The per-step factor :math:`r` of the geometric fit :math:`v_t \approx c\, r^t`.

    Least squares of :math:`\log v_t` against :math:`t = 1, 2, \dots` (the slope is
    :math:`\log r`); ``values`` is a positive 1-D tensor such as :func:`input_sensitivity`'s.
    :math:`r < 1` means the values shrink by that factor per step.

    Example: ``decay_per_step(torch.tensor([1.0, 0.5, 0.25]))`` is 0.5.
    """
    check_array(values, "values", ("seq_len",))
    if values.numel() < 2 or not bool((values > 0).all()):
        raise ValueError(f"values must hold at least 2 positive numbers, got {values.tolist()}")
    log_v = values.detach().double().log().cpu()
    t = torch.arange(1, len(log_v) + 1, dtype=torch.float64)
    slope = ((t - t.mean()) * (log_v - log_v.mean())).sum() / (t - t.mean()).pow(2).sum()
    return math.exp(float(slope))


# ---------------------------------------------------------------------------------------------
# Input/output patterns
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class IOPattern:
    """One input/output pattern of a recurrent model.

    Attributes:
        name: ``"1:1"``, ``"1:N"``, ``"N:1"``, ``"N:N"`` or ``"N:M"``.
        n_in, n_out: example numbers of input and output steps (for the diagrams).
        aligned: whether inputs and outputs share *one* time axis of a single RNN.
            ``True`` (1:1, 1:N, N:1, N:N): one chain of ``max(n_in, n_out)`` hidden states
            reads its inputs at the first ``n_in`` steps and writes its outputs at the last
            ``n_out`` (so N:1 writes once, at the end, and 1:N reads once, at the start).
            ``False`` (N:M): an encoder reads all ``n_in`` inputs first, and only then a
            separate decoder writes ``n_out`` outputs, on ``n_in + n_out`` steps in all, each
            output fed back as the decoder's next input. It does *not* mean "one output per
            input step": only N:N has that. :func:`draw_unrolled` lays the patterns out
            this way.
        example: a task with this pattern.
    """

    name: str
    n_in: int
    n_out: int
    aligned: bool
    example: str


IO_PATTERNS: dict[str, IOPattern] = {
    "1:1": IOPattern("1:1", 1, 1, True, "image classification"),
    "1:N": IOPattern("1:N", 1, 4, True, "image captioning"),
    "N:1": IOPattern("N:1", 4, 1, True, "review sentiment"),
    "N:N": IOPattern("N:N", 4, 4, True, "part-of-speech tagging"),
    "N:M": IOPattern("N:M", 3, 4, False, "translation"),
}


class PatternRNN(nn.Module):
    """A tiny RNN wired for one of the five input/output patterns.

    ===========  ===============================  ===========================================
    pattern      input                            output (logits)
    ===========  ===============================  ===========================================
    ``"1:1"``    ``(batch, input_size)``          ``(batch, output_size)``
    ``"1:N"``    ``(batch, input_size)``          ``(batch, n_out, output_size)``
    ``"N:1"``    ``(batch, seq_len, input_size)``  ``(batch, output_size)``
    ``"N:N"``    ``(batch, seq_len, input_size)``  ``(batch, seq_len, output_size)``
    ``"N:M"``    ``(batch, seq_len, input_size)``  ``(batch, n_out, output_size)``
    ===========  ===============================  ===========================================

    How each is built from ``torch.nn.RNN(batch_first=True)``, whose ``output`` holds every
    step's hidden state and ``h_n`` the last one:

    - 1:1: a sequence of length 1; keep ``output[:, 0]``.
    - 1:N: the input at step 1, zeros at steps 2..N; keep every step of ``output``.
    - N:1: keep only ``output[:, -1]`` (equal to ``h_n[-1]`` for one unidirectional layer).
    - N:N: keep every step of ``output``.
    - N:M: an encoder RNN reads all N inputs; its ``h_n`` starts a decoder RNN that runs M steps,
      fed its own previous prediction (zeros at the first step); keep the decoder's outputs.
    """

    def __init__(self, pattern: str, input_size: int, hidden_size: int,
                 output_size: int) -> None:
        super().__init__()
        if pattern not in IO_PATTERNS:
            raise ValueError(f"pattern must be one of {list(IO_PATTERNS)}, got {pattern!r}")
        self.pattern = pattern
        self.input_size = check_positive_int(input_size, "input_size")
        self.output_size = check_positive_int(output_size, "output_size")
        self.rnn = nn.RNN(input_size, check_positive_int(hidden_size, "hidden_size"),
                          batch_first=True)
        self.head = nn.Linear(hidden_size, output_size)
        self.decoder = (nn.RNN(output_size, hidden_size, batch_first=True)
                        if pattern == "N:M" else None)

    def forward(self, x: Tensor, n_out: int | None = None) -> Tensor:
        p = self.pattern
        if p in ("1:N", "N:M"):
            n_out = check_positive_int(n_out, "n_out")
        elif n_out is not None:
            raise ValueError(f"n_out is only used by patterns 1:N and N:M, not {p}")
        if p in ("1:1", "1:N"):
            check_array(x, "x", ("batch", "input_size"), {"input_size": self.input_size})
            steps = [x.unsqueeze(1)]
            if p == "1:N" and n_out is not None and n_out > 1:
                steps.append(x.new_zeros(x.shape[0], n_out - 1, self.input_size))
            output, _ = self.rnn(torch.cat(steps, dim=1))
            return self.head(output[:, 0] if p == "1:1" else output)
        check_array(x, "x", ("batch", "seq_len", "input_size"), {"input_size": self.input_size})
        output, h_n = self.rnn(x)
        if p == "N:1":
            return self.head(output[:, -1])
        if p == "N:N":
            return self.head(output)
        assert self.decoder is not None and n_out is not None
        h, y_prev, outputs = h_n, x.new_zeros(x.shape[0], 1, self.output_size), []
        for _ in range(n_out):
            step, h = self.decoder(y_prev, h)
            y_prev = self.head(step)
            outputs.append(y_prev)
        return torch.cat(outputs, dim=1)


# ---------------------------------------------------------------------------------------------
# Diagrams
# ---------------------------------------------------------------------------------------------

# Box size and the spacing of columns (_DX) and rows (_DY): inputs at y = 0, hidden states at
# _DY, outputs at 2 _DY. Drawn with rnncourse.plotting's box, arrow and finish_diagram.
_BOX_W, _BOX_H, _DX, _DY = 0.62, 0.42, 1.0, 0.95
_YLIM = (-0.45, 2 * _DY + 0.55)


def draw_unrolled(ax: plt.Axes, n_in: int, n_out: int, aligned: bool = True,
                  title: str | None = None, show_weights: bool = False,
                  min_width: float = 0.0) -> dict[str, int]:
    """Draw an RNN unrolled in time: inputs (bottom), hidden states (middle), outputs (top).

    Aligned patterns use ``max(n_in, n_out)`` steps, inputs at the first ``n_in`` and outputs
    at the last ``n_out``; so 1:N reads at step 1 and writes at every step, N:1 reads at every
    step and writes at the last. Unaligned (N:M) uses ``n_in + n_out`` steps: an encoder reads
    ``n_in`` inputs, then a decoder (hidden states ``s_t``) writes ``n_out`` outputs, and a
    dashed arrow feeds each output ``y_k`` back as the input of the next decoder step
    ``s_{k+1}`` (the arrows have ``gid`` ``"feedback"``).

    Args:
        ax: the axes to draw on (turned into a blank canvas).
        n_in, n_out: numbers of input and output steps.
        aligned: False for the encoder–decoder (N:M) layout.
        title: optional axes title.
        show_weights: label the arrows with the shared matrices ``W_xh``, ``W_hh``, ``W_hy``.
        min_width: widen the canvas to at least this many data units (centred), so that a
            narrow diagram keeps room for its title.

    Returns:
        ``{"steps", "inputs", "hidden", "outputs", "feedback"}``: the numbers of steps, boxes
        of each row, and feedback arrows drawn.
    """
    n_in, n_out = check_positive_int(n_in, "n_in"), check_positive_int(n_out, "n_out")
    steps = max(n_in, n_out) if aligned else n_in + n_out
    for t in range(steps):
        x = t * _DX
        decoder = not aligned and t >= n_in
        name = f"s_{{{t - n_in + 1}}}" if decoder else f"h_{{{t + 1}}}"
        box(ax, x, _DY, f"${name}$", PALETTE["sky"] if decoder else PALETTE["orange"],
            _BOX_W, _BOX_H)
        if t < n_in:
            box(ax, x, 0.0, f"$x_{{{t + 1}}}$", PALETTE["blue"], _BOX_W, _BOX_H)
            arrow(ax, (x, _BOX_H / 2), (x, _DY - _BOX_H / 2),
                  label="$W_{xh}$" if show_weights else None, label_offset=(0.3, 0.0))
        if t >= steps - n_out:
            k = t - (steps - n_out) + 1
            box(ax, x, 2 * _DY, f"$y_{{{k}}}$", PALETTE["green"], _BOX_W, _BOX_H)
            arrow(ax, (x, _DY + _BOX_H / 2), (x, 2 * _DY - _BOX_H / 2),
                  label="$W_{hy}$" if show_weights else None, label_offset=(0.3, 0.0))
        if t > 0:
            arrow(ax, ((t - 1) * _DX + _BOX_W / 2, _DY), (x - _BOX_W / 2, _DY),
                  label="$W_{hh}$" if show_weights else None, label_offset=(0.0, -0.22))
    feedback = 0
    if not aligned:                                  # y_k -> s_{k+1}: the decoder's input
        for t in range(steps - n_out, steps - 1):
            _feedback_arrow(ax, t * _DX)
            feedback += 1
    left, right = -0.6, steps * _DX - 0.4
    pad = max(0.0, (min_width - (right - left)) / 2)
    finish_diagram(ax, (left - pad, right + pad), _YLIM, title)
    return {"steps": steps, "inputs": n_in, "hidden": steps, "outputs": n_out,
            "feedback": feedback}


def _feedback_arrow(ax: plt.Axes, x: float) -> None:
    """Dashed arrow from the output box at column ``x`` down to the state box one step later."""
    patch = arrow(ax, (x + _BOX_W / 2 - 0.08, 2 * _DY - _BOX_H / 2),
                  (x + _DX - _BOX_W / 2 + 0.08, _DY + _BOX_H / 2), PALETTE["green"],
                  linestyle="--")
    patch.set_gid("feedback")


def draw_folded(ax: plt.Axes, title: str | None = None) -> None:
    """Draw the folded (compact) RNN: ``x_t -> h_t -> y_t`` with a self-loop on ``h_t`` that
    stands for ``W_hh`` feeding ``h_{t-1}`` back in (the loop means "one step later")."""
    box(ax, 0.0, 0.0, "$x_t$", PALETTE["blue"], _BOX_W, _BOX_H)
    box(ax, 0.0, _DY, "$h_t$", PALETTE["orange"], _BOX_W, _BOX_H)
    box(ax, 0.0, 2 * _DY, "$y_t$", PALETTE["green"], _BOX_W, _BOX_H)
    arrow(ax, (0.0, _BOX_H / 2), (0.0, _DY - _BOX_H / 2), label="$W_{xh}$",
          label_offset=(0.3, 0.0))
    arrow(ax, (0.0, _DY + _BOX_H / 2), (0.0, 2 * _DY - _BOX_H / 2), label="$W_{hy}$",
          label_offset=(0.3, 0.0))
    arrow(ax, (_BOX_W / 2, _DY + 0.1), (_BOX_W / 2, _DY - 0.1), rad=-2.6)  # the self-loop
    ax.text(_BOX_W / 2 + 0.55, _DY, "$W_{hh}$", ha="center", va="center", fontsize=8,
            color=PALETTE["vermillion"])
    finish_diagram(ax, (-0.9, 1.3), _YLIM, title)


def folded_unrolled_figure(n_steps: int = 4) -> plt.Figure:
    """The folded RNN (left) next to the same network unrolled for ``n_steps`` steps (right),
    with the shared weight matrices labelled on every arrow."""
    n_steps = check_positive_int(n_steps, "n_steps")
    width = max(n_steps * _DX + 0.2, 3.4)            # data units: room for the title
    fig, (left, right) = plt.subplots(1, 2, figsize=(2.2 + 1.3 * width, 3.4),
                                      gridspec_kw={"width_ratios": [2.2, width]})
    draw_folded(left, "folded:\none cell, a loop")
    steps = "1 step" if n_steps == 1 else f"{n_steps} steps"
    draw_unrolled(right, n_steps, n_steps, show_weights=True, min_width=width,
                  title=f"unrolled for {steps}:\nthe same weights at every step")
    return fig


def io_patterns_figure() -> plt.Figure:
    """The five input/output patterns of :data:`IO_PATTERNS`, each drawn unrolled, with a key."""
    fig = plt.figure(figsize=(10.0, 5.6))
    top, bottom = fig.subfigures(2, 1)
    rows: list[tuple[Any, list[str], list[float]]] = [
        (top, ["1:1", "1:N", "N:1"], [2.4, 4, 4]), (bottom, ["N:N", "N:M"], [4, 7, 2.4])]
    for subfig, names, widths in rows:
        axes = subfig.subplots(1, len(widths), width_ratios=widths)
        for ax, name in zip(axes, names):  # the bottom row's last axes is the key
            p = IO_PATTERNS[name]
            draw_unrolled(ax, p.n_in, p.n_out, p.aligned, title=f"{name}\n{p.example}",
                          min_width=2.4)
    key = axes[-1]
    entries = [("input $x_t$", PALETTE["blue"]), ("hidden state $h_t$", PALETTE["orange"]),
               ("decoder state $s_t$", PALETTE["sky"]), ("output $y_t$", PALETTE["green"])]
    for i, (text, colour) in enumerate(entries):
        box(key, 0.0, 2 * _DY - i * 0.55, "", colour, _BOX_W, _BOX_H * 0.8)
        key.text(0.45, 2 * _DY - i * 0.55, text, va="center", fontsize=9)
    y_fed = 2 * _DY - 4 * 0.55
    arrow(key, (-0.3, y_fed + 0.15), (0.3, y_fed - 0.15), PALETTE["green"], linestyle="--")
    key.text(0.45, y_fed, "output fed back\nas the next input", va="center", fontsize=9)
    finish_diagram(key, (-0.5, 2.6), _YLIM)
    return fig
