r"""The gated recurrent unit (GRU), from its equations, in PyTorch's layout (chapter 6).

For a batch of inputs :math:`x_t` and the previous state :math:`h_{t-1}`, one GRU step is

.. math::

    r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})
        && \text{reset gate} \\
    z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})
        && \text{update gate} \\
    n_t &= \tanh\big(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})\big)
        && \text{candidate (PyTorch, cuDNN)} \\
    h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}
        && \text{new state}

``variant="cho"`` uses Cho et al. (2014)'s original candidate instead, where the reset gate
scales the *state before* the matrix product:

.. math::

    n_t = \tanh\big(W_{in} x_t + b_{in} + W_{hn} (r_t \odot h_{t-1}) + b_{hn}\big).

The two are different functions of the same weights (they agree only where ``r_t = 1`` and
``b_{hn} = 0``). PyTorch's form lets all three hidden-side products ``W_{h\cdot} h_{t-1}`` be
done in one matrix product before the gates are known, which is why cuDNN and PyTorch use it.
Beware of the convention for :math:`z`: here (as in PyTorch and Cho et al.) :math:`z_t = 1`
*keeps* the old state; some texts write :math:`h_t = z_t \odot n_t + (1 - z_t) \odot h_{t-1}`,
which is the same model with :math:`z` replaced by :math:`1 - z`.

Parameters use PyTorch's layout, gate order ``r, z, n`` stacked along the rows:
``weight_ih`` ``(3H, I)`` = ``[W_ir; W_iz; W_in]``, ``weight_hh`` ``(3H, H)``,
``bias_ih`` and ``bias_hh`` ``(3H,)``. :class:`GRU` and :class:`FusedGRU` name them
``weight_ih_l{k}`` (``_reverse`` for the backward direction) exactly like :class:`torch.nn.GRU`,
so ``mine.load_state_dict(torch_gru.state_dict())`` works.

Shapes (``L`` sequence length, ``N`` batch, ``I`` input size, ``H`` hidden size,
``D`` = 2 if bidirectional else 1), as in :class:`torch.nn.GRU`:

- input: ``(L, N, I)``, ``(N, L, I)`` if ``batch_first``, or ``(L, I)`` unbatched
- ``h0``: ``(D * num_layers, N, H)`` (never batch-first) or ``(D * num_layers, H)``;
  zeros if omitted
- output: ``(L, N, D * H)`` (``(N, L, D * H)`` if ``batch_first``): last layer, every step
- ``h_n``: ``(D * num_layers, N, H)``: every layer and direction at its last step
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from .validation import ShapeError, check_array, check_positive_int, check_probability

__all__ = [
    "VARIANTS",
    "GRUGates",
    "gru_gates",
    "gru_cell",
    "GRUCell",
    "GRU",
    "FusedGRU",
    "gate_trace",
    "time_models",
]

VARIANTS = ("pytorch", "cho")


def _check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be 'pytorch' (reset gate applied to W_hn h + b_hn) or "
                         f"'cho' (reset gate applied to h before W_hn), got {variant!r}")
    return variant


class GRUGates(NamedTuple):
    """One step's gates, each ``(N, H)``: reset ``r``, update ``z``, candidate ``n``."""

    r: torch.Tensor
    z: torch.Tensor
    n: torch.Tensor


def gru_gates(x: torch.Tensor, h: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor,
              b_ih: torch.Tensor | None = None, b_hh: torch.Tensor | None = None,
              variant: str = "pytorch") -> GRUGates:
    """The reset gate, update gate and candidate of one step, one equation per line.

    Args:
        x: input ``(N, I)``; h: previous state ``(N, H)``.
        w_ih: ``(3H, I)``; w_hh: ``(3H, H)``; b_ih, b_hh: ``(3H,)`` or ``None``
            (gate order r, z, n).
        variant: ``"pytorch"`` or ``"cho"`` (see the module docstring).
    """
    W_ir, W_iz, W_in = w_ih.chunk(3, dim=0)
    W_hr, W_hz, W_hn = w_hh.chunk(3, dim=0)
    b_ir, b_iz, b_in = b_ih.chunk(3) if b_ih is not None else (0.0, 0.0, 0.0)
    b_hr, b_hz, b_hn = b_hh.chunk(3) if b_hh is not None else (0.0, 0.0, 0.0)
    r = torch.sigmoid(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
    z = torch.sigmoid(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
    if variant == "pytorch":
        n = torch.tanh(x @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))
    elif variant == "cho":
        n = torch.tanh(x @ W_in.T + b_in + (r * h) @ W_hn.T + b_hn)
    else:
        _check_variant(variant)
    return GRUGates(r, z, n)


def gru_cell(x: torch.Tensor, h: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor,
             b_ih: torch.Tensor | None = None, b_hh: torch.Tensor | None = None,
             variant: str = "pytorch") -> torch.Tensor:
    """One GRU step ``h' = (1 - z) * n + z * h`` (arguments as in :func:`gru_gates`)."""
    _, z, n = gru_gates(x, h, w_ih, w_hh, b_ih, b_hh, variant)
    return (1 - z) * n + z * h


def _init_uniform(params: list[nn.Parameter], hidden_size: int) -> None:
    # torch.nn.GRU's initialisation: every parameter ~ U(-1/sqrt(H), 1/sqrt(H)).
    bound = 1.0 / math.sqrt(hidden_size)
    for p in params:
        nn.init.uniform_(p, -bound, bound)


def _check_input_tensor(x: object, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")


def _check_dtype(x: torch.Tensor, name: str, weight: torch.Tensor) -> None:
    if x.dtype != weight.dtype:
        raise TypeError(f"{name} has dtype {x.dtype} but the parameters are {weight.dtype}; "
                        f"convert one of them (e.g. model.to({x.dtype}) or x.to({weight.dtype}))")


class GRUCell(nn.Module):
    r"""One GRU step, ``h' = GRUCell(x, h)``, with :class:`torch.nn.GRUCell`'s parameters.

    Args:
        input_size: features ``I`` of ``x``.
        hidden_size: features ``H`` of the state.
        bias: add ``bias_ih`` and ``bias_hh``.
        variant: ``"pytorch"`` (``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``) or ``"cho"``
            (``n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)``).

    Shape:
        ``x`` ``(N, I)`` or ``(I,)``; ``h`` ``(N, H)`` or ``(H,)`` (zeros if omitted) → ``(N, H)``
        or ``(H,)``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 variant: str = "pytorch", device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.variant = _check_variant(variant)
        self.bias = bool(bias)
        kw = {"device": device, "dtype": dtype}
        H = self.hidden_size
        self.weight_ih = nn.Parameter(torch.empty(3 * H, self.input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(3 * H, H, **kw))
        if self.bias:
            self.bias_ih = nn.Parameter(torch.empty(3 * H, **kw))
            self.bias_hh = nn.Parameter(torch.empty(3 * H, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        _init_uniform(list(self.parameters()), H)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        _check_input_tensor(x, "x")
        if x.dim() not in (1, 2):
            raise ShapeError(f"x must have 2 dimensions (batch, input_size={self.input_size}) "
                             f"or 1 for an unbatched step, got shape {tuple(x.shape)}")
        batched = x.dim() == 2
        dims = ("batch", "input_size") if batched else ("input_size",)
        check_array(x, "x", dims, sizes={"input_size": self.input_size})
        _check_dtype(x, "x", self.weight_ih)
        if h is None:
            h = x.new_zeros(*x.shape[:-1], self.hidden_size)
        else:
            _check_input_tensor(h, "h")
            hdims = ("batch", "hidden_size") if batched else ("hidden_size",)
            sizes = {"hidden_size": self.hidden_size}
            if batched:
                sizes["batch"] = x.shape[0]
            check_array(h, "h", hdims, sizes=sizes)
            _check_dtype(h, "h", self.weight_ih)
        out = gru_cell(x if batched else x[None], h if batched else h[None], self.weight_ih,
                       self.weight_hh, self.bias_ih, self.bias_hh, self.variant)
        return out if batched else out[0]

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, bias={self.bias}, "
                f"variant={self.variant!r}")


class GRU(nn.Module):
    r"""A multi-layer GRU written step by step from the equations (the teaching version).

    Same constructor, parameter names, shapes and results as :class:`torch.nn.GRU` (plus
    ``variant``); each step calls :func:`gru_cell`, which does six small matrix products.

    Args:
        input_size: features ``I`` per step.
        hidden_size: features ``H`` of the state.
        num_layers: stacked layers; layer ``k > 0`` reads layer ``k - 1``'s output.
        bias: use the bias vectors.
        batch_first: input and output are ``(N, L, ·)`` instead of ``(L, N, ·)``.
        dropout: dropout probability on the output of every layer but the last (training only).
        bidirectional: add a second direction that reads the sequence backwards.
        variant: ``"pytorch"`` or ``"cho"``.

    Forward: ``output, h_n = gru(x, h0=None)`` with the shapes of the module docstring.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, variant: str = "pytorch",
                 device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.dropout = check_probability(dropout, "dropout")
        self.variant = _check_variant(variant)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.bidirectional = bool(bidirectional)
        self.num_directions = 2 if self.bidirectional else 1
        kw = {"device": device, "dtype": dtype}
        H = self.hidden_size
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else H * self.num_directions
            for suffix in self._suffixes():
                name = f"l{layer}{suffix}"
                setattr(self, f"weight_ih_{name}", nn.Parameter(torch.empty(3 * H, layer_input,
                                                                             **kw)))
                setattr(self, f"weight_hh_{name}", nn.Parameter(torch.empty(3 * H, H, **kw)))
                if self.bias:
                    setattr(self, f"bias_ih_{name}", nn.Parameter(torch.empty(3 * H, **kw)))
                    setattr(self, f"bias_hh_{name}", nn.Parameter(torch.empty(3 * H, **kw)))
        _init_uniform(list(self.parameters()), H)

    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse") if self.bidirectional else ("",)

    def layer_weights(self, layer: int, reverse: bool = False
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None,
                                 torch.Tensor | None]:
        """``(w_ih, w_hh, b_ih, b_hh)`` of one layer and direction (biases ``None`` if absent)."""
        name = f"l{layer}{'_reverse' if reverse else ''}"
        biases = ((getattr(self, f"bias_ih_{name}"), getattr(self, f"bias_hh_{name}"))
                  if self.bias else (None, None))
        return (getattr(self, f"weight_ih_{name}"), getattr(self, f"weight_hh_{name}"), *biases)

    def _run_direction(self, x: torch.Tensor, h: torch.Tensor, layer: int,
                       reverse: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Run one layer in one direction over ``x`` ``(L, N, I_k)`` → ``((L, N, H), (N, H))``."""
        w_ih, w_hh, b_ih, b_hh = self.layer_weights(layer, reverse)
        steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
        xs = x.unbind(0)  # not x[t] in the loop: each x[t]'s backward writes a full-size tensor
        outputs: list[torch.Tensor] = [x.new_empty(0)] * x.shape[0]
        for t in steps:
            h = gru_cell(xs[t], h, w_ih, w_hh, b_ih, b_hh, self.variant)
            outputs[t] = h
        return torch.stack(outputs), h

    def _check_inputs(self, x: object, h0: object) -> tuple[bool, int]:
        _check_input_tensor(x, "input")
        assert isinstance(x, torch.Tensor)
        if x.dim() == 2:
            dims: tuple[str, ...] = ("seq_len", "input_size")
        elif self.batch_first:
            dims = ("batch", "seq_len", "input_size")
        else:
            dims = ("seq_len", "batch", "input_size")
        if x.dim() not in (2, 3):
            raise ShapeError(f"input must have 3 dimensions {dims} (or 2 for one unbatched "
                             f"sequence), got shape {tuple(x.shape)}")
        check_array(x, "input", dims, sizes={"input_size": self.input_size})
        weight = self.weight_ih_l0
        _check_dtype(x, "input", weight)
        batched = x.dim() == 3
        batch = x.shape[0 if self.batch_first else 1] if batched else 1
        if h0 is not None:
            _check_input_tensor(h0, "h0")
            assert isinstance(h0, torch.Tensor)
            states = self.num_layers * self.num_directions
            hdims = (("num_layers*num_directions", "batch", "hidden_size") if batched
                     else ("num_layers*num_directions", "hidden_size"))
            sizes = {"num_layers*num_directions": states, "batch": batch,
                     "hidden_size": self.hidden_size}
            if h0.dim() != len(hdims):
                raise ShapeError(f"h0 must have shape ({states}, {batch}, {self.hidden_size}) "
                                 f"for this input (h0 is never batch-first), got "
                                 f"{tuple(h0.shape)}" if batched else
                                 f"h0 must have shape ({states}, {self.hidden_size}) for an "
                                 f"unbatched input, got {tuple(h0.shape)}")
            check_array(h0, "h0", hdims, sizes=sizes)
            _check_dtype(h0, "h0", weight)
        return batched, batch

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        batched, batch = self._check_inputs(x, h0)
        if not batched:  # one sequence: add a batch dimension of 1
            x = x.unsqueeze(1)
            h0 = h0.unsqueeze(1) if h0 is not None else None
        elif self.batch_first:
            x = x.transpose(0, 1)
        if h0 is None:
            h0 = x.new_zeros(self.num_layers * self.num_directions, batch, self.hidden_size)
        finals = []
        layer_input = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(self.num_directions):
                out, h_last = self._run_direction(layer_input, h0[layer * self.num_directions + d],
                                                  layer, reverse=d == 1)
                outs.append(out)
                finals.append(h_last)
            layer_input = torch.cat(outs, dim=-1) if len(outs) > 1 else outs[0]
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        output, h_n = layer_input, torch.stack(finals)
        if not batched:
            return output.squeeze(1), h_n.squeeze(1)
        return (output.transpose(0, 1) if self.batch_first else output), h_n

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"bias={self.bias}, batch_first={self.batch_first}, dropout={self.dropout}, "
                f"bidirectional={self.bidirectional}, variant={self.variant!r}")


class FusedGRU(GRU):
    r"""The same GRU, computed with fewer, larger matrix products (same parameters, same results).

    Two rewrites, both exact:

    1. The input side does not depend on the state, so ``W_ih x_t + b_ih`` for *all* steps is one
       product ``(L·N, I) @ (I, 3H)`` before the loop.
    2. Inside the loop, the three hidden-side products are one product ``h @ W_hh^T + b_hh``
       ``(N, 3H)``, split into r, z, n afterwards. (In the ``"cho"`` variant the candidate needs
       ``r ⊙ h`` first, so its ``W_hn`` product stays separate: two products per step.)
    """

    def _run_direction(self, x: torch.Tensor, h: torch.Tensor, layer: int,
                       reverse: bool) -> tuple[torch.Tensor, torch.Tensor]:
        w_ih, w_hh, b_ih, b_hh = self.layer_weights(layer, reverse)
        H = self.hidden_size
        # (L, N, 3H): every step's input projection in one product. unbind, not gi_all[t]:
        # the backward of gi_all[t] writes a zero-filled (L, N, 3H) tensor at every step.
        gi_all = F.linear(x, w_ih, b_ih).unbind(0)
        steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
        outputs: list[torch.Tensor] = [x.new_empty(0)] * x.shape[0]
        for t in steps:
            i_r, i_z, i_n = gi_all[t].chunk(3, dim=-1)
            if self.variant == "pytorch":
                h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, dim=-1)
                r = torch.sigmoid(i_r + h_r)
                z = torch.sigmoid(i_z + h_z)
                n = torch.tanh(i_n + r * h_n)
            else:
                h_r, h_z = F.linear(h, w_hh[:2 * H], None if b_hh is None else b_hh[:2 * H]
                                    ).chunk(2, dim=-1)
                r = torch.sigmoid(i_r + h_r)
                z = torch.sigmoid(i_z + h_z)
                n = torch.tanh(i_n + F.linear(r * h, w_hh[2 * H:],
                                              None if b_hh is None else b_hh[2 * H:]))
            h = torch.lerp(n, h, z)  # n + z * (h - n) = (1 - z) * n + z * h
            outputs[t] = h
        return torch.stack(outputs), h


def gate_trace(gru: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Gates and states of the first layer (forward direction) of a GRU over one batch.

    Args:
        gru: a :class:`GRU` or :class:`torch.nn.GRU` (any ``batch_first``; layer 0 is traced,
            with the variant of ``gru`` if it has one, else PyTorch's).
        x: input in ``gru``'s layout.

    Returns:
        ``{"r", "z", "n", "h"}``, each ``(N, L, H)`` (batch first, whatever ``gru`` uses).
    """
    name = "l0"
    w_ih, w_hh = getattr(gru, f"weight_ih_{name}"), getattr(gru, f"weight_hh_{name}")
    b_ih, b_hh = getattr(gru, f"bias_ih_{name}", None), getattr(gru, f"bias_hh_{name}", None)
    variant = getattr(gru, "variant", "pytorch")
    check_array(x, "x", ("batch", "seq_len", "input_size") if gru.batch_first
                else ("seq_len", "batch", "input_size"), sizes={"input_size": gru.input_size})
    xs = x if gru.batch_first else x.transpose(0, 1)
    h = xs.new_zeros(xs.shape[0], gru.hidden_size)
    trace: dict[str, list[torch.Tensor]] = {"r": [], "z": [], "n": [], "h": []}
    with torch.no_grad():
        for t in range(xs.shape[1]):
            r, z, n = gru_gates(xs[:, t], h, w_ih, w_hh, b_ih, b_hh, variant)
            h = (1 - z) * n + z * h
            for key, value in zip("rznh", (r, z, n, h)):
                trace[key].append(value)
    return {key: torch.stack(values, dim=1) for key, values in trace.items()}


def time_models(models: dict[str, Callable[[torch.Tensor], object]], x: torch.Tensor,
                repeats: int = 5, warmup: int = 1, rounds: int = 3) -> dict[str, float]:
    """Median seconds of forward + backward for each model on the same ``x``, interleaved.

    The models are timed in turns (``rounds`` rounds of ``repeats`` passes each), so that a
    slow-down of the machine in the middle of the run affects all of them alike; ratios taken
    from one call are therefore more trustworthy than absolute times.
    """
    from .training import time_forward_backward

    rounds = check_positive_int(rounds, "rounds")
    samples: dict[str, list[float]] = {name: [] for name in models}
    for model in models.values():
        time_forward_backward(model, x, repeats=1, warmup=warmup)
    for _ in range(rounds):
        for name, model in models.items():
            samples[name].append(time_forward_backward(model, x, repeats=repeats, warmup=0))
    return {name: statistics.median(values) for name, values in samples.items()}


def implementations(kind: str, input_size: int, hidden_size: int,
                    device: torch.device | str | None = None) -> dict[str, nn.Module]:
    """The teaching layer, the fused layer and the native op of one cell, sharing weights.

    Args:
        kind: ``"gru"`` (:class:`GRU`, :class:`FusedGRU`, :class:`torch.nn.GRU`) or ``"lstm"``
            (``rnncourse.lstm.LSTM``, ``FusedLSTM``, :class:`torch.nn.LSTM`; chapter 5).

    Returns:
        ``{"teaching": ..., "fused": ..., "native": ...}``, single-layer, sequence-first, on
        ``device``, all loaded with the native module's initial weights.
    """
    if kind == "gru":
        classes: tuple[type[nn.Module], ...] = (GRU, FusedGRU, nn.GRU)
    elif kind == "lstm":
        from . import lstm

        classes = (lstm.LSTM, lstm.FusedLSTM, nn.LSTM)
    else:
        raise ValueError(f"kind must be 'gru' or 'lstm', got {kind!r}")
    models = {name: cls(input_size, hidden_size).to(device)
              for name, cls in zip(("teaching", "fused", "native"), classes)}
    for name in ("teaching", "fused"):
        models[name].load_state_dict(models["native"].state_dict())
    return models


def benchmark_cells(seq_len: int, batch: int, hidden: int, repeats: int = 5,
                    device: torch.device | str | None = None,
                    kinds: tuple[str, ...] = ("gru", "lstm"), rounds: int = 3
                    ) -> list[dict[str, object]]:
    """Time forward + backward of teaching, fused and native layers of each cell kind.

    Every model sees the same input ``(seq_len, batch, hidden)``; times are medians over
    interleaved rounds (:func:`time_models`). Returns one row per (kind, implementation) with
    ``"ms"`` and ``"vs_native"`` (time divided by the native op's time).
    """
    seq_len = check_positive_int(seq_len, "seq_len")
    batch = check_positive_int(batch, "batch")
    hidden = check_positive_int(hidden, "hidden")
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(seq_len, batch, hidden, generator=gen).to(device)
    rows: list[dict[str, object]] = []
    for kind in kinds:
        models = implementations(kind, hidden, hidden, device)
        times = time_models(models, x, repeats=repeats, rounds=rounds)  # type: ignore[arg-type]
        for name, seconds in times.items():
            rows.append({"cell": kind, "implementation": name, "ms": 1e3 * seconds,
                         "vs_native": seconds / times["native"]})
    return rows
