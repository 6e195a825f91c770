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
cyclic sequence for next-step prediction), an N:N :class:`SequenceTagger`, the honest
"prefix" evaluation of a next-step predictor, and the unrolled-network diagram.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn
from torch.nn import functional as F

from .lstm import recurrent_num_params
from .validation import ShapeError, check_array, check_positive_int, check_probability

__all__ = [
    "layer_norm",
    "LayerNormLSTMCell",
    "LayerNormLSTM",
    "split_directions",
    "SequenceTagger",
    "sequence_cross_entropy",
    "tag_accuracy",
    "neighbour_tagging",
    "noisy_cycle",
    "lagged_sum",
    "noisy_cycle_entropy",
    "prefix_logits",
    "width_for_params",
    "draw_unrolled",
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


class LayerNormLSTMCell(nn.Module):
    r"""An LSTM cell with layer normalisation (Ba et al., 2016); see the module docstring.

    Args:
        input_size: features of ``x``.
        hidden_size: features of ``h`` and ``c``.
        bias: use ``bias_ih`` and ``bias_hh`` (as ``torch.nn.LSTMCell``).
        layer_norm: normalise; ``False`` gives exactly ``torch.nn.LSTMCell``.
        eps: added to the variance in each normalisation.

    Attributes:
        weight_ih ``(4H, input_size)``, weight_hh ``(4H, H)``, bias_ih, bias_hh ``(4H,)``: as in
        ``torch.nn.LSTMCell`` (rows ordered i, f, g, o), so its ``state_dict`` loads here.
        ln_ih_gain, ln_ih_bias, ln_hh_gain, ln_hh_bias ``(4H,)`` and ln_c_gain, ln_c_bias
        ``(H,)``: the :math:`\alpha, \beta` of the three normalisations (gains 1, biases 0 at
        initialisation); absent when ``layer_norm=False``.

    Shape:
        ``x``: ``(batch, input_size)`` or ``(input_size,)``; ``hx = (h, c)``, each
        ``(batch, H)`` or ``(H,)``, zeros if omitted. Returns ``(h', c')`` of the same shapes.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 layer_norm: bool = True, eps: float = 1e-5) -> None:
        super().__init__()
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.bias = bool(bias)
        self.layer_norm = bool(layer_norm)
        self.eps = float(eps)
        h4 = 4 * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(h4, input_size))
        self.weight_hh = nn.Parameter(torch.empty(h4, hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(h4))
            self.bias_hh = nn.Parameter(torch.empty(h4))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        if layer_norm:
            for name, size in (("ih", h4), ("hh", h4), ("c", hidden_size)):
                setattr(self, f"ln_{name}_gain", nn.Parameter(torch.ones(size)))
                setattr(self, f"ln_{name}_bias", nn.Parameter(torch.zeros(size)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weights and biases uniform in ``±1/sqrt(H)`` (as torch); gains 1, LN biases 0."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for name, p in self.named_parameters():
            if name.startswith("ln_"):
                nn.init.constant_(p, 1.0 if name.endswith("gain") else 0.0)
            else:
                nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, bias={self.bias}, "
                f"layer_norm={self.layer_norm}")

    def _check(self, x: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None) -> None:
        if isinstance(x, torch.Tensor) and x.dim() == 1:
            check_array(x, "input (unbatched)", ("input_size",), {"input_size": self.input_size})
            dims: tuple[str, ...] = ("hidden_size",)
            sizes = {"hidden_size": self.hidden_size}
        else:
            check_array(x, "input", ("batch", "input_size"), {"input_size": self.input_size})
            dims = ("batch", "hidden_size")
            sizes = {"batch": x.shape[0], "hidden_size": self.hidden_size}
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError("hx must be a tuple (h, c) of two tensors, got "
                                f"{type(hx).__name__}")
            check_array(hx[0], "h", dims, sizes)
            check_array(hx[1], "c", dims, sizes)

    def preactivations(self, x: torch.Tensor, h: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""The two *standardised* pre-activations, before gains and biases.

        Returns :math:`((W_{ih}x - \mu)/\sigma, (W_{hh}h - \mu)/\sigma)`, each ``(batch, 4H)``:
        per sample, mean 0 and variance :math:`\sigma^2/(\sigma^2+\epsilon) \approx 1`.
        """
        return (layer_norm(x @ self.weight_ih.T, eps=self.eps),
                layer_norm(h @ self.weight_hh.T, eps=self.eps))

    def forward(self, x: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        self._check(x, hx)
        unbatched = x.dim() == 1
        if unbatched:
            x = x.unsqueeze(0)
            hx = None if hx is None else (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        if hx is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)
            hx = (zeros, zeros)
        h, c = hx
        a_ih, a_hh = x @ self.weight_ih.T, h @ self.weight_hh.T
        if self.layer_norm:
            a_ih = layer_norm(a_ih, self.ln_ih_gain, self.ln_ih_bias, self.eps)
            a_hh = layer_norm(a_hh, self.ln_hh_gain, self.ln_hh_bias, self.eps)
        gates = a_ih + a_hh
        if self.bias_ih is not None:
            gates = gates + self.bias_ih + self.bias_hh
        i, f, g, o = gates.chunk(4, dim=-1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        c_out = (layer_norm(c_new, self.ln_c_gain, self.ln_c_bias, self.eps)
                 if self.layer_norm else c_new)
        h_new = torch.sigmoid(o) * torch.tanh(c_out)
        if unbatched:
            return h_new.squeeze(0), c_new.squeeze(0)
        return h_new, c_new


class LayerNormLSTM(nn.Module):
    r"""A stack of :class:`LayerNormLSTMCell` with ``torch.nn.LSTM``'s interface.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first: as ``torch.nn.LSTM``.
        dropout: dropout on the outputs of every layer except the last (training mode only).
            As torch, warns when ``dropout > 0`` and ``num_layers == 1`` (it would do nothing).
        layer_norm, eps: as :class:`LayerNormLSTMCell`.

    Shape (``L`` steps, ``N`` batch):
        input ``(L, N, H_in)`` (``(N, L, H_in)`` if ``batch_first``) or ``(L, H_in)``;
        ``hx = (h_0, c_0)`` each ``(num_layers, N, H)`` (or ``(num_layers, H)``), zeros if
        omitted. Returns ``output`` ``(L, N, H)`` (``(N, L, H)`` if ``batch_first``), the last
        layer's ``h_t`` at every step, and ``(h_n, c_n)`` each ``(num_layers, N, H)``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 layer_norm: bool = True, eps: float = 1e-5) -> None:
        super().__init__()
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.dropout = check_probability(dropout, "dropout")
        self.batch_first = bool(batch_first)
        if self.dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        self.cells = nn.ModuleList(
            LayerNormLSTMCell(input_size if k == 0 else hidden_size, hidden_size, bias,
                              layer_norm, eps) for k in range(num_layers))

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"batch_first={self.batch_first}, dropout={self.dropout}")

    @torch.no_grad()
    def load_lstm_weights(self, lstm: nn.LSTM) -> None:
        """Copy the weights of a unidirectional ``torch.nn.LSTM`` of the same sizes."""
        if not isinstance(lstm, nn.LSTM):
            raise TypeError(f"lstm must be a torch.nn.LSTM, got {type(lstm).__name__}")
        if (lstm.bidirectional or lstm.proj_size or lstm.input_size != self.input_size
                or lstm.hidden_size != self.hidden_size or lstm.num_layers != self.num_layers
                or lstm.bias != self.cells[0].bias):
            raise ValueError(
                "sizes differ: this layer has input_size, hidden_size, num_layers, bias = "
                f"{self.input_size}, {self.hidden_size}, {self.num_layers}, "
                f"{self.cells[0].bias}; the nn.LSTM has {lstm.input_size}, {lstm.hidden_size}, "
                f"{lstm.num_layers}, {lstm.bias} (and must be unidirectional, proj_size=0)")
        for k, cell in enumerate(self.cells):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                target = getattr(cell, name)
                if target is not None:
                    target.copy_(getattr(lstm, f"{name}_l{k}"))

    def forward(self, input: torch.Tensor,
                hx: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        H, layers = self.hidden_size, self.num_layers
        unbatched = isinstance(input, torch.Tensor) and input.dim() == 2
        if unbatched:
            check_array(input, "input (unbatched)", ("seq_len", "input_size"),
                        {"input_size": self.input_size})
            x = input.unsqueeze(1)
        else:
            dims = (("batch", "seq_len", "input_size") if self.batch_first
                    else ("seq_len", "batch", "input_size"))
            check_array(input, "input", dims, {"input_size": self.input_size})
            x = input.transpose(0, 1) if self.batch_first else input
        batch = x.shape[1]
        if hx is None:
            zeros = x.new_zeros(layers, batch, H)
            hx = (zeros, zeros)
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError("hx must be a tuple (h_0, c_0), got " + type(hx).__name__)
            if unbatched:
                for name, t in zip(("h_0", "c_0"), hx):
                    check_array(t, f"{name} (unbatched input)", ("num_layers", "hidden_size"),
                                {"num_layers": layers, "hidden_size": H})
                hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
            else:
                for name, t in zip(("h_0", "c_0"), hx):
                    check_array(t, name, ("num_layers", "batch", "hidden_size"),
                                {"num_layers": layers, "batch": batch, "hidden_size": H})
        h_n, c_n = [], []
        for k, cell in enumerate(self.cells):
            if k > 0 and self.dropout > 0:
                x = F.dropout(x, self.dropout, self.training)
            h, c = hx[0][k], hx[1][k]
            steps = []
            for t in range(x.shape[0]):
                h, c = cell(x[t], (h, c))
                steps.append(h)
            x = torch.stack(steps)
            h_n.append(h)
            c_n.append(c)
        state = (torch.stack(h_n), torch.stack(c_n))
        if unbatched:
            return x.squeeze(1), (state[0].squeeze(1), state[1].squeeze(1))
        return (x.transpose(0, 1) if self.batch_first else x), state


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


_RECURRENT = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class SequenceTagger(nn.Module):
    """A recurrent encoder with a linear read-out at every step (pattern N:N aligned).

    Args:
        kind: ``"rnn"``, ``"lstm"`` or ``"gru"`` (the torch modules), or ``"lnlstm"``
            (:class:`LayerNormLSTM`, unidirectional).
        input_size: features per step.
        hidden_size: width of each direction's state.
        num_classes: outputs per step (logits).
        num_layers, bidirectional, dropout: passed to the torch module.

    Shape:
        input ``(batch, seq_len, input_size)`` → logits ``(batch, seq_len, num_classes)``;
        the read-out sees ``num_directions * hidden_size`` features per step.
    """

    def __init__(self, kind: str, input_size: int, hidden_size: int, num_classes: int,
                 num_layers: int = 1, bidirectional: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        kinds = sorted([*_RECURRENT, "lnlstm"])
        if kind not in kinds:
            raise ValueError(f"kind must be one of {kinds}, got {kind!r}")
        self.input_size = check_positive_int(input_size, "input_size")
        hidden_size = check_positive_int(hidden_size, "hidden_size")
        num_classes = check_positive_int(num_classes, "num_classes")
        if kind == "lnlstm":
            if bidirectional:
                raise ValueError("kind 'lnlstm' (LayerNormLSTM) is unidirectional only")
            self.rnn: nn.Module = LayerNormLSTM(input_size, hidden_size, num_layers,
                                                batch_first=True, dropout=dropout)
        else:
            self.rnn = _RECURRENT[kind](input_size, hidden_size, num_layers=num_layers,
                                        batch_first=True, bidirectional=bidirectional,
                                        dropout=dropout)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_array(x, "x", ("batch", "seq_len", "input_size"), {"input_size": self.input_size})
        output, _ = self.rnn(x)
        return self.head(output)


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
    if kind not in _RECURRENT:
        raise ValueError(f"kind must be one of {sorted(_RECURRENT)}, got {kind!r}")
    target = check_positive_int(target, "target")

    def count(h: int) -> int:
        readout = num_classes * (h + 1) if num_classes else 0
        return recurrent_num_params(kind, input_size, h, num_layers) + readout

    return min(range(1, 4097), key=lambda h: abs(count(h) - target))


# --------------------------------------------------------------------------- diagram


def draw_unrolled(ax: object, num_layers: int = 2, seq_len: int = 4,
                  bidirectional: bool = True) -> None:
    """Draw a stacked (optionally bidirectional) RNN unrolled in time on a matplotlib axis.

    Columns are time steps; each layer has a forward row (arrows to the right) and, if
    bidirectional, a backward row (arrows to the left); both feed the next layer up.
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    from .plotting import PALETTE

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

    def arrow(p: tuple[float, float], q: tuple[float, float], colour: str) -> None:
        ax.add_patch(FancyArrowPatch(p, q, arrowstyle="-|>", mutation_scale=8, lw=0.9,  # type: ignore[attr-defined]
                                     color=colour, zorder=1))

    def box(cx: float, cy: float, text: str, colour: str) -> None:
        ax.add_patch(FancyBboxPatch((cx - w / 2, cy - h / 2), w, h,  # type: ignore[attr-defined]
                                    boxstyle="round,pad=0.02", fc=colour, ec="black",
                                    lw=0.6, zorder=2))
        ax.text(cx, cy, text, ha="center", va="center", fontsize=8, zorder=3)  # type: ignore[attr-defined]

    sources = {-1: [0.0]}
    for layer in range(num_layers):
        sources[layer] = [ys[(layer, d)] for d in ("fwd", "bwd") if (layer, d) in ys]
    offsets = {"fwd": -0.18, "bwd": 0.18} if bidirectional else {"fwd": 0.0}
    for t in range(seq_len):
        box(t, 0.0, f"$x_{{{t + 1}}}$", "white")
        box(t, top, f"$y_{{{t + 1}}}$", "white")
        for src in sources[num_layers - 1]:
            arrow((t, src + h / 2), (t, top - h / 2), "grey")
    for (layer, direction), cy in ys.items():
        colour = PALETTE["sky"] if direction == "fwd" else PALETTE["yellow"]
        symbol = r"\overrightarrow{h}" if direction == "fwd" else r"\overleftarrow{h}"
        for t in range(seq_len):
            box(t, cy, f"${symbol}^{{({layer + 1})}}_{{{t + 1}}}$", colour)
            if direction == "fwd" and t + 1 < seq_len:
                arrow((t + w / 2, cy), (t + 1 - w / 2, cy), PALETTE["blue"])
            if direction == "bwd" and t > 0:
                arrow((t - w / 2, cy), (t - 1 + w / 2, cy), PALETTE["vermillion"])
            dx = offsets[direction]
            for src in sources[layer - 1]:
                arrow((t + dx, src + h / 2), (t + dx, cy - h / 2), "grey")
    ax.set_xlim(-0.6, seq_len - 0.4)  # type: ignore[attr-defined]
    ax.set_ylim(-0.5, top + 0.5)  # type: ignore[attr-defined]
    ax.set_aspect("equal")  # type: ignore[attr-defined]
    ax.axis("off")  # type: ignore[attr-defined]
