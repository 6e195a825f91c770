"""Shared test harness: every recurrent layer of the package against its PyTorch counterpart,
random layer configurations, and the learner answers that self-checks must survive."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
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


#: Every layer that must equal a torch module exactly (LayerNormLSTM with normalisation off).
LAYERS = [LayerSpec(ScratchRNN, nn.RNN), LayerSpec(ScratchRNN, nn.RNN, {"nonlinearity": "relu"}),
          LayerSpec(LSTM, nn.LSTM), LayerSpec(FusedLSTM, nn.LSTM), LayerSpec(GRU, nn.GRU),
          LayerSpec(FusedGRU, nn.GRU), LayerSpec(LayerNormLSTM, nn.LSTM, {"layer_norm": False})]
CELLS = [LayerSpec(LSTMCell, nn.LSTMCell), LayerSpec(GRUCell, nn.GRUCell),
         LayerSpec(LayerNormLSTMCell, nn.LSTMCell, {"layer_norm": False})]


def torch_module(spec: LayerSpec, **config: Any) -> nn.Module:
    """The torch module of ``spec`` (the RNN's nonlinearity passed on)."""
    extra = {"nonlinearity": spec.options["nonlinearity"]} if "nonlinearity" in spec.options \
        else {}
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


@pytest.fixture
def stub() -> Callable[..., Any]:
    """A learner's answer that is not written yet."""

    def not_yet(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    return not_yet


@pytest.fixture
def crashing() -> Callable[..., Any]:
    """A learner's answer that crashes inside their own code."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        return 1 / 0

    return broken
