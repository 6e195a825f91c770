r"""Deep (stacked) and bidirectional recurrent networks, and a layer-normalised LSTM (chapter 7).

Stacking. Layer :math:`l` of a deep RNN reads the hidden sequence of layer :math:`l-1`:

.. math::

    h_t^{(l)} = f\big(W_{ih}^{(l)} h_t^{(l-1)} + W_{hh}^{(l)} h_{t-1}^{(l)} + b^{(l)}\big),
    \qquad h_t^{(0)} = x_t,

and ``torch.nn.RNN/LSTM/GRU(num_layers=L, dropout=p)`` applies dropout to the output of every
layer except the last. A bidirectional layer runs a second recurrence from the end of the
sequence to its start and concatenates the two states, :math:`[\overrightarrow{h}_t;
\overleftarrow{h}_t]`; ``h_n`` then has shape ``(num_layers * 2, batch, H)`` and
``h_n.view(num_layers, 2, batch, H)`` separates layers from directions.

Layer normalisation (Ba et al., 2016). :class:`LayerNormLSTMCell` normalises the input and
recurrent pre-activations separately, each over its ``4 * hidden_size`` features, and the cell
state before the output ``tanh``:

.. math::

    \begin{aligned}
    (i, f, g, o) &= \mathrm{LN}(W_{ih} x_t; \alpha_1, \beta_1)
                   + \mathrm{LN}(W_{hh} h_{t-1}; \alpha_2, \beta_2) + b_{ih} + b_{hh} \\
    c_t &= \sigma(f) \odot c_{t-1} + \sigma(i) \odot \tanh(g) \\
    h_t &= \sigma(o) \odot \tanh(\mathrm{LN}(c_t; \alpha_3, \beta_3)),
    \qquad \mathrm{LN}(z; \alpha, \beta) = \alpha \odot \frac{z - \mu(z)}{\sqrt{\sigma^2(z)
    + \epsilon}} + \beta,
    \end{aligned}

where :math:`\mu` and :math:`\sigma^2` are the mean and (biased) variance over the feature
dimension of each sample. With ``layer_norm=False`` the cell is exactly ``torch.nn.LSTMCell``
(same parameter names, gate order i, f, g, o).

The module also holds the chapter's tasks (a tagging task that needs the future, a noisy
cyclic sequence for next-step prediction), the honest
"prefix" evaluation of a next-step predictor, and the unrolled-network diagram.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .lstm import LSTMStep, lstm_cell
from .recurrent import RNNBase, RNNCellBase, num_params
from .validation import ShapeError, check_array, check_positive_int, check_probability

__all__ = [
    "layer_norm",
    "layer_norm_lstm_cell",
    "LayerNormLSTMCell",
    "LayerNormLSTM",
    "split_directions",
    "sequence_cross_entropy",
    "tag_accuracy",
    "neighbour_tagging",
    "noisy_cycle",
    "lagged_sum",
    "noisy_cycle_entropy",
    "noisy_cycle_oracle_nll",
    "prefix_logits",
    "width_for_params",
    "draw_stacked",
]


# --------------------------------------------------------------------------- layer norm cell


def layer_norm(z: torch.Tensor, gain: torch.Tensor | None = None,
               bias: torch.Tensor | None = None, eps: float = 1e-5) -> torch.Tensor:
    r"""Layer normalisation over the last dimension, written out.

    :math:`\mathrm{LN}(z) = \alpha \odot (z - \mu) / \sqrt{\sigma^2 + \epsilon} + \beta` with
    :math:`\mu`, :math:`\sigma^2` the mean and biased variance of each row. Equal to
    ``torch.nn.functional.layer_norm(z, z.shape[-1:], gain, bias, eps)``.

    Shape: ``z`` ``(*, D)``; ``gain`` and ``bias`` ``(D,)`` or ``None`` (meaning 1 and 0);
    output ``(*, D)``.
    """
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"z must be a torch.Tensor, got {type(z).__name__}")
    mean = z.mean(dim=-1, keepdim=True)
    var = z.var(dim=-1, unbiased=False, keepdim=True)
    out = (z - mean) / torch.sqrt(var + eps)
    if gain is not None:
        out = out * gain
    if bias is not None:
        out = out + bias
    return out


def layer_norm_lstm_cell(x: torch.Tensor, h: torch.Tensor, c: torch.Tensor,
                         weight_ih: torch.Tensor, weight_hh: torch.Tensor,
                         bias_ih: torch.Tensor, bias_hh: torch.Tensor,
                         ln_ih_gain: torch.Tensor, ln_ih_bias: torch.Tensor,
                         ln_hh_gain: torch.Tensor, ln_hh_bias: torch.Tensor,
                         ln_c_gain: torch.Tensor, ln_c_bias: torch.Tensor,
                         eps: float = 1e-5) -> LSTMStep:
    """One step of the layer-normalised LSTM of the module docstring (gates i, f, g, o)."""
    a = (layer_norm(x @ weight_ih.T, ln_ih_gain, ln_ih_bias, eps)      # LN(W_ih x): (N, 4H)
         + layer_norm(h @ weight_hh.T, ln_hh_gain, ln_hh_bias, eps)    # LN(W_hh h): (N, 4H)
         + bias_ih + bias_hh)
    i, f, g, o = a.chunk(4, dim=-1)                                    # each (N, H)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + i * g
    h = o * torch.tanh(layer_norm(c, ln_c_gain, ln_c_bias, eps))
    return LSTMStep(i, f, g, o, c, h)


_LN_NAMES = ("ln_ih_gain", "ln_ih_bias", "ln_hh_gain", "ln_hh_bias", "ln_c_gain", "ln_c_bias")


def _ln_shapes(hidden_size: int) -> dict[str, tuple[int, ...]]:
    h4 = 4 * hidden_size
    return dict(zip(_LN_NAMES, ((h4,), (h4,), (h4,), (h4,), (hidden_size,), (hidden_size,))))


def _reset_layer_norm(module: nn.Module) -> None:
    """PyTorch's uniform ``±1/√H`` for the LSTM's parameters; gains 1 and LN biases 0."""
    bound = 1.0 / math.sqrt(module.hidden_size)
    for name, p in module.named_parameters():
        if name.startswith("ln_"):
            nn.init.constant_(p, 1.0 if "_gain" in name else 0.0)
        else:
            nn.init.uniform_(p, -bound, bound)


class LayerNormLSTMCell(RNNCellBase):
    r"""An LSTM cell with layer normalisation (Ba et al., 2016); see the module docstring.

    Args:
        input_size: features of ``x``.
        hidden_size: features of ``h`` and ``c``.
        bias: use ``bias_ih`` and ``bias_hh`` (as ``torch.nn.LSTMCell``).
        layer_norm: normalise; ``False`` gives exactly ``torch.nn.LSTMCell``.
        eps: added to the variance in each normalisation.
        device, dtype: where and in which precision to create the parameters.

    Parameters: ``weight_ih`` ``(4H, input_size)``, ``weight_hh`` ``(4H, H)``, ``bias_ih``,
    ``bias_hh`` ``(4H,)`` as ``torch.nn.LSTMCell`` (rows i, f, g, o); with ``layer_norm``,
    also ``ln_ih_gain``, ``ln_ih_bias``, ``ln_hh_gain``, ``ln_hh_bias`` ``(4H,)`` and
    ``ln_c_gain``, ``ln_c_bias`` ``(H,)``: the :math:`\alpha, \beta` of the three
    normalisations (gains 1, biases 0 at initialisation).

    Inputs: ``input`` ``(N, input_size)`` or ``(input_size,)``; ``hx = (h, c)``, each ``(N, H)``
    or ``(H,)``, zeros if omitted. Output: ``(h', c')`` of the same shapes.

    Example::

        >>> cell = LayerNormLSTMCell(3, 4)
        >>> h, c = cell(torch.randn(2, 3))
        >>> h.shape, c.shape
        (torch.Size([2, 4]), torch.Size([2, 4]))
    """

    num_gates = 4
    state_names = ("h", "c")
    torch_class = nn.LSTMCell

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 layer_norm: bool = True, eps: float = 1e-5,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        self.layer_norm, self.eps = bool(layer_norm), float(eps)
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)
        if self.layer_norm:
            for name, shape in _ln_shapes(self.hidden_size).items():
                self._new_parameter(name, shape, {"device": device, "dtype": dtype})
        self.reset_parameters()

    reset_parameters = _reset_layer_norm

    def _extra_repr_options(self) -> dict[str, tuple[Any, Any]]:
        return {**super()._extra_repr_options(), "layer_norm": (self.layer_norm, True)}

    def weights(self) -> tuple[torch.Tensor, ...]:
        extra = tuple(getattr(self, n) for n in _LN_NAMES) if self.layer_norm else ()
        return super().weights() + extra

    def cell(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor,
             *weights: torch.Tensor) -> LSTMStep:
        if self.layer_norm:
            return layer_norm_lstm_cell(x, h, c, *weights, eps=self.eps)
        return lstm_cell(x, h, c, *weights)

    def preactivations(self, x: torch.Tensor, h: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""The two *standardised* pre-activations, before gains and biases.

        Returns :math:`((W_{ih}x - \mu)/\sigma, (W_{hh}h - \mu)/\sigma)`, each ``(batch, 4H)``:
        per sample, mean 0 and variance :math:`\sigma^2/(\sigma^2+\epsilon) \approx 1`.
        """
        return (layer_norm(x @ self.weight_ih.T, eps=self.eps),
                layer_norm(h @ self.weight_hh.T, eps=self.eps))


class LayerNormLSTM(RNNBase):
    r"""A multi-layer, optionally bidirectional layer-normalised LSTM with ``torch.nn.LSTM``'s API.

    Each step calls :func:`layer_norm_lstm_cell` (or, with ``layer_norm=False``,
    :func:`rnncourse.lstm.lstm_cell`, making it exactly ``torch.nn.LSTM``); the loops over time,
    layers and directions are :class:`rnncourse.recurrent.RNNBase`'s.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
        device, dtype: as ``torch.nn.LSTM`` (dropout with one layer warns, as in torch).
        layer_norm, eps: as :class:`LayerNormLSTMCell`.

    Parameters: those of ``torch.nn.LSTM`` (``weight_ih_l{k}``, ... with ``_reverse`` for the
    backward direction), plus ``ln_ih_gain_l{k}``, ..., ``ln_c_bias_l{k}`` when normalising.
    ``LayerNormLSTM.from_torch(lstm)`` copies an ``nn.LSTM``'s weights (gains stay 1, LN biases 0).

    Inputs: ``input`` ``(L, N, H_in)`` (``(N, L, H_in)`` if ``batch_first``, or ``(L, H_in)``)
    and ``hx = (h_0, c_0)``, each ``(D·num_layers, N, H)``, zeros if omitted.
    Outputs: ``output`` ``(L, N, D·H)`` and ``(h_n, c_n)``, each ``(D·num_layers, N, H)``.

    Example::

        >>> lstm = LayerNormLSTM(3, 6, num_layers=2, batch_first=True)
        >>> output, (h_n, c_n) = lstm(torch.randn(4, 7, 3))
        >>> output.shape, h_n.shape
        (torch.Size([4, 7, 6]), torch.Size([2, 4, 6]))
    """

    num_gates = 4
    state_names = ("h", "c")
    torch_class = nn.LSTM

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, layer_norm: bool = True, eps: float = 1e-5,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        self.layer_norm, self.eps = bool(layer_norm), float(eps)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)

    def _parameter_shapes(self, layer_in: int) -> dict[str, tuple[int, ...]]:
        shapes = super()._parameter_shapes(layer_in)
        return {**shapes, **_ln_shapes(self.hidden_size)} if self.layer_norm else shapes

    reset_parameters = _reset_layer_norm

    def _extra_repr_options(self) -> dict[str, tuple[Any, Any]]:
        return {**super()._extra_repr_options(), "layer_norm": (self.layer_norm, True)}

    def cell(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor,
             *weights: torch.Tensor) -> LSTMStep:
        if self.layer_norm:
            return layer_norm_lstm_cell(x, h, c, *weights, eps=self.eps)
        return lstm_cell(x, h, c, *weights)


# --------------------------------------------------------------------------- shapes and models


def split_directions(h_n: torch.Tensor, num_layers: int, bidirectional: bool) -> torch.Tensor:
    """View ``h_n`` of shape ``(num_layers * num_directions, batch, H)`` as
    ``(num_layers, num_directions, batch, H)``: ``[l, 0]`` is layer ``l`` forward, ``[l, 1]``
    backward (torch stores layer 0 forward, layer 0 backward, layer 1 forward, ...)."""
    num_layers = check_positive_int(num_layers, "num_layers")
    directions = 2 if bidirectional else 1
    check_array(h_n, "h_n", ("num_layers*num_directions", "batch", "hidden_size"),
                {"num_layers*num_directions": num_layers * directions})
    return h_n.view(num_layers, directions, h_n.shape[1], h_n.shape[2])


def sequence_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over every step: logits ``(batch, seq_len, C)``, targets
    ``(batch, seq_len)`` of class indices."""
    check_array(logits, "logits", ("batch", "seq_len", "num_classes"))
    if targets.shape != logits.shape[:2] or targets.dtype != torch.long:
        raise ShapeError(f"targets must be torch.long class indices of shape "
                         f"{tuple(logits.shape[:2])}, got {targets.dtype} {tuple(targets.shape)}")
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def tag_accuracy(logits: torch.Tensor, targets: torch.Tensor,
                 mask: torch.Tensor | None = None) -> float:
    """Fraction of steps (where ``mask`` is true, if given) whose arg-max is the target."""
    correct = logits.argmax(dim=-1) == targets
    if mask is not None:
        correct = correct[mask]
    return correct.float().mean().item()


# --------------------------------------------------------------------------- tasks


def _one_hot(tokens: torch.Tensor, classes: int) -> torch.Tensor:
    return F.one_hot(tokens, classes).float()


def neighbour_tagging(batch_size: int, seq_len: int, n_symbols: int = 5,
                      generator: torch.Generator | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""A tagging task where half of the tags need the *next* input.

    Each step shows a symbol :math:`s_t \in \{1..K\}` and a query bit :math:`q_t`. The tag is
    the previous symbol when :math:`q_t = 0` and the next symbol when :math:`q_t = 1`
    (:math:`y_t = s_{t-1}` or :math:`s_{t+1}`, with 0 standing for "no symbol" at the edges).
    A left-to-right model cannot know :math:`s_{t+1}`: on queried-future steps it is at chance
    (about :math:`1/K`).

    Returns:
        ``x`` float ``(batch, seq_len, K + 2)`` (one-hot symbol in columns ``1..K``, query bit
        in the last column), ``y`` long ``(batch, seq_len)`` in ``0..K``, and the boolean
        ``future`` mask ``(batch, seq_len)`` (``q_t = 1``).
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    seq_len = check_positive_int(seq_len, "seq_len")
    n_symbols = check_positive_int(n_symbols, "n_symbols")
    if seq_len < 2:
        raise ValueError(f"seq_len must be at least 2, got {seq_len}")
    s = torch.randint(1, n_symbols + 1, (batch_size, seq_len), generator=generator)
    q = torch.randint(0, 2, (batch_size, seq_len), generator=generator).bool()
    pad = torch.zeros(batch_size, 1, dtype=torch.long)
    prev = torch.cat([pad, s[:, :-1]], dim=1)
    nxt = torch.cat([s[:, 1:], pad], dim=1)
    y = torch.where(q, nxt, prev)
    x = torch.cat([_one_hot(s, n_symbols + 1), q.float().unsqueeze(-1)], dim=-1)
    return x, y, q


def noisy_cycle(batch_size: int, seq_len: int, n_symbols: int = 6, p_follow: float = 0.7,
                generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Token sequences that mostly count upwards modulo ``n_symbols``.

    :math:`x_0` is uniform; then :math:`x_{t+1} = (x_t + 1) \bmod K` with probability
    ``p_follow`` and a uniformly random symbol otherwise. The best possible *causal*
    next-step cross-entropy is :func:`noisy_cycle_entropy`. Returns long ``(batch, seq_len)``.
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    seq_len = check_positive_int(seq_len, "seq_len")
    n_symbols = check_positive_int(n_symbols, "n_symbols")
    p_follow = check_probability(p_follow, "p_follow")
    x = torch.empty(batch_size, seq_len, dtype=torch.long)
    x[:, 0] = torch.randint(0, n_symbols, (batch_size,), generator=generator)
    follow = torch.rand(batch_size, seq_len, generator=generator) < p_follow
    noise = torch.randint(0, n_symbols, (batch_size, seq_len), generator=generator)
    for t in range(1, seq_len):
        x[:, t] = torch.where(follow[:, t], (x[:, t - 1] + 1) % n_symbols, noise[:, t])
    return x


def lagged_sum(batch_size: int, seq_len: int, n_symbols: int = 5, lag: int = 2,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Tag each step with :math:`y_t = (s_t + s_{t-\text{lag}}) \bmod K`.

    The first ``lag`` tags depend on symbols that are not shown, so the best possible accuracy
    is :math:`(T - \text{lag} + \text{lag}/K) / T`.

    Returns:
        ``x`` float one-hot ``(batch, seq_len, K)`` and ``y`` long ``(batch, seq_len)``.
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    seq_len = check_positive_int(seq_len, "seq_len")
    n_symbols = check_positive_int(n_symbols, "n_symbols")
    lag = check_positive_int(lag, "lag")
    s = torch.randint(0, n_symbols, (batch_size, seq_len + lag), generator=generator)
    y = (s[:, lag:] + s[:, :-lag]) % n_symbols
    return _one_hot(s[:, lag:], n_symbols), y


def noisy_cycle_entropy(n_symbols: int = 6, p_follow: float = 0.7) -> float:
    """Entropy (nats) of the next symbol given the past in :func:`noisy_cycle`: the lowest
    cross-entropy any causal predictor can reach on average."""
    n_symbols = check_positive_int(n_symbols, "n_symbols")
    p_follow = check_probability(p_follow, "p_follow")
    p_next = p_follow + (1 - p_follow) / n_symbols
    p_other = (1 - p_follow) / n_symbols
    return -(p_next * math.log(p_next) + (n_symbols - 1) * p_other * math.log(p_other))


def noisy_cycle_oracle_nll(previous: torch.Tensor, following: torch.Tensor, n_symbols: int = 6,
                           p_follow: float = 0.7) -> torch.Tensor:
    r"""The Bayes-optimal causal predictor's loss on each step of :func:`noisy_cycle` data.

    The process is Markov, so the oracle that knows it predicts
    :math:`p(x_{t+1} \mid x_{1..t}) = p(x_{t+1} \mid x_t)`: ``p_follow + (1 - p_follow)/K`` for
    :math:`(x_t + 1) \bmod K` and ``(1 - p_follow)/K`` for every other symbol. Returns its
    negative log-likelihood :math:`-\ln p(\text{following} \mid \text{previous})` per step, the
    shape of the (equal-shaped, long) inputs; its mean over a test set is the lowest loss a
    causal model can expect there (:func:`noisy_cycle_entropy` is its expectation).
    """
    n_symbols = check_positive_int(n_symbols, "n_symbols")
    p_follow = check_probability(p_follow, "p_follow")
    if previous.shape != following.shape or previous.dtype != torch.long:
        raise ShapeError(f"previous and following must be torch.long tensors of one shape, "
                         f"got {previous.dtype} {tuple(previous.shape)} and "
                         f"{following.dtype} {tuple(following.shape)}")
    p_next = p_follow + (1 - p_follow) / n_symbols
    p_other = (1 - p_follow) / n_symbols
    follows = following == (previous + 1) % n_symbols
    return -torch.where(follows, math.log(p_next), math.log(p_other)).to(torch.float64)


@torch.no_grad()
def prefix_logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Honest next-step predictions: step ``t`` of the result is the model's last output on
    the prefix ``x[:, :t+1]`` alone, as during step-by-step generation.

    For a causal (unidirectional) model this equals ``model(x)``; for a bidirectional one it
    does not, because ``model(x)`` lets step ``t`` see ``x[:, t+1:]``.
    Shape: ``x`` ``(batch, seq_len, features)`` → ``(batch, seq_len, num_outputs)``.
    """
    check_array(x, "x", ("batch", "seq_len", "features"))
    return torch.stack([model(x[:, : t + 1])[:, -1] for t in range(x.shape[1])], dim=1)


def width_for_params(kind: str, input_size: int, target: int, num_layers: int = 1,
                     num_classes: int = 0) -> int:
    """Hidden size whose ``torch.nn.{RNN,LSTM,GRU}`` (plus a linear read-out to
    ``num_classes``, if > 0) has the parameter count closest to ``target``."""
    target = check_positive_int(target, "target")

    def count(h: int) -> int:
        readout = num_classes * (h + 1) if num_classes else 0
        return num_params(kind, input_size, h, num_layers) + readout

    return min(range(1, 4097), key=lambda h: abs(count(h) - target))


# --------------------------------------------------------------------------- diagram


def draw_stacked(ax: Any, num_layers: int = 2, seq_len: int = 4,
                 bidirectional: bool = True, legend: bool = True) -> None:
    """Draw a stacked (optionally bidirectional) RNN unrolled in time on a matplotlib axis.

    Columns are time steps; each layer has a forward row (arrows to the right) and, if
    bidirectional, a backward row (arrows to the left); both feed the next layer up. Not
    chapter 1's :func:`rnncourse.sequences.draw_unrolled`, which draws one layer and the
    input/output patterns.

    Draws ``seq_len`` inputs, ``seq_len`` outputs and ``num_layers x directions x seq_len``
    hidden boxes (:func:`rnncourse.plotting.box`), joined by :func:`rnncourse.plotting.arrow`.
    With ``legend``, a key to the box colours and arrow colours goes below the diagram
    (outside it, so it covers nothing).
    """
    from functools import partial

    from .plotting import PALETTE, arrow, box, finish_diagram

    num_layers = check_positive_int(num_layers, "num_layers")
    seq_len = check_positive_int(seq_len, "seq_len")
    w, h = 0.8, 0.42
    ys: dict[tuple[int, str], float] = {}
    y = 1.2
    for layer in range(num_layers):
        ys[(layer, "fwd")] = y
        if bidirectional:
            ys[(layer, "bwd")] = y + 0.7
        y += 1.9 if bidirectional else 1.2
    top = y
    # boxes above arrows: an arrow from a forward row to the layer above passes behind the
    # backward row's box
    node = partial(box, ax, width=w, height=h, fontsize=8, linewidth=0.6, rounding=None,
                   alpha=1.0, zorder=2)
    edge = partial(arrow, ax, linewidth=0.9, head_size=8, shrink=2.0, zorder=1)

    sources = {-1: [0.0]}
    for layer in range(num_layers):
        sources[layer] = [ys[(layer, d)] for d in ("fwd", "bwd") if (layer, d) in ys]
    offsets = {"fwd": -0.18, "bwd": 0.18} if bidirectional else {"fwd": 0.0}
    for t in range(seq_len):
        node(t, 0.0, f"$x_{{{t + 1}}}$", "white")
        node(t, top, f"$y_{{{t + 1}}}$", "white")
        for src in sources[num_layers - 1]:
            edge((t, src + h / 2), (t, top - h / 2), "grey")
    for (layer, direction), cy in ys.items():
        colour = PALETTE["sky"] if direction == "fwd" else PALETTE["yellow"]
        symbol = r"\overrightarrow{h}" if direction == "fwd" else r"\overleftarrow{h}"
        for t in range(seq_len):
            node(t, cy, f"${symbol}^{{({layer + 1})}}_{{{t + 1}}}$", colour)
            if direction == "fwd" and t + 1 < seq_len:
                edge((t + w / 2, cy), (t + 1 - w / 2, cy), PALETTE["blue"])
            if direction == "bwd" and t > 0:
                edge((t - w / 2, cy), (t - 1 + w / 2, cy), PALETTE["vermillion"])
            dx = offsets[direction]
            for src in sources[layer - 1]:
                edge((t + dx, src + h / 2), (t + dx, cy - h / 2), "grey")
    finish_diagram(ax, (-0.6, seq_len - 0.4), (-0.5, top + 0.5))
    if legend:
        _stacked_legend(ax, bidirectional)


def _stacked_legend(ax: Any, bidirectional: bool) -> None:
    """The key of :func:`draw_stacked`, centred below the axes."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from .plotting import PALETTE

    def swatch(colour: str, label: str) -> Patch:
        return Patch(facecolor=colour, edgecolor="black", linewidth=0.6, label=label)

    def edge(colour: str, marker: str, label: str) -> Line2D:
        return Line2D([], [], color=colour, marker=marker, markersize=5, linewidth=0.9,
                      label=label)

    states = [swatch(PALETTE["sky"], r"forward state $\overrightarrow{h}^{(l)}_t$")]
    edges = [edge(PALETTE["blue"], ">", r"forward in time, $t \to t+1$")]
    if bidirectional:
        states.append(swatch(PALETTE["yellow"], r"backward state $\overleftarrow{h}^{(l)}_t$"))
        edges.append(edge(PALETTE["vermillion"], "<", r"backward in time, $t+1 \to t$"))
    states.append(swatch("white", "input $x_t$, output $y_t$"))
    edges.append(edge("grey", "^", "up a layer (and to $y_t$)"))
    handles = states + edges                  # two columns: the boxes, then the arrows
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2,
              frameon=False, fontsize=8, handlelength=1.6, columnspacing=1.2)
