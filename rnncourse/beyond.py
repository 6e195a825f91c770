r"""Beyond classic RNNs (chapter 13): linear recurrences, parallel scans, minGRU/minLSTM, attention.

A *linear* recurrence

.. math::

    h_t = a_t \odot h_{t-1} + b_t, \qquad t = 1, \dots, T,

whose coefficients :math:`a_t, b_t` depend on the inputs only (never on :math:`h_{t-1}`), can be
computed without a loop over time: the pairs :math:`(a_t, b_t)` compose with the associative
operator

.. math::

    (a_1, b_1) \bullet (a_2, b_2) = (a_1 a_2,\; a_2 b_1 + b_2)

("first step 1, then step 2"), so all prefixes are a *prefix sum* (scan) that parallel hardware
computes in :math:`\lceil \log_2 T \rceil` dependent rounds instead of :math:`T`
(Blelloch 1990). Feng et al. (2024) strip the GRU and the LSTM down to such recurrences:

.. math::

    \text{minGRU:}\quad z_t &= \sigma(W_z x_t + b_z), \quad
        \tilde h_t = g(W_h x_t + b_h), \quad h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t \\
    \text{minLSTM:}\quad f_t &= \sigma(W_f x_t + b_f), \; i_t = \sigma(W_i x_t + b_i), \;
        h_t = \tfrac{f_t}{f_t + i_t} \odot h_{t-1} + \tfrac{i_t}{f_t + i_t} \odot g(W_h x_t + b_h)

with :math:`g(x) = x + \tfrac12` for :math:`x \ge 0` and :math:`\sigma(x)` otherwise (positive,
so that :math:`\log \tilde h_t` exists). In log space the scan is

.. math::

    a^*_t = \sum_{s \le t} \log a_s, \qquad
    h_t = e^{a^*_t} h_0 + \exp\!\Big(a^*_t + \operatorname{logcumsumexp}_{s \le t}
        (\log b_s - a^*_s)\Big),

which never forms the products :math:`\prod a_s` (they underflow: the naive
``cumprod``/``cumsum`` scan :func:`naive_scan` overflows). In float32 the cumulative sum
:math:`a^*_t` grows like :math:`t` and the final subtraction loses digits, so
:func:`log_space_scan` accumulates in float64 by default.

Also here: a written-out causal self-attention and Transformer block (checked against
``torch.nn.MultiheadAttention`` / ``torch.nn.TransformerEncoderLayer``), a small character
Transformer with a key/value cache, and the memory accounting of that cache versus the constant
state of a recurrent network. Shapes: recurrences are time-major ``(T, ...)``; attention is
batch-first ``(N, L, E)`` as ``nn.MultiheadAttention(batch_first=True)``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .recurrent import RNNBase
from .validation import ShapeError, check_positive_int

__all__ = ["linear_recurrence_loop", "linear_recurrence_scan", "combine", "scan_schedule",
           "apply_schedule", "dependent_steps", "g", "log_g", "log_space_scan", "naive_scan",
           "min_gru_cell", "min_lstm_cell", "min_gru_coefficients", "min_lstm_coefficients",
           "MinGRU", "MinLSTM", "causal_mask", "self_attention", "transformer_block",
           "CharTransformer", "sliding_bits_per_char", "kv_cache_bytes", "state_bytes",
           "SCAN_KINDS", "lm_loss", "train_char_model", "race_models", "time_recurrences",
           "draw_gates", "draw_scan"]

Tensor = torch.Tensor
SCAN_KINDS = ("sequential", "hillis-steele", "blelloch")


# --- linear recurrences: the loop and the scan -----------------------------------------------

def _check_ab(a: Any, b: Any, h0: Any = None) -> None:
    for name, value in (("a", a), ("b", b)):
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            raise TypeError(f"{name} must be a floating-point torch.Tensor of shape (T, ...), "
                            f"got {type(value).__name__} {getattr(value, 'dtype', '')}")
    if a.shape != b.shape or a.dim() < 1 or a.shape[0] == 0:
        raise ShapeError(f"a and b must have the same shape (T, ...) with T >= 1, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    if a.dtype != b.dtype:
        raise TypeError(f"a and b must have one dtype, got {a.dtype} and {b.dtype}")
    if h0 is not None and (not isinstance(h0, torch.Tensor) or h0.shape != a.shape[1:]):
        raise ShapeError(f"h0 must be a tensor of shape {tuple(a.shape[1:])} (a's shape without "
                         f"T), got {type(h0).__name__} {tuple(getattr(h0, 'shape', ()))}")


def linear_recurrence_loop(a: Tensor, b: Tensor, h0: Tensor | None = None) -> Tensor:
    r"""All states of :math:`h_t = a_t \odot h_{t-1} + b_t`, one step after another.

    ``a``, ``b``: ``(T, ...)``; ``h0``: ``(...)`` (zeros if ``None``). Returns ``(T, ...)``:
    ``T`` dependent steps, each waiting for the previous one.
    """
    _check_ab(a, b, h0)
    h = torch.zeros_like(b[0]) if h0 is None else h0
    states = []
    for a_t, b_t in zip(a.unbind(0), b.unbind(0)):   # never a[t]: backward would be quadratic
        h = a_t * h + b_t                            # (...)
        states.append(h)
    return torch.stack(states)                       # (T, ...)


def combine(earlier: tuple[Tensor, Tensor], later: tuple[Tensor, Tensor]
            ) -> tuple[Tensor, Tensor]:
    r"""The scan operator: ``earlier`` then ``later`` is :math:`(a_1 a_2, a_2 b_1 + b_2)`."""
    (a1, b1), (a2, b2) = earlier, later
    return a1 * a2, a2 * b1 + b2


def linear_recurrence_scan(a: Tensor, b: Tensor, h0: Tensor | None = None) -> Tensor:
    r"""The same states by a Hillis–Steele scan: :math:`\lceil \log_2 T \rceil` rounds.

    Round :math:`k` combines every position :math:`t` with position :math:`t - 2^k` (all at
    once: one vectorised operation per round). After the rounds position :math:`t` holds the
    composition of steps :math:`1..t`, i.e. :math:`(\prod_{s \le t} a_s, h_t \text{ from } 0)`.
    """
    _check_ab(a, b, h0)
    A, B = a, b                                      # (T, ...): the prefix of length 1
    shift = 1
    while shift < a.shape[0]:
        A_prev = torch.cat([torch.ones_like(A[:shift]), A[:-shift]])   # identity (1, 0) pads
        B_prev = torch.cat([torch.zeros_like(B[:shift]), B[:-shift]])
        A, B = combine((A_prev, B_prev), (A, B))     # every t at once: t-2^k, then t
        shift *= 2
    return B if h0 is None else A * h0 + B           # (T, ...)


def scan_schedule(T: int, kind: str = "hillis-steele") -> list[list[tuple[int, int]]]:
    """The rounds of a scan over ``T`` positions: each round a list of ``(source, target)``.

    In a round, every pair sets ``x[target] = x[source] • x[target]``; the pairs of one round are
    independent (parallel hardware runs them at once), the rounds are not. ``kind``:

    - ``"sequential"``: the loop, ``T - 1`` rounds of one combine each.
    - ``"hillis-steele"``: ``ceil(log2 T)`` rounds, about ``T log2 T`` combines.
    - ``"blelloch"``: work-efficient (up-sweep, then down-sweep, in Brent–Kung's inclusive form):
      about ``2 log2 T`` rounds and fewer than ``2 T`` combines.
    """
    T = check_positive_int(T, "T")
    if kind not in SCAN_KINDS:
        raise ValueError(f"kind must be one of {SCAN_KINDS}, got {kind!r}")
    if kind == "sequential":
        return [[(t - 1, t)] for t in range(1, T)]
    if kind == "hillis-steele":
        rounds, shift = [], 1
        while shift < T:
            rounds.append([(t - shift, t) for t in range(shift, T)])
            shift *= 2
        return rounds
    rounds, d = [], 1
    while d < T:                                     # up-sweep: sums of blocks of 2d
        rounds.append([(i - d, i) for i in range(2 * d - 1, T, 2 * d)])
        d *= 2
    d //= 2
    while d >= 1:                                    # down-sweep: fill in the gaps
        pairs = [(i - d, i) for i in range(3 * d - 1, T, 2 * d)]
        if pairs:
            rounds.append(pairs)
        d //= 2
    return [r for r in rounds if r]


def apply_schedule(a: Tensor, b: Tensor, schedule: list[list[tuple[int, int]]]) -> Tensor:
    """Run ``schedule`` (from :func:`scan_schedule`) on the pairs ``(a_t, b_t)``; returns
    ``h_t`` from ``h_0 = 0`` for every ``t`` (``(T, ...)``), to check the schedule is a scan."""
    _check_ab(a, b)
    A, B = list(a.unbind(0)), list(b.unbind(0))
    for pairs in schedule:
        new = {t: combine((A[s], B[s]), (A[t], B[t])) for s, t in pairs}  # read, then write
        for t, (a_t, b_t) in new.items():
            A[t], B[t] = a_t, b_t
    return torch.stack(B)


def dependent_steps(T: int, kind: str = "hillis-steele") -> dict[str, int]:
    """``{"depth": rounds, "work": combines}`` of a scan over ``T`` steps (see
    :func:`scan_schedule`): depth is what a machine with enough parallel units waits for."""
    schedule = scan_schedule(T, kind)
    return {"depth": len(schedule), "work": sum(len(r) for r in schedule)}


# --- log space -------------------------------------------------------------------------------

def g(x: Tensor) -> Tensor:
    r"""Feng et al.'s positive activation: :math:`x + \frac12` for :math:`x \ge 0`, else
    :math:`\sigma(x)` (continuous at 0, always :math:`> 0`)."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_g(x: Tensor) -> Tensor:
    r""":math:`\log g(x)`, computed without forming :math:`g(x)` where it underflows:
    :math:`\log(x + \frac12)` for :math:`x \ge 0`, :math:`-\operatorname{softplus}(-x)` else."""
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


def log_space_scan(log_a: Tensor, log_b: Tensor, h0: Tensor | None = None,
                   accumulate: torch.dtype | None = torch.float64) -> Tensor:
    r"""All :math:`h_t = a_t h_{t-1} + b_t` for positive :math:`a_t, b_t` given in log space.

    ``log_a``, ``log_b``: ``(T, ...)``; ``h0``: ``(...)`` of any sign (zeros if ``None``).
    :math:`h_t = e^{a^*_t} h_0 + \exp(a^*_t + \operatorname{logcumsumexp}(\log b - a^*)_t)`
    with :math:`a^*_t = \sum_{s \le t} \log a_s`. The cumulative sums are computed in
    ``accumulate`` (float64 by default; ``None``: the input's dtype, which drifts in float32).
    """
    _check_ab(log_a, log_b, h0)
    dtype = log_a.dtype if accumulate is None else accumulate
    a_star = torch.cumsum(log_a.to(dtype), dim=0)                        # (T, ...)
    log_h = a_star + torch.logcumsumexp(log_b.to(dtype) - a_star, dim=0)  # h_t from h_0 = 0
    h = torch.exp(log_h)
    if h0 is not None:
        h = h + torch.exp(a_star) * h0.to(dtype)                          # h_0's decayed share
    return h.to(log_a.dtype)


def naive_scan(a: Tensor, b: Tensor, h0: Tensor | None = None) -> Tensor:
    r"""The textbook closed form :math:`h_t = A_t (h_0 + \sum_{s \le t} b_s / A_s)`,
    :math:`A_t = \prod_{s \le t} a_s`: exact algebra, but :math:`A_t \to 0` underflows and
    :math:`b_s / A_s` overflows once :math:`T` is a few hundred (the lesson of §13.5)."""
    _check_ab(a, b, h0)
    A = torch.cumprod(a, dim=0)                      # (T, ...): underflows to 0
    inside = torch.cumsum(b / A, dim=0)              # overflows to inf
    return A * (inside if h0 is None else h0 + inside)


# --- minGRU and minLSTM ----------------------------------------------------------------------

def min_gru_cell(x: Tensor, h: Tensor, weight_ih: Tensor, bias_ih: Tensor) -> Tensor:
    """One minGRU step: the gates read ``x_t`` only, never ``h_{t-1}``."""
    k_z, k_h = F.linear(x, weight_ih, bias_ih).chunk(2, dim=-1)   # (N, H) each
    z = torch.sigmoid(k_z)                                        # update gate
    h_tilde = g(k_h)                                              # candidate, > 0
    return (1 - z) * h + z * h_tilde                              # (N, H)


def min_lstm_cell(x: Tensor, h: Tensor, weight_ih: Tensor, bias_ih: Tensor) -> Tensor:
    """One minLSTM step: forget and input gates from ``x_t`` only, normalised to sum to 1."""
    k_f, k_i, k_h = F.linear(x, weight_ih, bias_ih).chunk(3, dim=-1)  # (N, H) each
    f, i = torch.sigmoid(k_f), torch.sigmoid(k_i)
    f_norm, i_norm = f / (f + i), i / (f + i)                           # f' + i' = 1
    return f_norm * h + i_norm * g(k_h)                                 # (N, H)


def min_gru_coefficients(inputs: Tensor, weight_ih: Tensor, bias_ih: Tensor
                         ) -> tuple[Tensor, Tensor]:
    r"""``(log a, log b)`` of minGRU for all steps at once: :math:`a = 1 - z`,
    :math:`b = z \tilde h`; :math:`\log(1 - \sigma(k)) = -\operatorname{softplus}(k)`."""
    k_z, k_h = F.linear(inputs, weight_ih, bias_ih).chunk(2, dim=-1)   # (T, N, H) each
    log_a = -F.softplus(k_z)                                           # log(1 - z)
    log_b = -F.softplus(-k_z) + log_g(k_h)                             # log z + log h~
    return log_a, log_b


def min_lstm_coefficients(inputs: Tensor, weight_ih: Tensor, bias_ih: Tensor
                          ) -> tuple[Tensor, Tensor]:
    r"""``(log a, log b)`` of minLSTM: :math:`\log f' = -\operatorname{softplus}(d)`,
    :math:`\log i' = -\operatorname{softplus}(-d)` with
    :math:`d = \operatorname{softplus}(-k_f) - \operatorname{softplus}(-k_i)
    = \log i - \log f`."""
    k_f, k_i, k_h = F.linear(inputs, weight_ih, bias_ih).chunk(3, dim=-1)
    diff = F.softplus(-k_f) - F.softplus(-k_i)                         # log i - log f
    return -F.softplus(diff), -F.softplus(-diff) + log_g(k_h)


class _MinRNN(RNNBase):
    """A recurrent layer whose gates read only ``x_t``: a step loop or a log-space scan."""

    coefficients: Any = None
    MODES = ("scan", "loop")

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, mode: str = "scan",
                 accumulate: torch.dtype | None = torch.float64,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        if mode not in self.MODES:
            raise ValueError(f"mode must be 'scan' (log-space parallel scan) or 'loop' (step "
                             f"by step), got {mode!r}")
        if accumulate is not None and not (isinstance(accumulate, torch.dtype)
                                           and accumulate.is_floating_point):
            raise TypeError(f"accumulate must be a floating torch.dtype or None, got "
                            f"{accumulate!r}")
        self.mode, self.accumulate = mode, accumulate
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)

    def _parameter_shapes(self, layer_in: int) -> dict[str, tuple[int, ...]]:
        rows = self.num_gates * self.hidden_size
        return {"weight_ih": (rows, layer_in), **({"bias_ih": (rows,)} if self.bias else {})}

    def layer_weights(self, layer: int, direction: int = 0) -> tuple[Tensor, ...]:
        sfx = "_reverse" if direction == 1 else ""
        w = getattr(self, f"weight_ih_l{layer}{sfx}")
        b = getattr(self, f"bias_ih_l{layer}{sfx}") if self.bias else w.new_zeros(w.shape[0])
        return w, b

    def _extra_repr_options(self) -> dict[str, tuple[Any, Any]]:
        return {**super()._extra_repr_options(), "mode": (self.mode, "scan")}

    def run_direction(self, inputs: Tensor, state: tuple[Tensor, ...],
                      weights: tuple[Tensor, ...], reverse: bool = False,
                      record: dict | None = None) -> tuple[Tensor, tuple[Tensor, ...]]:
        if self.mode == "loop" or record is not None:
            return super().run_direction(inputs, state, weights, reverse, record)
        x = inputs.flip(0) if reverse else inputs                     # (L, N, H_in)
        log_a, log_b = type(self).coefficients(x, *weights)           # (L, N, H) each
        h = log_space_scan(log_a, log_b, state[0], self.accumulate)   # (L, N, H)
        return (h.flip(0) if reverse else h), (h[-1],)


class MinGRU(_MinRNN):
    r"""minGRU (Feng et al. 2024) with :class:`torch.nn.GRU`'s API (plus ``mode``).

    :math:`z_t = \sigma(W_z x_t + b_z)`, :math:`\tilde h_t = g(W_h x_t + b_h)`,
    :math:`h_t = (1 - z_t) h_{t-1} + z_t \tilde h_t` (see the module docstring).

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
        device, dtype: as :class:`torch.nn.GRU`.
        mode: ``"scan"`` (log-space parallel scan, :func:`log_space_scan`) or ``"loop"``
            (:func:`min_gru_cell` step by step); the same function of the same weights.
        accumulate: dtype of the scan's cumulative sums (float64; ``None`` = input dtype).

    Parameters: ``weight_ih_l{k}{sfx}`` ``(2H, H_in)`` (blocks z, h) and ``bias_ih_l{k}{sfx}``
    ``(2H,)``; there is no ``weight_hh``: nothing multiplies ``h_{t-1}`` but the gate.

    Inputs/Outputs: as :class:`torch.nn.GRU`: ``input`` ``(L, N, H_in)`` (``(N, L, H_in)``
    with ``batch_first``), ``hx`` ``(D·num_layers, N, H)`` → ``output``, ``h_n``.

    Example::

        >>> m = MinGRU(3, 5, batch_first=True)
        >>> out, h_n = m(torch.randn(2, 7, 3))
        >>> out.shape, h_n.shape
        (torch.Size([2, 7, 5]), torch.Size([1, 2, 5]))
    """

    num_gates = 2
    state_names = ("h",)
    cell = staticmethod(min_gru_cell)
    coefficients = staticmethod(min_gru_coefficients)


class MinLSTM(_MinRNN):
    r"""minLSTM (Feng et al. 2024) with :class:`torch.nn.GRU`'s API (plus ``mode``).

    :math:`f_t, i_t = \sigma(W_f x_t + b_f), \sigma(W_i x_t + b_i)`,
    :math:`h_t = \frac{f_t}{f_t + i_t} h_{t-1} + \frac{i_t}{f_t + i_t} g(W_h x_t + b_h)`;
    one state ``h`` (no cell state). Parameters ``weight_ih_l{k}`` ``(3H, H_in)`` (blocks
    f, i, h) and ``bias_ih_l{k}`` ``(3H,)``; arguments as :class:`MinGRU`.
    """

    num_gates = 3
    state_names = ("h",)
    cell = staticmethod(min_lstm_cell)
    coefficients = staticmethod(min_lstm_coefficients)


# --- self-attention and a Transformer block, written out -------------------------------------

def causal_mask(L: int, device: torch.device | str | None = None) -> Tensor:
    """``(L, L)`` bool, ``True`` where attention is *forbidden* (key after query), as torch."""
    return torch.ones(L, L, dtype=torch.bool, device=device).triu(1)


def self_attention(x: Tensor, in_proj_weight: Tensor, in_proj_bias: Tensor,
                   out_proj_weight: Tensor, out_proj_bias: Tensor, num_heads: int,
                   mask: Tensor | None = None) -> Tensor:
    r"""Multi-head self-attention :math:`\operatorname{softmax}(QK^\top/\sqrt{d})V`, batch-first.

    ``x``: ``(N, L, E)``; weights as ``nn.MultiheadAttention`` (``in_proj_weight`` ``(3E, E)``:
    blocks Q, K, V); ``mask`` ``(L, L)`` bool, ``True`` = forbidden. Returns ``(N, L, E)``.
    """
    N, L, E = x.shape
    d = E // num_heads
    q, k, v = F.linear(x, in_proj_weight, in_proj_bias).chunk(3, dim=-1)   # (N, L, E) each
    q, k, v = (t.view(N, L, num_heads, d).transpose(1, 2) for t in (q, k, v))  # (N, h, L, d)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)                        # (N, h, L, L)
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))                   # no peeking ahead
    context = scores.softmax(dim=-1) @ v                                   # (N, h, L, d)
    return F.linear(context.transpose(1, 2).reshape(N, L, E), out_proj_weight, out_proj_bias)


def transformer_block(x: Tensor, layer: nn.TransformerEncoderLayer, mask: Tensor | None = None
                      ) -> Tensor:
    """``layer``'s computation written out (ReLU feed-forward, dropout off), pre- or post-norm.

    Pre-norm (``norm_first=True``): ``x + SA(LN1 x)``, then ``+ FF(LN2 ·)``; post-norm:
    ``LN1(x + SA x)``, then ``LN2(· + FF ·)``. ``x`` ``(N, L, E)`` → ``(N, L, E)``.
    """
    attn = layer.self_attn

    def sa(u: Tensor) -> Tensor:
        return self_attention(u, attn.in_proj_weight, attn.in_proj_bias, attn.out_proj.weight,
                              attn.out_proj.bias, attn.num_heads, mask)

    def ff(u: Tensor) -> Tensor:
        return layer.linear2(F.relu(layer.linear1(u)))

    if layer.norm_first:
        x = x + sa(layer.norm1(x))
        return x + ff(layer.norm2(x))
    x = layer.norm1(x + sa(x))
    return layer.norm2(x + ff(x))


class CharTransformer(nn.Module):
    """A small causal character Transformer with :class:`rnncourse.text.CharLM`'s call shape.

    Token and learned position embeddings, ``num_layers`` pre-norm
    ``nn.TransformerEncoderLayer`` blocks (batch-first, ReLU), a final layer norm and a linear
    head. ``forward(ids)`` takes ``(T, N)`` ids (time-major, ``T <= context``) and returns
    ``(logits (T, N, V), None)``; :meth:`step` generates with a key/value cache.
    """

    def __init__(self, vocab_size: int, d_model: int = 96, nhead: int = 4, num_layers: int = 2,
                 dim_feedforward: int = 384, context: int = 128, dropout: float = 0.0) -> None:
        super().__init__()
        self.vocab_size = check_positive_int(vocab_size, "vocab_size")
        self.context = check_positive_int(context, "context")
        if d_model % nhead:
            raise ValueError(f"d_model={d_model} must be a multiple of nhead={nhead}")
        self.embed = nn.Embedding(vocab_size, d_model)
        self.position = nn.Embedding(context, d_model)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout,
                                       batch_first=True, norm_first=True)
            for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, ids: Tensor, state: Any = None) -> tuple[Tensor, None]:
        if not isinstance(ids, Tensor) or ids.dim() != 2 or ids.dtype != torch.long:
            raise ShapeError(f"ids must be a (T, batch) torch.long tensor, got "
                             f"{type(ids).__name__} {tuple(getattr(ids, 'shape', ()))}")
        T = ids.shape[0]
        if T > self.context:
            raise ShapeError(f"ids has {T} steps but the model's context is {self.context}: "
                             "a Transformer with learned positions sees at most that many")
        pos = torch.arange(T, device=ids.device)
        x = self.embed(ids.T) + self.position(pos)                     # (N, T, E)
        mask = causal_mask(T, ids.device)
        for layer in self.layers:
            x = layer(x, src_mask=mask, is_causal=True)
        return self.head(self.norm(x)).transpose(0, 1), None           # (T, N, V)

    @torch.no_grad()
    def step(self, ids: Tensor, cache: list[tuple[Tensor, Tensor]] | None = None
             ) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
        """Logits ``(N, V)`` for one new token per sequence (``ids`` ``(N,)``), reusing the
        keys and values of earlier tokens: ``cache`` holds ``(K, V)`` per layer, each
        ``(N, heads, t, d)``, and grows by one position per call."""
        cache = [] if cache is None else cache
        t = cache[0][0].shape[2] if cache else 0
        if t >= self.context:
            raise ValueError(f"the cache is full: {t} tokens, context {self.context}")
        x = self.embed(ids) + self.position.weight[t]                 # (N, E)
        new_cache = []
        for j, layer in enumerate(self.layers):
            attn = layer.self_attn
            N, E = x.shape
            h, d = attn.num_heads, E // attn.num_heads
            q, k, v = F.linear(layer.norm1(x), attn.in_proj_weight,
                               attn.in_proj_bias).chunk(3, dim=-1)    # (N, E) each
            q, k, v = (u.view(N, h, 1, d) for u in (q, k, v))
            if cache:
                k = torch.cat([cache[j][0], k], dim=2)                # (N, h, t+1, d)
                v = torch.cat([cache[j][1], v], dim=2)
            new_cache.append((k, v))
            w = (q @ k.transpose(-2, -1) / math.sqrt(d)).softmax(-1)  # (N, h, 1, t+1)
            x = x + attn.out_proj((w @ v).reshape(N, E))
            x = x + layer.linear2(F.relu(layer.linear1(layer.norm2(x))))
        return self.head(self.norm(x)), new_cache


@torch.no_grad()
def sliding_bits_per_char(model: nn.Module, ids: Tensor, context: int, stride: int,
                          batch: int = 32) -> float:
    """Bits per character of ``model`` on ``ids`` read in windows of ``context`` characters.

    Windows start every ``stride`` characters; each scores only its last ``stride`` targets
    (the first window scores all), so every character is predicted from at least
    ``context - stride`` characters of context and each exactly once. ``model(ids (T, N))``
    returns ``(logits, state)`` as :class:`CharTransformer` and ``CharLM`` do; the state
    starts from zeros in each window.
    """
    context, stride = check_positive_int(context, "context"), check_positive_int(stride, "stride")
    if stride > context:
        raise ValueError(f"stride={stride} must be <= context={context}")
    device = next(model.parameters()).device
    starts = list(range(0, len(ids) - context, stride))
    was_training = model.training
    model.eval()
    nats, count = 0.0, 0
    for i in range(0, len(starts), batch):
        s = torch.tensor(starts[i:i + batch])
        window = ids[s[None, :] + torch.arange(context + 1)[:, None]].to(device)  # (C+1, n)
        logits, _ = model(window[:-1])                                  # (C, n, V)
        first = torch.where(s == 0, 0, context - stride).to(device)     # score from here on
        keep = torch.arange(context, device=device)[:, None] >= first[None, :]   # (C, n)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(),
                               window[1:].reshape(-1), reduction="none").view(context, -1)
        nats += loss[keep].sum().item()
        count += int(keep.sum())
    model.train(was_training)
    return nats / count / math.log(2)


# --- memory at inference ---------------------------------------------------------------------

def kv_cache_bytes(num_layers: int, d_model: int, tokens: int, batch: int = 1,
                   bytes_per_value: int = 4) -> int:
    """Bytes of a key/value cache: ``2 (K and V) × layers × tokens × d_model × batch`` values."""
    return 2 * num_layers * tokens * d_model * batch * bytes_per_value


def state_bytes(state: Tensor | tuple[Tensor, ...]) -> int:
    """Bytes held by a recurrent state (a tensor or a tuple such as LSTM's ``(h, c)``) or by
    a list of cached ``(K, V)`` tensors."""
    if isinstance(state, Tensor):
        return state.numel() * state.element_size()
    return sum(state_bytes(s) for s in state)


# --- training a character model (the same pipeline for every architecture) -------------------

def lm_loss(output: tuple[Tensor, Any], targets: Tensor) -> Tensor:
    """Cross-entropy (nats) of ``(logits (T, N, V), state)`` against ``targets`` ``(T, N)``."""
    logits = output[0]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def train_char_model(model: nn.Module, train_ids: Tensor, steps: int, seq_len: int = 128,
                     batch: int = 16, lr: float = 3e-3, warmup: int = 50, seed: int = 0,
                     device: torch.device | None = None, desc: str | None = None) -> Any:
    """Train any ``(T, N) ids → (logits, state)`` model on random windows of ``train_ids``.

    AdamW (``betas=(0.9, 0.99)``), ``warmup`` linear warm-up steps then cosine decay to 0,
    gradient-norm clipping at 1, windows of ``seq_len`` characters from
    :func:`rnncourse.text.random_windows` seeded by ``seed`` (the same windows for every
    model). Returns :func:`rnncourse.training.fit`'s ``History`` (``seconds``: training time).
    """
    from .text import random_windows
    from .training import fit

    steps = check_positive_int(steps, "steps")
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.99))

    def schedule(done: int, _: nn.Module) -> None:
        scale = (done + 1) / warmup if done < warmup else \
            0.5 * (1 + math.cos(math.pi * (done - warmup) / max(1, steps - warmup)))
        for group in opt.param_groups:
            group["lr"] = lr * scale

    def make_batch(gen: torch.Generator) -> tuple[Tensor, Tensor]:
        return random_windows(train_ids, seq_len, batch, generator=gen)

    return fit(model, make_batch, steps, loss_fn=lm_loss, clip=1.0, eval_every=steps,
               seed=seed, device=device, desc=desc, optimizer=opt, before_step=schedule)


def race_models(vocab_size: int, seed: int = 0) -> dict[str, nn.Module]:
    """The four character models of §13.7, of about equal size (~130k parameters each).

    ``"LSTM"``: :class:`rnncourse.text.CharLM` over ``nn.LSTM(V, 128)``; ``"GRU"``: ``CharLM``
    over ``nn.GRU(V, 152)``; ``"Transformer"``: :class:`CharTransformer` (``d_model`` 64,
    4 heads, 2 blocks, feed-forward 256, context 128); ``"minGRU"``: ``CharLM`` over a 2-layer
    :class:`MinGRU` of width 192 (log-space scan). Each is initialised after
    ``torch.manual_seed(seed + k)``.
    """
    from .text import CharLM

    makers = {"LSTM": lambda: CharLM(vocab_size, nn.LSTM(vocab_size, 128)),
              "Transformer": lambda: CharTransformer(vocab_size, 64, 4, 2, 256, context=128),
              "minGRU": lambda: CharLM(vocab_size, MinGRU(vocab_size, 192, num_layers=2)),
              "GRU": lambda: CharLM(vocab_size, nn.GRU(vocab_size, 152))}
    models = {}
    for k, (name, make) in enumerate(makers.items()):
        torch.manual_seed(seed + k)
        models[name] = make()
    return models


def time_recurrences(lengths: list[int], batch: int = 16, hidden: int = 64,
                     device: torch.device | str | None = None, repeats: int = 3,
                     rounds: int = 3) -> list[dict[str, Any]]:
    """Forward + backward seconds of minGRU (step loop, log-space scan) and ``nn.GRU``.

    One layer, ``hidden`` → ``hidden``, on ``(T, batch, hidden)`` inputs for each ``T`` in
    ``lengths``; medians of interleaved rounds (:func:`rnncourse.training.time_models`), so the
    ratios of one row are comparable. Returns one row per length: ``T``, the three times
    (``"loop"``, ``"scan"``, ``"nn.GRU"``) and the scan's and the loop's dependent steps.
    """
    from .training import time_models

    rows = []
    for T in lengths:
        T = check_positive_int(T, "T")
        torch.manual_seed(0)
        loop = MinGRU(hidden, hidden, mode="loop", device=device)
        scan = MinGRU(hidden, hidden, device=device)
        scan.load_state_dict(loop.state_dict())
        native = nn.GRU(hidden, hidden, device=device)
        x = torch.randn(T, batch, hidden, device=device)
        times = time_models({"loop": loop, "scan": scan, "nn.GRU": native}, x,
                            repeats=repeats, rounds=rounds)
        rows.append({"T": T, **times, "loop_depth": T,
                     "scan_depth": dependent_steps(T, "hillis-steele")["depth"]})
    return rows


# --- diagrams --------------------------------------------------------------------------------

def draw_gates(ax: Any, minimal: bool) -> dict[str, int]:
    """A GRU step (``minimal=False``) or a minGRU step: which boxes read ``h_{t-1}``.

    In the GRU, ``h_{t-1}`` feeds the reset gate, the update gate and the candidate; in the
    minGRU only the final mix ``(1 - z) h_{t-1} + z h~`` touches it. Returns the number of
    arrows that leave ``h_{t-1}`` (3 + 1 for the GRU, 1 for the minGRU).
    """
    from .plotting import PALETTE, arrow, box, finish_diagram

    box(ax, 0.5, 0.4, "$x_t$", PALETTE["sky"], zorder=3)
    box(ax, 0.5, 3.0, "$h_{t-1}$", PALETTE["orange"], zorder=3)
    gate_x = 2.0
    gates = [("$z_t$", 1.0)] if minimal else [("$r_t$", 0.8), ("$z_t$", 1.55)]
    cand = (r"$\tilde h_t$", 1.9) if minimal else (r"$n_t(r_t)$", 2.3)
    for label, y in [*gates, cand]:
        box(ax, gate_x, y, label, PALETTE["green"] if label != cand[0] else PALETTE["purple"],
            width=0.75, zorder=3)
        arrow(ax, (0.8, 0.5), (gate_x - 0.4, y))                     # x_t feeds every box
    from_h = 0
    if not minimal:
        for _, y in [*gates, cand]:
            arrow(ax, (0.8, 2.9), (gate_x - 0.4, y + 0.05), PALETTE["vermillion"])
            from_h += 1
    box(ax, 3.5, 1.6, "mix", "white", zorder=3)
    arrow(ax, (0.8, 3.05), (3.5, 1.85), PALETTE["vermillion"], rad=-0.25)
    from_h += 1
    for _, y in [gates[-1], cand]:
        arrow(ax, (gate_x + 0.4, y), (3.18, 1.6))
    box(ax, 4.6, 1.6, "$h_t$", PALETTE["orange"], zorder=3)
    arrow(ax, (3.82, 1.6), (4.28, 1.6))
    title = ("minGRU: gates read $x_t$ only" if minimal
             else "GRU: $h_{t-1}$ enters every gate")
    finish_diagram(ax, (0.0, 5.1), (0.0, 3.4), title)
    return {"arrows_from_h": from_h}


def draw_scan(ax: Any, T: int = 8, kind: str = "hillis-steele") -> dict[str, int]:
    """The dependency graph of a scan over ``T`` positions (columns) and its rounds (rows)."""
    from .plotting import PALETTE, arrow, finish_diagram

    schedule = scan_schedule(T, kind)
    R = len(schedule)
    for r in range(R + 1):
        ax.scatter(range(T), [-r] * T, s=60, color=PALETTE["blue"] if r else PALETTE["black"],
                   zorder=3)
        ax.text(-0.8, -r, "input" if r == 0 else f"round {r}", ha="right", va="center",
                fontsize=8)
    for r, pairs in enumerate(schedule):
        for s, t in pairs:
            arrow(ax, (s, -r), (t, -r - 1), PALETTE["vermillion"], linewidth=0.9, head_size=7)
        for t in set(range(T)) - {t for _, t in pairs}:
            arrow(ax, (t, -r), (t, -r - 1), "lightgrey", linewidth=0.8, head_size=5)
    for t in range(T):
        ax.text(t, 0.45, f"$t={t + 1}$", ha="center", fontsize=8)
    finish_diagram(ax, (-2.6, T - 0.4), (-R - 0.5, 0.9),
                   f"{kind} scan, T = {T}: {R} dependent rounds", equal=False)
    return {"rounds": R, "combines": sum(len(p) for p in schedule)}
