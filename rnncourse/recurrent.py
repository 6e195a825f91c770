r"""The scaffolding every recurrent layer of the course shares: the job of ``torch.nn.RNNBase``.

A recurrent layer is a *cell* — one step, :math:`(x_t, \text{state}_{t-1}) \mapsto
\text{state}_t` — plus plumbing that is the same for every cell: parameters with PyTorch's
names and shapes, their initialisation, the loop over time, stacking layers, running a second
direction, ``batch_first`` and unbatched layouts, input checks, loading a PyTorch module's
weights. :class:`RNNBase` does the plumbing once; a chapter's layer only says what its cell is:

.. code-block:: python

    class LSTM(RNNBase):
        num_gates = 4                    # weight_ih is (4H, H_in): blocks i, f, g, o
        state_names = ("h", "c")         # the state is a tuple (h, c)
        torch_class = nn.LSTM            # LSTM.from_torch(nn.LSTM(...)) copies its weights
        cell = staticmethod(lstm_cell)   # lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh) -> LSTMStep

Notation (PyTorch's): for layer ``k`` and direction suffix ``sfx`` (``""`` forward,
``"_reverse"`` backward), ``weight_ih_l{k}{sfx}`` is ``W_ih`` of shape ``(G·H, H_in)`` for
``k = 0`` and ``(G·H, D·H)`` above, ``weight_hh_l{k}{sfx}`` is ``W_hh`` ``(G·H, H)``, and
``bias_ih_l{k}{sfx}``, ``bias_hh_l{k}{sfx}`` are ``(G·H,)``, where ``G`` is the number of
gate blocks (1 RNN, 3 GRU, 4 LSTM) and ``D`` the number of directions. A batch is in rows, so
products are ``x @ W_ih.T``. The textbook's :math:`W_{xh}` is ``W_ih`` (see the glossary).

Also here, because every chapter uses them: :func:`num_params` (the parameter count of any
of these layers), :func:`compare` (a layer against a reference module on the same weights:
outputs, states and every gradient, with one tolerance rule) and :class:`SequenceModel`
(a recurrent encoder with a linear read-out, at the last step or at every step).
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from .validation import check_cell_call, check_positive_int, check_probability, check_rnn_call

__all__ = ["RNNBase", "RNNCellBase", "num_params", "compare", "Comparison", "tolerance",
           "SequenceModel", "make_rnn"]

Tensor = torch.Tensor
State = tuple[Tensor, ...]


def _merge_options(config: dict[str, Any], options: dict[str, Any], module: nn.Module
                   ) -> dict[str, Any]:
    """The torch module's configuration plus the layer's own options; a clash is an error."""
    for name, value in options.items():
        if name in config and config[name] != value:
            raise ValueError(f"{name}={value!r} contradicts the torch module, which has "
                             f"{name}={config[name]!r}: {module}")
    return {**config, **options}


def _caller_stacklevel() -> int:
    """``stacklevel`` for a warning that names the first frame outside this package."""
    here = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(here):
        frame, level = frame.f_back, level + 1
    return level


def _state_of(step: Any, names: Sequence[str]) -> State:
    """The state inside a cell's return value: the tensor itself, or the named fields."""
    if isinstance(step, Tensor):
        return (step,)
    return tuple(getattr(step, name) for name in names)


class _Parameters(nn.Module):
    """What a layer and a cell share: sizes, gate blocks, PyTorch's initialisation and repr."""

    num_gates: ClassVar[int] = 1
    state_names: ClassVar[tuple[str, ...]] = ("h",)
    torch_class: ClassVar[type[nn.Module]] = nn.Module

    def _new_parameter(self, name: str, shape: tuple[int, ...], factory: dict) -> None:
        self.register_parameter(name, nn.Parameter(torch.empty(shape, **factory)))

    def reset_parameters(self) -> None:
        """Every parameter uniform in ``[-1/√H, 1/√H]``, as PyTorch's recurrent modules."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for param in self.parameters():
            nn.init.uniform_(param, -bound, bound)

    def _extra_repr_options(self) -> dict[str, tuple[Any, Any]]:
        return {}

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        for name, (value, default) in self._extra_repr_options().items():
            if value != default:
                text += f", {name}={value!r}"
        return text

    def _state_like(self, x: Tensor, batch: int, num_states: int | None = None) -> State:
        shape = (batch, self.hidden_size) if num_states is None else (num_states, batch,
                                                                      self.hidden_size)
        return tuple(x.new_zeros(shape) for _ in self.state_names)

    def _pack(self, state: State) -> Tensor | State:
        """The state as PyTorch returns it: one tensor, or a tuple ``(h, c)``."""
        return state[0] if len(state) == 1 else tuple(state)


class RNNBase(_Parameters):
    r"""Multi-layer, optionally bidirectional recurrent layer with ``torch.nn.RNNBase``'s API.

    Subclasses set ``num_gates``, ``state_names``, ``torch_class`` and a ``cell``:
    ``cell(x, *state, *weights)`` returns the new state (a tensor when the state is one tensor)
    or a named tuple whose fields include ``state_names`` (its other fields are the gates,
    which :meth:`gates` records). The loop over time (:meth:`run_direction`) and over layers
    and directions (:meth:`forward_layers`) are written once, here.

    Args:
        input_size: features per step ``H_in``.
        hidden_size: size ``H`` of the state.
        num_layers: stacked layers; layer ``k ≥ 1`` reads layer ``k-1``'s states (both
            directions concatenated).
        bias: with ``False`` there are no bias parameters.
        batch_first: input and output are ``(N, L, ·)`` instead of ``(L, N, ·)``; the states
            never are.
        dropout: probability of zeroing each layer's output except the last's, in training.
        bidirectional: add a direction reading the sequence backwards; outputs concatenated.
        device, dtype: where and in which precision to create the parameters.

    Inputs: ``input, hx``
        - ``input``: ``(L, N, H_in)``, ``(N, L, H_in)`` if ``batch_first``, or ``(L, H_in)``.
        - ``hx``: ``(D·num_layers, N, H)`` (a tuple of two such tensors for an LSTM), or
          ``(D·num_layers, H)`` unbatched; zeros when omitted.

    Outputs: ``output, h_n``
        - ``output``: the last layer's ``h_t`` at every step, ``(L, N, D·H)`` (batch-first or
          unbatched like ``input``).
        - ``h_n``: every layer's and direction's final state, shaped like ``hx``; index
          ``D·k + d`` is layer ``k``, direction ``d``.
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
        if self.dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}",
                          stacklevel=_caller_stacklevel())
        factory = {"device": device, "dtype": dtype}
        for k in range(num_layers):
            layer_in = input_size if k == 0 else self.num_directions * hidden_size
            for sfx in self._suffixes():
                for name, shape in self._parameter_shapes(layer_in).items():
                    self._new_parameter(f"{name}_l{k}{sfx}", shape, factory)
        self.reset_parameters()

    # --- parameters ---------------------------------------------------------------------------

    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse") if self.bidirectional else ("",)

    def _parameter_shapes(self, layer_in: int) -> dict[str, tuple[int, ...]]:
        """Name → shape of one layer's (one direction's) parameters, in the cell's order."""
        rows = self.num_gates * self.hidden_size
        shapes: dict[str, tuple[int, ...]] = {"weight_ih": (rows, layer_in),
                                              "weight_hh": (rows, self.hidden_size)}
        if self.bias:
            shapes.update(bias_ih=(rows,), bias_hh=(rows,))
        return shapes

    def layer_weights(self, layer: int, direction: int = 0) -> tuple[Tensor, ...]:
        """The parameters the cell of one layer and direction receives, in order.

        Without bias, zeros stand in for ``bias_ih`` and ``bias_hh`` (adding 0 changes nothing),
        so that a cell is written once, with its biases.
        """
        sfx = "_reverse" if direction == 1 else ""
        names = self._parameter_shapes(1).keys()
        weights = {name: getattr(self, f"{name}_l{layer}{sfx}") for name in names}
        if not self.bias:
            zeros = weights["weight_hh"].new_zeros(self.num_gates * self.hidden_size)
            weights = {"weight_ih": weights.pop("weight_ih"),
                       "weight_hh": weights.pop("weight_hh"),
                       "bias_ih": zeros, "bias_hh": zeros, **weights}
        return tuple(weights.values())

    def _extra_repr_options(self) -> dict[str, tuple[Any, Any]]:
        return {"num_layers": (self.num_layers, 1), "bias": (self.bias, True),
                "batch_first": (self.batch_first, False), "dropout": (self.dropout, 0.0),
                "bidirectional": (self.bidirectional, False)}

    @classmethod
    def _config_from_torch(cls, module: nn.Module) -> dict[str, Any]:
        return {"input_size": module.input_size, "hidden_size": module.hidden_size,
                "num_layers": module.num_layers, "bias": module.bias,
                "batch_first": module.batch_first, "dropout": float(module.dropout),
                "bidirectional": module.bidirectional}

    @classmethod
    def from_torch(cls, module: nn.Module, **options: Any) -> RNNBase:
        """A layer of this class with ``module``'s configuration, device, dtype and weights.

        ``module`` is the PyTorch class this layer mirrors (``torch_class``); ``options`` are
        this class's own constructor arguments (e.g. ``variant="cho"``). Parameters the torch
        module does not have (e.g. layer-norm gains) keep their initial values.
        """
        if not isinstance(module, cls.torch_class):
            raise TypeError(f"{cls.__name__}.from_torch needs a torch.nn."
                            f"{cls.torch_class.__name__}, got {type(module).__name__}")
        if getattr(module, "proj_size", 0):
            raise ValueError("LSTMs with projections (proj_size > 0) are not supported")
        ref = module.weight_ih_l0
        config = _merge_options(cls._config_from_torch(module), options, module)
        with warnings.catch_warnings():  # torch already warned about dropout with one layer
            warnings.simplefilter("ignore", UserWarning)
            layer = cls(**config, device=ref.device, dtype=ref.dtype)
        result = layer.load_state_dict(module.state_dict(), strict=False)
        if result.unexpected_keys:  # cannot happen with the same configuration
            raise ValueError(f"unexpected parameters {result.unexpected_keys}")
        return layer.train(module.training)

    # --- the computation (what the chapters print) --------------------------------------------

    def cell(self, x: Tensor, *state_and_weights: Tensor) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define cell(x, *state, *weights)")

    def run_direction(self, inputs: Tensor, state: State, weights: tuple[Tensor, ...],
                      reverse: bool = False, record: dict | None = None
                      ) -> tuple[Tensor, State]:
        """One layer in one direction: the recurrence, step by step over ``inputs`` (L, N, ·)."""
        xs = inputs.unbind(0)  # L tensors (N, H_in); inputs[t] would make backward quadratic
        steps = range(len(xs) - 1, -1, -1) if reverse else range(len(xs))
        outputs: list[Tensor] = [inputs] * len(xs)  # placeholders, each replaced by h_t
        for t in steps:
            step = self.cell(xs[t], *state, *weights)  # h_t (and c_t, gates) from x_t, h_{t-1}
            state = _state_of(step, self.state_names)  # (h_t,) or (h_t, c_t)
            outputs[t] = state[0]             # h_t: (N, H)
            if record is not None:
                record[t] = step
        return torch.stack(outputs), state    # (L, N, H), final state

    def forward_layers(self, x: Tensor, hx: State, record: list | None = None
                       ) -> tuple[Tensor, State]:
        """Every layer and direction over a time-major ``x`` (L, N, H_in), states (D·K, N, H)."""
        finals = []
        for k in range(self.num_layers):
            if k > 0 and self.dropout > 0:
                x = F.dropout(x, self.dropout, self.training)  # between layers, not after last
            outs = []
            for d in range(self.num_directions):
                j = k * self.num_directions + d               # index in h_0 / h_n
                out, final = self.run_direction(x, tuple(s[j] for s in hx),
                                                self.layer_weights(k, d), reverse=d == 1,
                                                record=None if record is None else record[j])
                outs.append(out)                              # (L, N, H)
                finals.append(final)
            x = torch.cat(outs, dim=-1)                       # (L, N, D·H): input of layer k+1
        return x, tuple(torch.stack(s) for s in zip(*finals))  # each (D·K, N, H)

    # --- the plumbing: layouts and checks -----------------------------------------------------

    def _run(self, input: Tensor, hx: Any, record: list | None) -> tuple[Tensor, State, bool]:
        batched, state = check_rnn_call(
            input, hx, input_size=self.input_size, hidden_size=self.hidden_size,
            num_states=self.num_layers * self.num_directions, batch_first=self.batch_first,
            state_names=self.state_names, param=self.weight_ih_l0)
        if not batched:
            x = input.unsqueeze(1)                 # (L, 1, H_in)
        else:
            x = input.transpose(0, 1) if self.batch_first else input  # time-major (L, N, H_in)
        if state is None:
            state = self._state_like(x, x.shape[1], self.num_layers * self.num_directions)
        output, final = self.forward_layers(x, state, record)
        if not batched:
            return output.squeeze(1), tuple(s.squeeze(1) for s in final), batched
        return (output.transpose(0, 1) if self.batch_first else output), final, batched

    def forward(self, input: Tensor, hx: Tensor | State | None = None
                ) -> tuple[Tensor, Tensor | State]:
        """Run the layer over ``input``; returns ``(output, h_n)`` as PyTorch's module does."""
        output, final, _ = self._run(input, hx, record=None)
        return output, self._pack(final)

    @torch.no_grad()
    def gates(self, input: Tensor, hx: Tensor | State | None = None) -> dict[str, Tensor]:
        """Every field of the cell's output (gates and states) at every step, for plots.

        Runs the step-by-step cell (also for fused layers). Returns one tensor per field of
        size ``(D·num_layers, N, L, H)`` — batch before time whatever ``batch_first`` is, an
        unbatched input giving ``N = 1`` — indexed like ``h_n``.
        """
        record: list[dict] = [{} for _ in range(self.num_layers * self.num_directions)]
        self._run(input, hx, record)
        fields: dict[str, list[Tensor]] = {}
        for steps in record:  # one layer and direction: {t: what the cell returned at step t}
            ordered = [steps[t] for t in sorted(steps)]
            for name in getattr(ordered[0], "_fields", self.state_names):
                values = [s if isinstance(s, Tensor) else getattr(s, name) for s in ordered]
                fields.setdefault(name, []).append(torch.stack(values, dim=1))  # (N, L, H)
        return {name: torch.stack(values) for name, values in fields.items()}


class RNNCellBase(_Parameters):
    r"""One step of a recurrent layer, with ``torch.nn.RNNCell``/``GRUCell``/``LSTMCell``'s API.

    Subclasses set ``num_gates``, ``state_names``, ``torch_class`` and ``cell``, exactly as for
    :class:`RNNBase`; the parameters are ``weight_ih`` ``(G·H, H_in)``, ``weight_hh``
    ``(G·H, H)``, ``bias_ih`` and ``bias_hh`` ``(G·H,)``.

    Inputs: ``input`` ``(N, H_in)`` or ``(H_in,)``; ``hx`` ``(N, H)`` or ``(H,)`` (a tuple of
    two for an LSTM), zeros when omitted. Output: the new state, shaped like ``hx``.
    :meth:`step` returns everything the cell computes (gates included), batched.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.bias = bool(bias)
        factory = {"device": device, "dtype": dtype}
        rows = self.num_gates * hidden_size
        self._new_parameter("weight_ih", (rows, input_size), factory)
        self._new_parameter("weight_hh", (rows, hidden_size), factory)
        if bias:
            self._new_parameter("bias_ih", (rows,), factory)
            self._new_parameter("bias_hh", (rows,), factory)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def _extra_repr_options(self) -> dict[str, tuple[Any, Any]]:
        return {"bias": (self.bias, True)}

    def weights(self) -> tuple[Tensor, ...]:
        """``(weight_ih, weight_hh, bias_ih, bias_hh)``; zeros stand in for absent biases."""
        zeros = self.weight_hh.new_zeros(self.num_gates * self.hidden_size)
        return (self.weight_ih, self.weight_hh,
                zeros if self.bias_ih is None else self.bias_ih,
                zeros if self.bias_hh is None else self.bias_hh)

    @classmethod
    def from_torch(cls, module: nn.Module, **options: Any) -> RNNCellBase:
        """A cell of this class with ``module``'s sizes, device, dtype and weights."""
        if not isinstance(module, cls.torch_class):
            raise TypeError(f"{cls.__name__}.from_torch needs a torch.nn."
                            f"{cls.torch_class.__name__}, got {type(module).__name__}")
        ref = module.weight_ih
        config = {"input_size": module.input_size, "hidden_size": module.hidden_size,
                  "bias": module.bias, **cls._config_from_torch(module)}
        cell = cls(**_merge_options(config, options, module), device=ref.device, dtype=ref.dtype)
        cell.load_state_dict(module.state_dict(), strict=False)
        return cell.train(module.training)

    @classmethod
    def _config_from_torch(cls, module: nn.Module) -> dict[str, Any]:
        return {}

    def cell(self, x: Tensor, *state_and_weights: Tensor) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define cell(x, *state, *weights)")

    def _checked(self, input: Tensor, hx: Any) -> tuple[Tensor, State, bool]:
        batched, state = check_cell_call(input, hx, input_size=self.input_size,
                                         hidden_size=self.hidden_size,
                                         state_names=self.state_names, param=self.weight_ih)
        x = input if batched else input.unsqueeze(0)        # (N, H_in)
        return x, state or self._state_like(x, x.shape[0]), batched

    def step(self, input: Tensor, hx: Tensor | State | None = None) -> Any:
        """Everything one step computes (gates and new state), with a batch dimension."""
        x, state, _ = self._checked(input, hx)
        return self.cell(x, *state, *self.weights())

    def forward(self, input: Tensor, hx: Tensor | State | None = None) -> Tensor | State:
        """The new state, ``h'`` or ``(h', c')``, shaped like ``hx``."""
        x, state, batched = self._checked(input, hx)
        new = _state_of(self.cell(x, *state, *self.weights()), self.state_names)
        return self._pack(new if batched else tuple(s.squeeze(0) for s in new))


# --- parameter counts --------------------------------------------------------------------------

_BLOCKS = {"rnn": 1, "gru": 3, "lstm": 4}


def num_params(kind: str, input_size: int, hidden_size: int, num_layers: int = 1,
               bias: bool = True, bidirectional: bool = False) -> int:
    """Parameters of ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` (and of this package's layers).

    A cell with ``G`` gate blocks (1 RNN, 3 GRU, 4 LSTM) has, per layer and direction,
    ``G·(H·I + H·H + 2H)`` parameters (``G·(H·I + H·H)`` without bias), where ``I`` is the
    layer's input width: ``input_size`` for layer 0, ``D·H`` above. Nothing depends on the
    sequence length: every step shares the weights.
    """
    if kind not in _BLOCKS:
        raise ValueError(f"kind must be one of {sorted(_BLOCKS)}, got {kind!r}")
    check_positive_int(input_size, "input_size")
    check_positive_int(hidden_size, "hidden_size")
    check_positive_int(num_layers, "num_layers")
    G, H, D = _BLOCKS[kind], hidden_size, (2 if bidirectional else 1)
    total = 0
    for k in range(num_layers):
        I = input_size if k == 0 else D * H  # noqa: E741 - the layer's input width
        total += D * G * (H * I + H * H + (2 * H if bias else 0))
    return total


# --- comparing with a reference ----------------------------------------------------------------

def tolerance(dtype: torch.dtype) -> float:
    """The course's one rule for "equal to PyTorch": ``max |a - b| / (1 + |b|)`` at most this.

    ``1e-5`` in float32 (a different summation order, e.g. another thread count, moves float32
    gradients by about 1e-6) and ``1e-12`` in float64 (observed: below 1e-14).
    """
    return 1e-12 if dtype == torch.float64 else 1e-5


@dataclass(frozen=True)
class Comparison:
    """Largest errors of a module against a reference; truthy when all are within tolerance."""

    errors: dict[str, float]
    tolerance: float

    def __bool__(self) -> bool:
        return all(e <= self.tolerance for e in self.errors.values())

    def __str__(self) -> str:
        parts = ", ".join(f"{k} {v:.1e}" for k, v in self.errors.items())
        verdict = "equal" if self else "DIFFERENT"
        return f"{verdict} (tolerance {self.tolerance:.0e}): {parts}"

    __repr__ = __str__


def compare(mine: nn.Module, ref: nn.Module, input: Tensor, hx: Any = None,
            seed: int = 0) -> Comparison:
    """Run two recurrent modules with the same parameters and measure every difference.

    Both get ``input`` (and the initial state ``hx``: ``None``, a tensor or a tuple); the loss
    ``Σ w ⊙ (output, final states)``, with fixed random weights ``w``, is differentiated with
    respect to the input, the initial state and every parameter.

    Returns:
        A :class:`Comparison` with ``errors["output" | "state" | "grad_input" | "grad_params"]``,
        each ``max |mine - ref| / (1 + |ref|)`` (absolute below 1, relative above), and the
        :func:`tolerance` of ``input``'s dtype; ``bool(result)`` says whether they are equal.
    """
    names = [n for n, _ in ref.named_parameters()]
    if [n for n, _ in mine.named_parameters() if n in set(names)] != names:
        raise ValueError("the two modules do not have the same parameter names: "
                         f"{[n for n, _ in mine.named_parameters()]} vs {names}")
    mine_shapes = dict((n, p.shape) for n, p in mine.named_parameters())
    wrong = [n for n, p in ref.named_parameters() if mine_shapes[n] != p.shape]
    if wrong:
        raise ValueError(f"the two modules' parameters differ in shape: {wrong[0]} is "
                         f"{tuple(mine_shapes[wrong[0]])} in the first, "
                         f"{tuple(dict(ref.named_parameters())[wrong[0]].shape)} in the reference")
    states = () if hx is None else ((hx,) if isinstance(hx, Tensor) else tuple(hx))

    def run(module: nn.Module) -> dict[str, list[Tensor]]:
        x_in = input.detach().clone().requires_grad_(True)
        s_in = tuple(s.detach().clone().requires_grad_(True) for s in states)
        arg = None if hx is None else (s_in[0] if isinstance(hx, Tensor) else s_in)
        out, final = module(x_in, arg)
        finals = [final] if isinstance(final, Tensor) else list(final)
        gen = torch.Generator().manual_seed(seed)
        loss = sum((t * torch.randn(t.shape, generator=gen, dtype=t.dtype).to(t.device)).sum()
                   for t in [out, *finals])
        params = dict(module.named_parameters())
        grads = torch.autograd.grad(loss, [x_in, *s_in, *(params[n] for n in names)])
        n_in = 1 + len(s_in)
        return {"output": [out], "state": finals, "grad_input": list(grads[:n_in]),
                "grad_params": list(grads[n_in:])}

    got, want = run(mine), run(ref)
    errors = {key: max(float(((a - b).abs() / (1 + b.abs())).max().detach()) for a, b in
                       zip(got[key], want[key]))
              for key in got}
    return Comparison(errors, tolerance(input.dtype))


# --- an encoder with a read-out ----------------------------------------------------------------

_TORCH_LAYERS: dict[str, Callable[..., nn.Module]] = {"rnn": nn.RNN, "lstm": nn.LSTM,
                                                      "gru": nn.GRU}


def make_rnn(kind: str, input_size: int, hidden_size: int, **options: Any) -> nn.Module:
    """``torch.nn.RNN`` / ``LSTM`` / ``GRU`` (``kind`` = ``"rnn"``, ``"lstm"``, ``"gru"``),
    batch-first, with ``options`` passed on (``num_layers``, ``bidirectional``, ...)."""
    if kind not in _TORCH_LAYERS:
        raise ValueError(f"kind must be one of {sorted(_TORCH_LAYERS)} or an nn.Module, "
                         f"got {kind!r}")
    if options.pop("batch_first", True) is not True:
        raise ValueError("the layer is batch-first: it reads (batch, seq_len, features)")
    return _TORCH_LAYERS[kind](input_size, hidden_size, batch_first=True, **options)


class SequenceModel(nn.Module):
    """A recurrent encoder followed by a linear read-out: of the last step (pattern N:1) or
    of every step (pattern N:N, aligned).

    Args:
        rnn: ``"rnn"``, ``"lstm"``, ``"gru"`` (the torch module, see :func:`make_rnn`), or
            any batch-first recurrent module returning ``(output, state)``.
        input_size: features per step (used when ``rnn`` is a name).
        hidden_size: state size of each direction (used when ``rnn`` is a name).
        output_size: outputs of the read-out.
        every_step: read out every step (a tagger) instead of the last one (a regressor or
            classifier).
        **options: passed to :func:`make_rnn` (``num_layers``, ``bidirectional``, ``dropout``,
            ``nonlinearity``).

    Shape:
        input ``(N, L, input_size)`` → ``(N, output_size)``, or ``(N, L, output_size)`` with
        ``every_step``.
    """

    def __init__(self, rnn: str | nn.Module, input_size: int, hidden_size: int,
                 output_size: int = 1, every_step: bool = False, **options: Any) -> None:
        super().__init__()
        if isinstance(rnn, nn.Module):
            for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
                if getattr(rnn, name, value) != value:
                    raise ValueError(f"{name}={value} but the recurrent module has "
                                     f"{name}={getattr(rnn, name)}")
            self.rnn = rnn
        else:
            self.rnn = make_rnn(rnn, input_size, hidden_size, **options)
        if not getattr(self.rnn, "batch_first", True):
            raise ValueError("the recurrent module must be batch_first=True: the model reads "
                             "(batch, seq_len, features)")
        width = hidden_size * (2 if getattr(self.rnn, "bidirectional", False) else 1)
        self.head = nn.Linear(width, check_positive_int(output_size, "output_size"))
        self.every_step = bool(every_step)

    def forward(self, x: Tensor) -> Tensor:
        output, _ = self.rnn(x)                   # (N, L, D·H)
        return self.head(output if self.every_step else output[:, -1])
