r"""Long short-term memory (LSTM), from the equations, equal to :class:`torch.nn.LSTM` (chapter 5).

For one layer and time step :math:`t`, with input :math:`x_t`, previous hidden state
:math:`h_{t-1}` and previous cell state :math:`c_{t-1}` (batch in rows, as PyTorch computes):

.. math::

    i_t &= \sigma(x_t W_{ii}^T + b_{ii} + h_{t-1} W_{hi}^T + b_{hi})   && \text{input gate} \\
    f_t &= \sigma(x_t W_{if}^T + b_{if} + h_{t-1} W_{hf}^T + b_{hf})   && \text{forget gate} \\
    g_t &= \tanh(x_t W_{ig}^T + b_{ig} + h_{t-1} W_{hg}^T + b_{hg})    && \text{candidate} \\
    o_t &= \sigma(x_t W_{io}^T + b_{io} + h_{t-1} W_{ho}^T + b_{ho})   && \text{output gate} \\
    c_t &= f_t \odot c_{t-1} + i_t \odot g_t                           && \text{cell state} \\
    h_t &= o_t \odot \tanh(c_t)                                        && \text{hidden state}

PyTorch stacks the four blocks in the order **i, f, g, o**: ``weight_ih`` is
``[W_ii; W_if; W_ig; W_io]`` of shape ``(4H, H_in)``, ``weight_hh`` is ``(4H, H)`` and the
biases ``bias_ih``, ``bias_hh`` are ``(4H,)``. Rows ``k*H:(k+1)*H`` belong to gate ``k``.

Three implementations share these parameters:

- :class:`LSTMCell` — one step, each gate computed separately with its own name
  (like :class:`torch.nn.LSTMCell`).
- :class:`LSTM` — the teaching layer: multi-layer, bidirectional, ``batch_first``, dropout,
  with :class:`torch.nn.LSTM`'s parameter names, so ``mine.load_state_dict(lstm.state_dict())``
  works. Every step calls :func:`lstm_cell`, which names ``i, f, g, o``.
- :class:`FusedLSTM` — the same module computed the fast way: the input projections of all
  time steps in one matrix product, then one ``(N, H) @ (H, 4H)`` product per step for all
  four gates.

Shapes (``L`` = sequence length, ``N`` = batch, ``D`` = 2 if bidirectional else 1):

- input ``x``: ``(L, N, H_in)``, ``(N, L, H_in)`` if ``batch_first``, or ``(L, H_in)`` unbatched
- ``(h_0, c_0)``: each ``(num_layers * D, N, H)`` (never batch-first), or
  ``(num_layers * D, H)`` unbatched; zeros when omitted
- output: the last layer's ``h_t`` at every step, ``(L, N, D * H)`` (or batch-first/unbatched)
- ``(h_n, c_n)``: every layer's and direction's final states, ``(num_layers * D, N, H)``;
  index ``2k`` is layer ``k`` forward, ``2k + 1`` layer ``k`` backward when bidirectional.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from .validation import ShapeError, check_array, check_positive_int, check_probability

__all__ = [
    "LSTMStep",
    "lstm_cell",
    "LSTMCell",
    "LSTM",
    "FusedLSTM",
    "lstm_num_params",
    "recurrent_num_params",
    "GATE_NAMES",
    "compare_with_reference",
]

GATE_NAMES = ("i", "f", "g", "o")  # PyTorch's order of the four row blocks
State = tuple[torch.Tensor, torch.Tensor]


class LSTMStep(NamedTuple):
    """Everything one LSTM step computes; each field has shape ``(N, H)``."""

    i: torch.Tensor  #: input gate, in (0, 1)
    f: torch.Tensor  #: forget gate, in (0, 1)
    g: torch.Tensor  #: candidate values, in (-1, 1)
    o: torch.Tensor  #: output gate, in (0, 1)
    c: torch.Tensor  #: new cell state c_t
    h: torch.Tensor  #: new hidden state h_t


def _block(tensor: torch.Tensor | None, k: int, hidden_size: int) -> torch.Tensor | None:
    """Rows ``k*H:(k+1)*H`` of a stacked weight or bias: the part that belongs to gate ``k``."""
    return None if tensor is None else tensor[k * hidden_size:(k + 1) * hidden_size]


def _affine(x: torch.Tensor, h: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor,
            b_ih: torch.Tensor | None, b_hh: torch.Tensor | None) -> torch.Tensor:
    """``x W_ih^T + b_ih + h W_hh^T + b_hh`` (the biases may be absent)."""
    pre = x @ w_ih.T + h @ w_hh.T
    if b_ih is not None:
        pre = pre + b_ih + b_hh
    return pre


def lstm_cell(x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, weight_ih: torch.Tensor,
              weight_hh: torch.Tensor, bias_ih: torch.Tensor | None = None,
              bias_hh: torch.Tensor | None = None) -> LSTMStep:
    r"""One LSTM step, written gate by gate as in the module docstring.

    Args:
        x: input ``(N, H_in)``.
        h, c: previous hidden and cell states ``(N, H)``.
        weight_ih: ``(4H, H_in)``, blocks in the order i, f, g, o.
        weight_hh: ``(4H, H)``.
        bias_ih, bias_hh: ``(4H,)`` each, or both ``None``.

    Returns:
        An :class:`LSTMStep` ``(i, f, g, o, c, h)`` with the new ``c`` and ``h``.
    """
    hs = h.shape[-1]

    def pre(k: int) -> torch.Tensor:  # pre-activation of gate k
        return _affine(x, h, _block(weight_ih, k, hs), _block(weight_hh, k, hs),
                       _block(bias_ih, k, hs), _block(bias_hh, k, hs))

    i = torch.sigmoid(pre(0))  # input gate: how much of the candidate to write
    f = torch.sigmoid(pre(1))  # forget gate: how much of the old cell to keep
    g = torch.tanh(pre(2))     # candidate: what could be written
    o = torch.sigmoid(pre(3))  # output gate: how much of the cell to expose
    c_new = f * c + i * g      # the additive update: ∂c_t/∂c_{t-1} = diag(f_t) along this path
    h_new = o * torch.tanh(c_new)
    return LSTMStep(i, f, g, o, c_new, h_new)


def _check_dtype(name: str, value: torch.Tensor, param: torch.Tensor) -> None:
    if value.dtype != param.dtype:
        raise TypeError(f"{name} has dtype {value.dtype} but the parameters are {param.dtype}; "
                        f"convert one of them (e.g. {name}.to({param.dtype}) or module.double())")


def _check_state(hx: object, dims: tuple[str, ...], sizes: dict[str, int]) -> State:
    """``hx`` must be a tuple ``(h, c)`` of two float tensors of the given layout."""
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        got = (f"a {type(hx).__name__} of length {len(hx)}" if isinstance(hx, (tuple, list))
               else type(hx).__name__)
        raise TypeError(f"the state must be a tuple (h, c) of two tensors, got {got}; an LSTM "
                        f"carries a hidden state AND a cell state")
    h, c = hx
    for name, value in (("h", h), ("c", c)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"state {name} must be a torch.Tensor, got {type(value).__name__}")
        check_array(value, f"state {name}", dims, sizes)
    return h, c


def _init_uniform(module: nn.Module, hidden_size: int) -> None:
    """PyTorch's initialisation of recurrent layers: every parameter ~ U(-1/√H, 1/√H)."""
    bound = 1.0 / math.sqrt(hidden_size)
    for param in module.parameters():
        nn.init.uniform_(param, -bound, bound)


class LSTMCell(nn.Module):
    r"""One LSTM step, like :class:`torch.nn.LSTMCell` (same parameter names and shapes).

    Args:
        input_size: features of ``x``, ``H_in``.
        hidden_size: size ``H`` of ``h`` and ``c``.
        bias: with ``False`` there are no ``bias_ih``/``bias_hh``.
        device, dtype: where and in which precision to create the parameters.

    Shapes:
        ``forward(x, (h, c))`` with ``x`` ``(N, H_in)`` (or ``(H_in,)``), ``h``, ``c``
        ``(N, H)`` (or ``(H,)``; zeros when the state is omitted) returns ``(h', c')``.
        :meth:`step` returns every gate as well (an :class:`LSTMStep`).
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.bias = bool(bias)
        factory = {"device": device, "dtype": dtype}
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size, **factory))
            self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform in ``[-1/√hidden_size, 1/√hidden_size]``, as ``nn.LSTMCell``."""
        _init_uniform(self, self.hidden_size)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"

    def step(self, x: torch.Tensor, hx: State | None = None) -> LSTMStep:
        """One step returning all gates; ``x`` ``(N, H_in)``, state ``(h, c)`` each ``(N, H)``."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor of shape (batch, input_size="
                            f"{self.input_size}), got {type(x).__name__}")
        check_array(x, "x", ("batch", "input_size"), {"input_size": self.input_size})
        _check_dtype("x", x, self.weight_ih)
        if hx is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)
            h, c = zeros, zeros
        else:
            h, c = _check_state(hx, ("batch", "hidden_size"),
                                {"batch": x.shape[0], "hidden_size": self.hidden_size})
            _check_dtype("h", h, self.weight_ih)
            _check_dtype("c", c, self.weight_ih)
        return lstm_cell(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)

    def forward(self, x: torch.Tensor, hx: State | None = None) -> State:
        """``(h', c')`` after one step; accepts unbatched ``(H_in,)`` input like PyTorch."""
        unbatched = isinstance(x, torch.Tensor) and x.dim() == 1
        if unbatched:
            x = x.unsqueeze(0)
            if hx is not None:
                h, c = _check_state(hx, ("hidden_size",), {"hidden_size": self.hidden_size})
                hx = (h.unsqueeze(0), c.unsqueeze(0))
        out = self.step(x, hx)
        if unbatched:
            return out.h.squeeze(0), out.c.squeeze(0)
        return out.h, out.c


class LSTM(nn.Module):
    r"""Multi-layer LSTM written with a Python loop over time; same API as :class:`torch.nn.LSTM`.

    Each step calls :func:`lstm_cell` (gates computed one by one). Layer ``k ≥ 1`` reads the
    states of layer ``k-1`` (both directions concatenated), after dropout when training.

    Args:
        input_size: features per step ``H_in``.
        hidden_size: size ``H`` of ``h`` and ``c``.
        num_layers: stacked layers.
        bias: with ``False`` there are no bias parameters.
        batch_first: input and output are ``(N, L, ·)`` instead of ``(L, N, ·)``
            (the states are never batch-first).
        dropout: probability of zeroing the output of each layer except the last, in training.
        bidirectional: add a layer reading the sequence backwards; outputs are concatenated.
        device, dtype: where and in which precision to create the parameters.

    Parameters (``sfx`` is ``""`` or ``"_reverse"``): ``weight_ih_l{k}{sfx}`` ``(4H, H_in)`` for
    ``k = 0`` and ``(4H, D·H)`` above, ``weight_hh_l{k}{sfx}`` ``(4H, H)``, ``bias_ih_l{k}{sfx}``
    and ``bias_hh_l{k}{sfx}`` ``(4H,)``, all ``~ U(-1/√H, 1/√H)`` as in PyTorch.

    Shapes: see the module docstring. ``forward(x, (h_0, c_0)=None) -> (output, (h_n, c_n))``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = check_probability(dropout, "dropout")
        self.bidirectional = bool(bidirectional)
        self.num_directions = 2 if bidirectional else 1
        factory = {"device": device, "dtype": dtype}
        for k in range(num_layers):
            layer_in = input_size if k == 0 else self.num_directions * hidden_size
            for sfx in self._suffixes():
                self.register_parameter(f"weight_ih_l{k}{sfx}", nn.Parameter(
                    torch.empty(4 * hidden_size, layer_in, **factory)))
                self.register_parameter(f"weight_hh_l{k}{sfx}", nn.Parameter(
                    torch.empty(4 * hidden_size, hidden_size, **factory)))
                if bias:
                    self.register_parameter(f"bias_ih_l{k}{sfx}", nn.Parameter(
                        torch.empty(4 * hidden_size, **factory)))
                    self.register_parameter(f"bias_hh_l{k}{sfx}", nn.Parameter(
                        torch.empty(4 * hidden_size, **factory)))
        self.reset_parameters()

    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse") if self.bidirectional else ("",)

    def reset_parameters(self) -> None:
        """Uniform in ``[-1/√hidden_size, 1/√hidden_size]``, as ``nn.LSTM``."""
        _init_uniform(self, self.hidden_size)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        for name, default in (("num_layers", 1), ("bias", True), ("batch_first", False),
                              ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        return text

    def layer_weights(self, layer: int, reverse: bool = False
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None,
                                 torch.Tensor | None]:
        """``(weight_ih, weight_hh, bias_ih, bias_hh)`` of one layer and direction."""
        sfx = "_reverse" if reverse else ""
        return (getattr(self, f"weight_ih_l{layer}{sfx}"),
                getattr(self, f"weight_hh_l{layer}{sfx}"),
                getattr(self, f"bias_ih_l{layer}{sfx}", None),
                getattr(self, f"bias_hh_l{layer}{sfx}", None))

    @classmethod
    def from_torch(cls, lstm: nn.LSTM) -> LSTM:
        """A module of this class with ``lstm``'s configuration, device, dtype and weights."""
        if not isinstance(lstm, nn.LSTM):
            raise TypeError(f"lstm must be a torch.nn.LSTM, got {type(lstm).__name__}")
        if lstm.proj_size:
            raise ValueError("LSTMs with projections (proj_size > 0) are not supported")
        ref = lstm.weight_ih_l0
        mine = cls(lstm.input_size, lstm.hidden_size, lstm.num_layers, lstm.bias,
                   lstm.batch_first, float(lstm.dropout), lstm.bidirectional,
                   device=ref.device, dtype=ref.dtype)
        mine.load_state_dict(lstm.state_dict())
        return mine

    # --- input checks -------------------------------------------------------------------------

    def _check_inputs(self, x: torch.Tensor, hx: object) -> tuple[bool, State | None]:
        """Validate like ``nn.LSTM``; return (batched?, state with a batch dimension)."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}"
                            + ("; convert a NumPy array with torch.from_numpy(x)"
                               if type(x).__module__ == "numpy" else ""))
        stack = self.num_layers * self.num_directions
        if x.dim() == 2:
            check_array(x, "x (unbatched)", ("seq_len", "input_size"),
                        {"input_size": self.input_size})
            _check_dtype("x", x, self.weight_ih_l0)
            if hx is None:
                return False, None
            h, c = _check_state(hx, ("num_layers*num_directions", "hidden_size"),
                                {"num_layers*num_directions": stack,
                                 "hidden_size": self.hidden_size})
            _check_dtype("h_0", h, self.weight_ih_l0)
            _check_dtype("c_0", c, self.weight_ih_l0)
            return False, (h.unsqueeze(1), c.unsqueeze(1))
        dims = (("batch", "seq_len", "input_size") if self.batch_first
                else ("seq_len", "batch", "input_size"))
        if x.dim() != 3:
            raise ShapeError(f"x must have 3 dimensions ({', '.join(dims)}) or 2 (seq_len, "
                             f"input_size) when unbatched, got shape {tuple(x.shape)}")
        check_array(x, "x", dims, {"input_size": self.input_size})
        _check_dtype("x", x, self.weight_ih_l0)
        if hx is None:
            return True, None
        batch = x.shape[0] if self.batch_first else x.shape[1]
        h, c = _check_state(hx, ("num_layers*num_directions", "batch", "hidden_size"),
                            {"num_layers*num_directions": stack, "batch": batch,
                             "hidden_size": self.hidden_size})
        _check_dtype("h_0", h, self.weight_ih_l0)
        _check_dtype("c_0", c, self.weight_ih_l0)
        return True, (h, c)

    # --- the computation ----------------------------------------------------------------------

    def _run_direction(self, inputs: torch.Tensor, h: torch.Tensor, c: torch.Tensor,
                       weights: tuple, reverse: bool, record: list | None
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One layer, one direction over time-major ``inputs`` ``(L, N, ·)``.

        Returns the states at every step ``(L, N, H)`` (in the original time order) and the
        final ``h``, ``c``. When ``record`` is a list, the :class:`LSTMStep` of each step is
        appended to it (in the original time order).
        """
        steps = range(inputs.shape[0] - 1, -1, -1) if reverse else range(inputs.shape[0])
        outputs: list[torch.Tensor] = [inputs.new_empty(0)] * inputs.shape[0]
        trace: list[LSTMStep | None] = [None] * inputs.shape[0]
        xs = inputs.unbind(0)  # not inputs[t]: its backward would write a full-size tensor
        for t in steps:
            step = lstm_cell(xs[t], h, c, *weights)
            h, c = step.h, step.c
            outputs[t] = h
            trace[t] = step
        if record is not None:
            record.extend(trace)
        return torch.stack(outputs), h, c

    def _forward(self, x: torch.Tensor, hx: State | None, record: list | None
                 ) -> tuple[torch.Tensor, State]:
        batched, hx = self._check_inputs(x, hx)
        if not batched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)  # work time-major: (L, N, H_in)
        batch = x.shape[1]
        if hx is None:
            zeros = x.new_zeros(self.num_layers * self.num_directions, batch, self.hidden_size)
            hx = (zeros, zeros)
        h0, c0 = hx
        layer_input, h_n, c_n = x, [], []
        for k in range(self.num_layers):
            if k > 0 and self.dropout > 0 and self.training:
                layer_input = nn.functional.dropout(layer_input, self.dropout, training=True)
            outs = []
            for d in range(self.num_directions):
                j = k * self.num_directions + d
                layer_record: list | None = [] if record is not None else None
                out, h, c = self._run_direction(layer_input, h0[j], c0[j],
                                                self.layer_weights(k, reverse=d == 1),
                                                reverse=d == 1, record=layer_record)
                if record is not None:
                    record.append(layer_record)
                outs.append(out)
                h_n.append(h)
                c_n.append(c)
            layer_input = outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1)
        output, h_n_t, c_n_t = layer_input, torch.stack(h_n), torch.stack(c_n)
        if not batched:
            return output.squeeze(1), (h_n_t.squeeze(1), c_n_t.squeeze(1))
        if self.batch_first:
            output = output.transpose(0, 1)
        return output, (h_n_t, c_n_t)

    def forward(self, x: torch.Tensor, hx: State | None = None
                ) -> tuple[torch.Tensor, State]:
        """Run the LSTM over ``x``; returns ``(output, (h_n, c_n))`` shaped as ``nn.LSTM``'s."""
        return self._forward(x, hx, record=None)

    @torch.no_grad()
    def gates(self, x: torch.Tensor, hx: State | None = None) -> dict[str, torch.Tensor]:
        """Every gate at every step, for plots: keys ``"i", "f", "g", "o", "c", "h"``.

        Each value has shape ``(num_layers * num_directions, N, L, H)`` (batch before time,
        whatever ``batch_first`` is; an unbatched input gives ``N = 1``), indexed like ``h_n``.
        """
        record: list[list[LSTMStep]] = []
        self._forward(x, hx, record=record)
        return {name: torch.stack([torch.stack([getattr(s, name) for s in steps], dim=1)
                                   for steps in record])
                for name in LSTMStep._fields}


class FusedLSTM(LSTM):
    r"""The same LSTM (same parameters, API and results) computed with fewer, larger products.

    Per layer and direction: ``X W_ih^T + b_ih`` for all ``L`` steps in one product
    ``(L·N, H_in) @ (H_in, 4H)``; then per step one product ``h W_hh^T`` ``(N, H) @ (H, 4H)``
    for all four gates, split into i, f, g, o with ``chunk``. The arithmetic is that of
    :class:`LSTM`; only the grouping changes, so results agree to rounding error.
    """

    def _run_direction(self, inputs: torch.Tensor, h: torch.Tensor, c: torch.Tensor,
                       weights: tuple, reverse: bool, record: list | None
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if record is not None:  # the gate trace is a teaching tool: use the named version
            return super()._run_direction(inputs, h, c, weights, reverse, record)
        w_ih, w_hh, b_ih, b_hh = weights
        x_proj = inputs @ w_ih.T  # (L, N, 4H): every step's input part at once
        if b_ih is not None:
            x_proj = x_proj + (b_ih + b_hh)
        w_hh_t = w_hh.T
        seq_len = inputs.shape[0]
        # unbind, not x_proj[t]: each indexing op's backward writes a zero tensor the size of
        # the whole sequence, which makes backward quadratic in the length.
        steps = x_proj.unbind(0)
        outputs: list[torch.Tensor] = [inputs.new_empty(0)] * seq_len
        for t in (range(seq_len - 1, -1, -1) if reverse else range(seq_len)):
            z = steps[t] + h @ w_hh_t  # (N, 4H): all four gates in one product
            i, f, g, o = z.chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outputs[t] = h
        return torch.stack(outputs), h, c


# --- parameter counts --------------------------------------------------------------------------

_BLOCKS = {"rnn": 1, "gru": 3, "lstm": 4}


def recurrent_num_params(kind: str, input_size: int, hidden_size: int, num_layers: int = 1,
                         bias: bool = True, bidirectional: bool = False) -> int:
    """Parameters of ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` with this configuration.

    A cell with ``B`` blocks (1 for the RNN, 3 for the GRU, 4 for the LSTM) has, per layer and
    direction, ``B·(H·I + H·H + 2H)`` parameters (``B·(H·I + H·H)`` without bias), where ``I``
    is the layer's input width: ``input_size`` for layer 0, ``D·H`` above.
    """
    if kind not in _BLOCKS:
        raise ValueError(f"kind must be one of {sorted(_BLOCKS)}, got {kind!r}")
    check_positive_int(input_size, "input_size")
    check_positive_int(hidden_size, "hidden_size")
    check_positive_int(num_layers, "num_layers")
    blocks, directions = _BLOCKS[kind], (2 if bidirectional else 1)
    total = 0
    for k in range(num_layers):
        layer_in = input_size if k == 0 else directions * hidden_size
        per = hidden_size * layer_in + hidden_size * hidden_size + (2 * hidden_size if bias else 0)
        total += directions * blocks * per
    return total


def lstm_num_params(input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                    bidirectional: bool = False) -> int:
    """Parameters of ``nn.LSTM``: ``4(H·I + H·H + 2H)`` per layer and direction."""
    return recurrent_num_params("lstm", input_size, hidden_size, num_layers, bias, bidirectional)


# --- comparing with PyTorch --------------------------------------------------------------------

def compare_with_reference(mine: nn.Module, ref: nn.Module, x: torch.Tensor,
                           hx: object = None, seed: int = 0) -> dict[str, float]:
    """Largest differences between two recurrent modules with the same parameters.

    Both modules are run on ``x`` (and the initial state ``hx``, a tensor or a tuple of
    tensors, or ``None``); the loss ``Σ w ⊙ (output, states)`` with fixed random weights ``w``
    is differentiated with respect to ``x``, the initial state and every parameter.

    Returns:
        ``{"output": e, "state": e, "grad_input": e, "grad_params": e}`` where each ``e`` is
        ``max |mine - ref| / (1 + |ref|)``: an absolute error where values are below 1 and a
        relative one above (``torch.testing.assert_close`` with ``atol = rtol = e`` passes).
    """
    if [n for n, _ in mine.named_parameters()] != [n for n, _ in ref.named_parameters()]:
        raise ValueError("the two modules do not have the same parameter names")
    states = () if hx is None else ((hx,) if isinstance(hx, torch.Tensor) else tuple(hx))

    def run(module: nn.Module) -> dict[str, list[torch.Tensor]]:
        x_in = x.detach().clone().requires_grad_(True)
        s_in = tuple(s.detach().clone().requires_grad_(True) for s in states)
        arg = None if hx is None else (s_in[0] if isinstance(hx, torch.Tensor) else s_in)
        out, final = module(x_in, arg)
        finals = [final] if isinstance(final, torch.Tensor) else list(final)
        gen = torch.Generator().manual_seed(seed)
        loss = sum((t * torch.randn(t.shape, generator=gen, dtype=t.dtype).to(t.device)).sum()
                   for t in [out, *finals])
        grads = torch.autograd.grad(loss, [x_in, *s_in, *module.parameters()])
        n_in = 1 + len(s_in)
        return {"output": [out], "state": finals, "grad_input": list(grads[:n_in]),
                "grad_params": list(grads[n_in:])}

    got, want = run(mine), run(ref)
    return {key: max(float(((a - b).abs() / (1 + b.abs())).max().detach()) for a, b in
                     zip(got[key], want[key]))
            for key in got}
