"""Shared test harness: every recurrent layer of the package against its PyTorch counterpart,
and random layer configurations. (A plain module, not conftest.py: ``from conftest import``
would find tests/site/conftest.py when the site tests are collected too.)"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from rnncourse import recurrent
from rnncourse.deep import LayerNormLSTM, LayerNormLSTMCell
from rnncourse.forward import ScratchRNN
from rnncourse.gru import GRU, FusedGRU, GRUCell
from rnncourse.lstm import LSTM, FusedLSTM, LSTMCell


@dataclass(frozen=True)
class LayerSpec:
    """A package layer, the torch module it must equal, and the options that make it so."""

    cls: type[nn.Module]
    torch_cls: type[nn.Module]
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in self.options.items())
        return self.cls.__name__ + (f"[{extra}]" if extra else "")

    @property
    def own_options(self) -> dict[str, Any]:
        """The options that are the package's own (``from_torch`` reads the others, e.g.
        ``nonlinearity``, from the torch module, and refuses them a second time)."""
        return {k: v for k, v in self.options.items() if k not in TORCH_OPTIONS}

    def from_torch(self, module: nn.Module) -> nn.Module:
        """The package layer of this spec with ``module``'s configuration and weights."""
        return self.cls.from_torch(module, **self.own_options)

    @property
    def state_names(self) -> tuple[str, ...]:
        return self.cls.state_names


#: Options of a spec that belong to the torch module too (passed to it by :func:`torch_module`).
TORCH_OPTIONS = ("nonlinearity",)


#: Every layer that must equal a torch module exactly (LayerNormLSTM with normalisation off).
LAYERS = [LayerSpec(ScratchRNN, nn.RNN), LayerSpec(ScratchRNN, nn.RNN, {"nonlinearity": "relu"}),
          LayerSpec(LSTM, nn.LSTM), LayerSpec(FusedLSTM, nn.LSTM), LayerSpec(GRU, nn.GRU),
          LayerSpec(FusedGRU, nn.GRU), LayerSpec(LayerNormLSTM, nn.LSTM, {"layer_norm": False})]
CELLS = [LayerSpec(LSTMCell, nn.LSTMCell), LayerSpec(GRUCell, nn.GRUCell),
         LayerSpec(LayerNormLSTMCell, nn.LSTMCell, {"layer_norm": False})]


def torch_module(spec: LayerSpec, **config: Any) -> nn.Module:
    """The torch module of ``spec`` (the RNN's nonlinearity passed on)."""
    extra = {k: v for k, v in spec.options.items() if k in TORCH_OPTIONS}
    return spec.torch_cls(**config, **extra)


def random_config(seed: int) -> dict[str, Any]:
    """A random layer configuration (sizes, layers, bias, layout, directions)."""
    rng = random.Random(seed)
    return {"input_size": rng.randint(1, 5), "hidden_size": rng.randint(1, 6),
            "num_layers": rng.randint(1, 3), "bias": rng.random() < 0.7,
            "batch_first": rng.random() < 0.5, "bidirectional": rng.random() < 0.5}


def random_call(module: nn.Module, seed: int, dtype: torch.dtype, state_names: tuple[str, ...]
                ) -> tuple[torch.Tensor, Any]:
    """An input for ``module`` (batched or not) and an initial state (or ``None``)."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    L, N = rng.randint(1, 6), rng.randint(1, 4)
    batched = rng.random() < 0.8
    D = 2 if module.bidirectional else 1
    if not batched:
        x = torch.randn(L, module.input_size, generator=gen, dtype=dtype)
        state_shape: tuple[int, ...] = (D * module.num_layers, module.hidden_size)
    else:
        shape = (N, L) if module.batch_first else (L, N)
        x = torch.randn(*shape, module.input_size, generator=gen, dtype=dtype)
        state_shape = (D * module.num_layers, N, module.hidden_size)
    if rng.random() < 0.3:
        return x, None
    states = tuple(torch.randn(state_shape, generator=gen, dtype=dtype) for _ in state_names)
    return x, states[0] if len(states) == 1 else states


def assert_matches(mine: nn.Module, ref: nn.Module, x: torch.Tensor, hx: Any = None) -> None:
    """Outputs, states and every gradient equal, with the package's one tolerance rule."""
    result = recurrent.compare(mine, ref, x, hx)
    assert result, f"{type(mine).__name__} vs {type(ref).__name__}: {result}"


class AsLayer(nn.Module):
    """A cell seen as a one-step layer, ``(x, hx) -> (h', state')``, for :func:`recurrent.compare`
    (parameter names get the prefix ``cell.`` on both sides)."""

    def __init__(self, cell: nn.Module) -> None:
        super().__init__()
        self.cell = cell

    def forward(self, x: torch.Tensor, hx: Any = None) -> tuple[torch.Tensor, Any]:
        state = self.cell(x, hx)
        return (state if isinstance(state, torch.Tensor) else state[0]), state


def assert_cell_matches(mine: nn.Module, ref: nn.Module, x: torch.Tensor, hx: Any = None) -> None:
    """New states and every gradient (input, state, parameters) of two cells equal."""
    result = recurrent.compare(AsLayer(mine), AsLayer(ref), x, hx)
    assert result, f"{type(mine).__name__} vs {type(ref).__name__}: {result}"
