"""The generic tests of every recurrent layer and cell of the package, once for each.

Every layer in ``conftest.LAYERS`` and every cell in ``conftest.CELLS`` must be its torch
counterpart: same outputs, states and gradients, same parameter names, shapes, initialisation
and repr, the same errors for bad inputs (with messages naming the expected shape). Also
:func:`rnncourse.recurrent.num_params`, :func:`~rnncourse.recurrent.compare` and
:class:`~rnncourse.recurrent.SequenceModel`. The chapters' own tests hold what is specific to
one cell (gate order, the Cho variant, layer normalisation).
"""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from harness import (
    CELLS,
    LAYERS,
    LayerSpec,
    assert_cell_matches,
    assert_matches,
    random_call,
    random_config,
    torch_module,
)
from torch import nn

from rnncourse import recurrent
from rnncourse.deep import LayerNormLSTM, LayerNormLSTMCell
from rnncourse.forward import ScratchRNN
from rnncourse.gru import GRU, FusedGRU, GRUCell
from rnncourse.lstm import LSTM, FusedLSTM, LSTMCell
from rnncourse.validation import ShapeError

DTYPES = [pytest.param(torch.float32, id="float32"), pytest.param(torch.float64, id="float64")]
SEEDS = range(12)


def by_id(specs: list[LayerSpec]) -> dict[str, Any]:
    return {"argvalues": specs, "ids": [s.id for s in specs]}


def state_of(module: nn.Module, *shape: int, dtype: torch.dtype = torch.float32,
             fill: Callable[..., torch.Tensor] = torch.zeros) -> Any:
    """An initial state for ``module``: one tensor of ``shape``, or a tuple ``(h, c)``."""
    tensors = tuple(fill(shape, dtype=dtype) for _ in module.state_names)
    return tensors[0] if len(tensors) == 1 else tensors


def as_tuple(state: Any) -> tuple[torch.Tensor, ...]:
    return (state,) if isinstance(state, torch.Tensor) else tuple(state)


# ============================================================================ equal to torch


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("spec", **by_id(LAYERS))
def test_layer_equals_torch_over_random_configurations(spec: LayerSpec, seed: int,
                                                       dtype: torch.dtype) -> None:
    config = random_config(seed)
    if config["num_layers"] > 1:
        config["dropout"] = 0.3  # between layers in training only: eval mode must ignore it
    torch.manual_seed(seed)
    ref = torch_module(spec, **config, dtype=dtype).eval()
    mine = spec.from_torch(ref).eval()
    x, hx = random_call(ref, seed, dtype, spec.state_names)
    assert_matches(mine, ref, x, hx)


@pytest.mark.parametrize("with_state", [False, True], ids=["hx-omitted", "hx-given"])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("spec", **by_id(LAYERS))
def test_layer_equals_torch_batched_unbatched_with_and_without_state(
        spec: LayerSpec, batched: bool, with_state: bool) -> None:
    """The random configurations above, forced through each layout and state case."""
    torch.manual_seed(0)
    ref = torch_module(spec, input_size=2, hidden_size=3, num_layers=2, batch_first=True,
                       bidirectional=True, dtype=torch.float64)
    mine = spec.from_torch(ref)
    x = torch.randn((4, 5, 2) if batched else (5, 2), dtype=torch.float64)
    hx = (state_of(mine, *((4, 4, 3) if batched else (4, 3)),
                   dtype=torch.float64, fill=torch.randn) if with_state else None)
    assert_matches(mine, ref, x, hx)


@pytest.mark.parametrize("with_state", [False, True], ids=["hx-omitted", "hx-given"])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spec", **by_id(CELLS))
def test_cell_equals_torch_cell(spec: LayerSpec, dtype: torch.dtype, bias: bool, batched: bool,
                                with_state: bool) -> None:
    torch.manual_seed(1)
    ref = torch_module(spec, input_size=4, hidden_size=6, bias=bias, dtype=dtype)
    mine = spec.from_torch(ref)
    x = torch.randn((3, 4) if batched else (4,), dtype=dtype)
    hx = (state_of(mine, *((3, 6) if batched else (6,)), dtype=dtype, fill=torch.randn)
          if with_state else None)
    assert_cell_matches(mine, ref, x, hx)
    shapes = [s.shape for s in as_tuple(mine(x, hx))]
    assert shapes == [s.shape for s in as_tuple(ref(x, hx))]


# ============================================================================ the torch module


@pytest.mark.parametrize("spec", **by_id(LAYERS + CELLS))
def test_default_init_like_torch_and_reset_parameters_redraws(spec: LayerSpec) -> None:
    torch.manual_seed(2)
    layer_options = {"num_layers": 2, "bidirectional": True} if spec in LAYERS else {}
    module = spec.cls(3, 16, **layer_options, **spec.options)
    bound = 1 / math.sqrt(16)

    def check_uniform(params: list[torch.Tensor]) -> None:
        for p in params:
            assert p.abs().max() <= bound
            assert p.unique().numel() > 1, "all entries equal"
        biggest = max(params, key=lambda p: p.numel())  # 16·16·G entries span the interval
        assert biggest.max() > 0.9 * bound and biggest.min() < -0.9 * bound

    before = [p.detach().clone() for p in module.parameters()]
    check_uniform(before)
    module.reset_parameters()
    after = [p.detach().clone() for p in module.parameters()]
    check_uniform(after)
    assert all(not torch.equal(a, b) for a, b in zip(before, after))


LAYER_CONFIGS = [
    pytest.param({}, id="defaults"),
    pytest.param({"num_layers": 3, "bias": False}, id="3-layers-no-bias"),
    pytest.param({"num_layers": 2, "bidirectional": True, "batch_first": True, "dropout": 0.5},
                 id="2-layers-bidirectional"),
]


@pytest.mark.parametrize("config", LAYER_CONFIGS)
@pytest.mark.parametrize("spec", **by_id(LAYERS))
def test_layer_parameters_and_repr_like_torch(spec: LayerSpec, config: dict) -> None:
    ref = torch_module(spec, input_size=3, hidden_size=5, **config)
    mine = spec.cls(3, 5, **config, **spec.options)
    assert [(n, p.shape) for n, p in mine.named_parameters()] == \
        [(n, p.shape) for n, p in ref.named_parameters()]
    assert repr(spec.from_torch(ref)) == repr(mine)
    assert_repr_like_torch(spec, mine, ref)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("spec", **by_id(CELLS))
def test_cell_parameters_and_repr_like_torch(spec: LayerSpec, bias: bool) -> None:
    ref = torch_module(spec, input_size=3, hidden_size=5, bias=bias)
    mine = spec.cls(3, 5, bias=bias, **spec.options)
    assert [(n, p.shape) for n, p in mine.named_parameters()] == \
        [(n, p.shape) for n, p in ref.named_parameters()]
    assert (mine.bias_ih is None) == (ref.bias_ih is None)
    assert_repr_like_torch(spec, mine, ref)


def assert_repr_like_torch(spec: LayerSpec, mine: nn.Module, ref: nn.Module) -> None:
    """torch's repr with the class name swapped, plus the spec's options that are not
    defaults (``nonlinearity='relu'``, which ``nn.RNN``'s repr omits; ``layer_norm=False``)."""
    text = repr(mine)
    for name, value in spec.options.items():
        option = f", {name}={value!r}"
        assert text.count(option) == 1, f"{option} missing from {text}"
        text = text.replace(option, "")
    assert text == spec.cls.__name__ + repr(ref)[len(type(ref).__name__):]


@pytest.mark.parametrize("cls", [GRU, FusedGRU, GRUCell])
def test_gru_repr_shows_variant_only_when_not_default(cls: type[nn.Module]) -> None:
    name = cls.__name__
    assert repr(cls(3, 4)) == repr(cls(3, 4, variant="pytorch")) == f"{name}(3, 4)"
    assert repr(cls(3, 4, variant="cho")) == f"{name}(3, 4, variant='cho')"
    assert repr(cls(3, 4, bias=False, variant="cho")) == f"{name}(3, 4, bias=False, variant='cho')"


@pytest.mark.parametrize("cls", [LayerNormLSTM, LayerNormLSTMCell])
def test_layer_norm_repr_shows_layer_norm_only_when_off(cls: type[nn.Module]) -> None:
    name = cls.__name__
    assert repr(cls(3, 4)) == repr(cls(3, 4, layer_norm=True)) == f"{name}(3, 4)"
    assert repr(cls(3, 4, layer_norm=False)) == f"{name}(3, 4, layer_norm=False)"


@pytest.mark.parametrize("spec", **by_id(LAYERS + CELLS))
def test_forward_accepts_hx_as_keyword(spec: LayerSpec) -> None:
    torch.manual_seed(3)
    is_layer = spec in LAYERS
    ref = torch_module(spec, input_size=3, hidden_size=4)
    mine = spec.from_torch(ref)
    x = torch.randn(5, 2, 3) if is_layer else torch.randn(2, 3)
    hx = state_of(mine, *((1, 2, 4) if is_layer else (2, 4)), fill=torch.randn)
    def flat(result: Any) -> list[torch.Tensor]:  # output, h_n (, c_n) or h' (, c')
        return [t for part in as_tuple(result) for t in as_tuple(part)]

    keyword, positional, want = flat(mine(x, hx=hx)), flat(mine(x, hx)), flat(ref(x, hx=hx))
    assert len(keyword) == len(want)
    for a, b, c in zip(keyword, want, positional):
        torch.testing.assert_close(a, b)
        assert torch.equal(a, c)


# ============================================================================ dropout


@pytest.mark.parametrize("spec", **by_id(LAYERS))
def test_dropout_with_one_layer_warns_like_torch(spec: LayerSpec) -> None:
    with pytest.warns(UserWarning, match="num_layers") as ours:
        spec.cls(3, 4, dropout=0.5, **spec.options)
    with pytest.warns(UserWarning, match="num_layers") as theirs:
        ref = torch_module(spec, input_size=3, hidden_size=4, dropout=0.5)
    assert str(ours[0].message) == str(theirs[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec.from_torch(ref)  # torch already warned: from_torch does not warn again
        spec.cls(3, 4, num_layers=2, dropout=0.5, **spec.options)  # dropout between layers


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("spec", **by_id(LAYERS))
def test_dropout_between_layers_only_in_training(spec: LayerSpec, bidirectional: bool) -> None:
    torch.manual_seed(4)
    layer = spec.cls(3, 8, num_layers=2, dropout=0.5, bidirectional=bidirectional,
                     **spec.options)
    x = torch.randn(5, 2, 3)
    D = 2 if bidirectional else 1
    layer.train()
    (out1, state1), (out2, state2) = layer(x), layer(x)
    assert not torch.equal(out1, out2)
    for s1, s2 in zip(as_tuple(state1), as_tuple(state2)):
        assert torch.equal(s1[:D], s2[:D])       # layer 0 reads the input: no dropout before it
        assert not torch.equal(s1[D:], s2[D:])   # layer 1 reads layer 0's dropped-out output
    H, h_n = 8, as_tuple(state1)[0]
    assert torch.equal(out1[-1, :, :H], h_n[-D])      # no dropout after the last layer
    if bidirectional:
        assert torch.equal(out1[0, :, H:], h_n[-1])
    layer.eval()
    (out1, state1), (out2, state2) = layer(x), layer(x)
    assert torch.equal(out1, out2)
    assert all(torch.equal(a, b) for a, b in zip(as_tuple(state1), as_tuple(state2)))


# ============================================================================ gates


FIELDS = {nn.RNN: {"h"}, nn.LSTM: {"i", "f", "g", "o", "c", "h"}, nn.GRU: {"r", "z", "n", "h"}}
RANGES = {"i": (0, 1), "f": (0, 1), "o": (0, 1), "r": (0, 1), "z": (0, 1), "g": (-1, 1),
          "n": (-1, 1)}


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("spec", **by_id(LAYERS))
def test_gates_reproduce_the_forward_pass_and_lie_in_range(spec: LayerSpec,
                                                           batched: bool) -> None:
    torch.manual_seed(5)
    K, D, N, L, H = 2, 2, 3, 6, 4
    layer = spec.cls(2, H, num_layers=K, bidirectional=True, batch_first=True, **spec.options)
    x = torch.randn((N, L, 2) if batched else (L, 2))
    hx = state_of(layer, *((K * D, N, H) if batched else (K * D, H)), fill=torch.randn)
    gates = layer.gates(x, hx)
    output, final = layer(x, hx)
    assert set(gates) == FIELDS[spec.torch_cls]
    n = N if batched else 1
    assert all(v.shape == (K * D, n, L, H) for v in gates.values())
    out = output if batched else output.unsqueeze(0)                 # (N, L, D·H)
    torch.testing.assert_close(gates["h"][-2], out[..., :H])         # last layer, forward
    torch.testing.assert_close(gates["h"][-1], out[..., H:])         # last layer, backward
    for name, state in zip(layer.state_names, as_tuple(final)):
        s = state if batched else state.unsqueeze(1)                 # (K·D, N, H)
        torch.testing.assert_close(gates[name][0::2, :, -1], s[0::2])  # forward ends at L-1
        torch.testing.assert_close(gates[name][1::2, :, 0], s[1::2])   # backward ends at 0
    for name, (low, high) in RANGES.items():
        if name in gates:
            assert low <= gates[name].min() and gates[name].max() <= high, name
    if spec.options.get("nonlinearity") == "relu":
        assert gates["h"].min() >= 0


FUSED = [pytest.param(LSTM, FusedLSTM, {}, id="LSTM"),
         pytest.param(GRU, FusedGRU, {}, id="GRU"),
         pytest.param(GRU, FusedGRU, {"variant": "cho"}, id="GRU-cho")]


@pytest.mark.parametrize("teaching,fused,options", FUSED)
def test_fused_layer_equals_teaching_layer_gates_outputs_and_gradients(
        teaching: type[nn.Module], fused: type[nn.Module], options: dict) -> None:
    """Also for the Cho variant, which has no torch counterpart."""
    torch.manual_seed(6)
    slow = teaching(3, 4, num_layers=2, bidirectional=True, batch_first=True, **options,
                    dtype=torch.float64)
    fast = fused(3, 4, num_layers=2, bidirectional=True, batch_first=True, **options,
                 dtype=torch.float64)
    fast.load_state_dict(slow.state_dict())
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    hx = state_of(slow, 4, 2, 4, dtype=torch.float64, fill=torch.randn)
    slow_gates, fast_gates = slow.gates(x, hx), fast.gates(x, hx)
    assert slow_gates.keys() == fast_gates.keys()
    assert all(torch.equal(slow_gates[k], fast_gates[k]) for k in slow_gates)
    assert_matches(fast, slow, x, hx)
    assert_matches(fast, slow, x[0])


# ============================================================================ from_torch


WRONG_TORCH = {nn.RNN: nn.GRU, nn.GRU: nn.LSTM, nn.LSTM: nn.GRU, nn.GRUCell: nn.LSTMCell,
               nn.LSTMCell: nn.GRUCell}


@pytest.mark.parametrize("spec", **by_id(LAYERS + CELLS))
def test_from_torch_refuses_the_wrong_torch_class(spec: LayerSpec) -> None:
    wrong = WRONG_TORCH[spec.torch_cls](3, 4)
    expected = spec.torch_cls.__name__
    with pytest.raises(TypeError, match=rf"{spec.cls.__name__}\.from_torch needs a "
                                        rf"torch\.nn\.{expected}, got {type(wrong).__name__}"):
        spec.from_torch(wrong)


@pytest.mark.parametrize("spec", **by_id([s for s in LAYERS if s.torch_cls is nn.LSTM]))
def test_from_torch_refuses_projections(spec: LayerSpec) -> None:
    with pytest.raises(ValueError, match="proj_size"):
        spec.from_torch(nn.LSTM(3, 4, proj_size=2))


@pytest.mark.parametrize("device", ["cpu", "meta"])
@pytest.mark.parametrize("spec", **by_id(LAYERS + CELLS))
def test_from_torch_keeps_device_and_dtype(spec: LayerSpec, device: str) -> None:
    config = {"num_layers": 2, "bidirectional": True} if spec in LAYERS else {}
    ref = torch_module(spec, input_size=3, hidden_size=4, **config, device=device,
                       dtype=torch.float64)
    mine = spec.from_torch(ref)
    assert isinstance(mine, spec.cls)
    assert {(p.device.type, p.dtype) for p in mine.parameters()} == {(device, torch.float64)}
    if device == "cpu":
        assert all(torch.equal(p, ref.state_dict()[n]) for n, p in mine.named_parameters()
                   if n in ref.state_dict())


# ============================================================================ bad inputs


def _case(id: str, call: Callable[[nn.Module], Any], error: type[Exception], match: str,
          states: tuple[int, ...] = (1, 2)) -> dict[str, Any]:
    return {"id": id, "call": call, "error": error, "match": match, "states": states}


X = torch.zeros(5, 7, 3)  # the layer below is batch_first: batch 5, seq_len 7, input_size 3
EXPECTED_STATE = r"\(num_layers\*num_directions=2, batch=5, hidden_size=4\)"

LAYER_CASES = [
    _case("numpy-input", lambda m: m(np.zeros((5, 7, 3), np.float32)), TypeError,
          r"input must be a torch\.Tensor of shape \(batch, seq_len, input_size=3\), got "
          r"ndarray; convert a NumPy array with torch\.from_numpy"),
    _case("wrong-feature-size", lambda m: m(torch.zeros(5, 7, 2)), ShapeError,
          r"input must have shape \(batch, seq_len, input_size=3\), got \(5, 7, 2\): "
          r"input_size is 2, expected 3"),
    _case("1d-input", lambda m: m(torch.zeros(7)), ShapeError,
          r"3 dimensions \(batch, seq_len, input_size=3\), or 2 \(seq_len, input_size=3\) for "
          r"one unbatched sequence, got shape \(7,\)"),
    _case("4d-input", lambda m: m(torch.zeros(1, 5, 7, 3)), ShapeError,
          r"3 dimensions \(batch, seq_len, input_size=3\).*got shape \(1, 5, 7, 3\)"),
    _case("empty-sequence", lambda m: m(torch.zeros(5, 0, 3)), ShapeError,
          r"empty dimension seq_len \(shape \(5, 0, 3\)\)"),
    _case("empty-batch", lambda m: m(torch.zeros(0, 7, 3)), ShapeError,
          r"empty dimension batch \(shape \(0, 7, 3\)\)"),
    _case("integer-input", lambda m: m(torch.zeros(5, 7, 3, dtype=torch.long)), TypeError,
          r"input must be floating point \(float32 or float64\), got dtype torch\.int64"),
    _case("float64-input-float32-layer", lambda m: m(X.double()), TypeError,
          r"input has dtype torch\.float64 but the parameters are torch\.float32"),
    _case("hx-wrong-batch", lambda m: m(X, state_of(m, 2, 6, 4)), ShapeError,
          rf"h_0 must have shape {EXPECTED_STATE}, got \(2, 6, 4\): batch is 6, expected 5"),
    _case("hx-wrong-num-layers-times-directions", lambda m: m(X, state_of(m, 1, 5, 4)),
          ShapeError, rf"h_0 must have shape {EXPECTED_STATE}, got \(1, 5, 4\): "
                      r"num_layers\*num_directions is 1, expected 2"),
    _case("hx-batch-first", lambda m: m(X, state_of(m, 5, 2, 4)), ShapeError,
          rf"h_0 must have shape {EXPECTED_STATE}, got \(5, 2, 4\).*the state is never "
          r"batch-first"),
    _case("hx-wrong-hidden-size", lambda m: m(X, state_of(m, 2, 5, 3)), ShapeError,
          rf"h_0 must have shape {EXPECTED_STATE}, got \(2, 5, 3\): hidden_size is 3, "
          r"expected 4"),
    _case("hx-float64", lambda m: m(X, state_of(m, 2, 5, 4, dtype=torch.float64)), TypeError,
          r"h_0 has dtype torch\.float64 but the parameters are torch\.float32"),
    _case("unbatched-input-batched-hx", lambda m: m(torch.zeros(7, 3), state_of(m, 2, 1, 4)),
          ShapeError, r"h_0 \(unbatched input\) must have 2 dimensions "
                      r"\(num_layers\*num_directions=2, hidden_size=4\), got shape \(2, 1, 4\)"),
    _case("unbatched-hx-wrong-num-states", lambda m: m(torch.zeros(7, 3), state_of(m, 1, 4)),
          ShapeError, r"h_0 \(unbatched input\) must have shape .*"
                      r"num_layers\*num_directions is 1, expected 2"),
    _case("hx-not-a-tensor", lambda m: m(X, [[0.0]]), TypeError,
          rf"h_0 must be a torch\.Tensor of shape {EXPECTED_STATE}, got list", states=(1,)),
    _case("lstm-hx-not-a-tuple", lambda m: m(X, torch.zeros(2, 5, 4)), TypeError,
          r"the state must be a tuple \(h_0, c_0\) of 2 tensors, got Tensor", states=(2,)),
    _case("lstm-hx-tuple-of-3", lambda m: m(X, (torch.zeros(2, 5, 4),) * 3), TypeError,
          r"the state must be a tuple \(h_0, c_0\) of 2 tensors, got a tuple of length 3",
          states=(2,)),
    _case("lstm-c0-wrong-batch", lambda m: m(X, (torch.zeros(2, 5, 4), torch.zeros(2, 6, 4))),
          ShapeError, rf"c_0 must have shape {EXPECTED_STATE}, got \(2, 6, 4\): batch is 6",
          states=(2,)),
    _case("lstm-c0-not-a-tensor", lambda m: m(X, (torch.zeros(2, 5, 4), "c")), TypeError,
          rf"c_0 must be a torch\.Tensor of shape {EXPECTED_STATE}, got str", states=(2,)),
]


def _cases(specs: list[LayerSpec], cases: list[dict[str, Any]]) -> list[Any]:
    return [pytest.param(spec, case, id=f"{spec.id}-{case['id']}") for spec in specs
            for case in cases if len(spec.state_names) in case["states"]]


@pytest.mark.parametrize("spec,case", _cases(LAYERS, LAYER_CASES))
def test_layer_bad_inputs(spec: LayerSpec, case: dict[str, Any]) -> None:
    layer = spec.cls(3, 4, num_layers=2, batch_first=True, **spec.options)
    with pytest.raises(case["error"], match=case["match"]):
        case["call"](layer)


XC = torch.zeros(5, 3)  # batch 5, input_size 3
CELL_STATE = r"\(batch=5, hidden_size=4\)"

CELL_CASES = [
    _case("numpy-input", lambda m: m(np.zeros((5, 3), np.float32)), TypeError,
          r"input must be a torch\.Tensor of shape \(batch, input_size=3\), got ndarray; "
          r"convert a NumPy array with torch\.from_numpy"),
    _case("wrong-feature-size", lambda m: m(torch.zeros(5, 2)), ShapeError,
          r"input must have shape \(batch, input_size=3\), got \(5, 2\): input_size is 2, "
          r"expected 3"),
    _case("3d-input", lambda m: m(torch.zeros(1, 5, 3)), ShapeError,
          r"input must have 2 dimensions \(batch, input_size=3\), or 1 for one unbatched step, "
          r"got shape \(1, 5, 3\)"),
    _case("0d-input", lambda m: m(torch.tensor(1.0)), ShapeError,
          r"input must have 2 dimensions \(batch, input_size=3\).*got shape \(\)"),
    _case("empty-batch", lambda m: m(torch.zeros(0, 3)), ShapeError, r"empty dimension batch"),
    _case("integer-input", lambda m: m(torch.zeros(5, 3, dtype=torch.int32)), TypeError,
          r"input must be floating point \(float32 or float64\), got dtype torch\.int32"),
    _case("float64-input-float32-cell", lambda m: m(XC.double()), TypeError,
          r"input has dtype torch\.float64 but the parameters are torch\.float32"),
    _case("hx-wrong-batch", lambda m: m(XC, state_of(m, 6, 4)), ShapeError,
          rf"h must have shape {CELL_STATE}, got \(6, 4\): batch is 6, expected 5"),
    _case("hx-wrong-hidden-size", lambda m: m(XC, state_of(m, 5, 3)), ShapeError,
          rf"h must have shape {CELL_STATE}, got \(5, 3\): hidden_size is 3, expected 4"),
    _case("hx-shaped-like-a-layer-state", lambda m: m(XC, state_of(m, 1, 5, 4)), ShapeError,
          rf"h must have 2 dimensions {CELL_STATE}, got shape \(1, 5, 4\)"),
    _case("unbatched-input-batched-hx", lambda m: m(torch.zeros(3), state_of(m, 1, 4)),
          ShapeError, r"h must have 1 dimensions \(hidden_size=4\), got shape \(1, 4\)"),
    _case("hx-float64", lambda m: m(XC, state_of(m, 5, 4, dtype=torch.float64)), TypeError,
          r"h has dtype torch\.float64 but the parameters are torch\.float32"),
    _case("hx-not-a-tensor", lambda m: m(XC, [[0.0]]), TypeError,
          rf"h must be a torch\.Tensor of shape {CELL_STATE}, got list", states=(1,)),
    _case("lstm-hx-not-a-tuple", lambda m: m(XC, torch.zeros(5, 4)), TypeError,
          r"the state must be a tuple \(h, c\) of 2 tensors, got Tensor", states=(2,)),
    _case("lstm-hx-tuple-of-3", lambda m: m(XC, (torch.zeros(5, 4),) * 3), TypeError,
          r"the state must be a tuple \(h, c\) of 2 tensors", states=(2,)),
    _case("lstm-c-wrong-batch", lambda m: m(XC, (torch.zeros(5, 4), torch.zeros(6, 4))),
          ShapeError, rf"c must have shape {CELL_STATE}, got \(6, 4\): batch is 6",
          states=(2,)),
]


class StepOf:
    """``cell.step``, called like the cell: it checks its inputs the same way."""

    def __init__(self, cell: nn.Module) -> None:
        self.cell, self.state_names = cell, cell.state_names

    def __call__(self, *args: Any) -> Any:
        return self.cell.step(*args)


@pytest.mark.parametrize("method", ["forward", "step"])
@pytest.mark.parametrize("spec,case", _cases(CELLS, CELL_CASES))
def test_cell_bad_inputs(spec: LayerSpec, case: dict[str, Any], method: str) -> None:
    cell = spec.cls(3, 4, **spec.options)
    with pytest.raises(case["error"], match=case["match"]):
        case["call"](cell if method == "forward" else StepOf(cell))


LAYER_CLASSES = [ScratchRNN, LSTM, FusedLSTM, GRU, FusedGRU, LayerNormLSTM]
CELL_CLASSES = [LSTMCell, GRUCell, LayerNormLSTMCell]
COMMON_BAD_ARGUMENTS = [
    ("hidden-size-0", (3, 0), {}, r"hidden_size must be a positive integer, got 0"),
    ("hidden-size-float", (3, 2.5), {}, r"hidden_size must be a positive integer, got 2\.5"),
    ("input-size-bool", (True, 4), {}, r"input_size must be a positive integer, got True"),
]
LAYER_BAD_ARGUMENTS = [
    ("num-layers-0", (3, 4), {"num_layers": 0}, r"num_layers must be a positive integer, got 0"),
    ("dropout-1.5", (3, 4), {"dropout": 1.5}, r"dropout must be a number in \[0, 1\), got 1\.5"),
    ("dropout-negative", (3, 4), {"dropout": -0.1},
     r"dropout must be a number in \[0, 1\), got -0\.1"),
]
SPECIFIC_BAD_ARGUMENTS = [
    (cls, "bad-nonlinearity", (3, 4), {"nonlinearity": "sigmoid"},
     r"nonlinearity must be 'tanh' or 'relu', got 'sigmoid'") for cls in [ScratchRNN]
] + [
    (cls, "bad-variant", (3, 4), {"variant": "keras"},
     r"variant must be 'pytorch' .* or 'cho' .*got 'keras'") for cls in [GRU, FusedGRU, GRUCell]
]
BAD_ARGUMENTS = [
    pytest.param(cls, args, kwargs, match, id=f"{cls.__name__}-{name}")
    for cls in LAYER_CLASSES + CELL_CLASSES
    for name, args, kwargs, match in COMMON_BAD_ARGUMENTS
    + (LAYER_BAD_ARGUMENTS if cls in LAYER_CLASSES else [])
] + [pytest.param(cls, args, kwargs, match, id=f"{cls.__name__}-{name}")
     for cls, name, args, kwargs, match in SPECIFIC_BAD_ARGUMENTS]


@pytest.mark.parametrize("cls,args,kwargs,match", BAD_ARGUMENTS)
def test_constructor_refuses_bad_arguments(cls: type[nn.Module], args: tuple, kwargs: dict,
                                           match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cls(*args, **kwargs)


# ============================================================================ num_params


KINDS = [("rnn", nn.RNN), ("gru", nn.GRU), ("lstm", nn.LSTM)]


@pytest.mark.parametrize("seed", range(12))
def test_num_params_equals_torch_modules(seed: int) -> None:
    rng = random.Random(seed)
    input_size, hidden_size = rng.randint(1, 40), rng.randint(1, 40)
    num_layers, bias, bidirectional = rng.randint(1, 4), rng.random() < 0.7, rng.random() < 0.5
    for kind, cls in KINDS:
        module = cls(input_size, hidden_size, num_layers, bias=bias, bidirectional=bidirectional,
                     device="meta")
        want = sum(p.numel() for p in module.parameters())
        assert recurrent.num_params(kind, input_size, hidden_size, num_layers, bias,
                                    bidirectional) == want, kind


@pytest.mark.parametrize("kind,cls", [("rnn", ScratchRNN), ("gru", GRU), ("lstm", LSTM)])
def test_num_params_equals_package_layers(kind: str, cls: type[nn.Module]) -> None:
    layer = cls(7, 11, num_layers=2, bidirectional=True, bias=False, device="meta")
    assert recurrent.num_params(kind, 7, 11, 2, bias=False, bidirectional=True) == \
        sum(p.numel() for p in layer.parameters())
    blocks = {"rnn": 1, "gru": 3, "lstm": 4}[kind]
    assert recurrent.num_params(kind, 7, 11) == blocks * (11 * 7 + 11 * 11 + 2 * 11)


@pytest.mark.parametrize("args,match", [
    pytest.param(("transformer", 7, 11), r"kind must be one of \['gru', 'lstm', 'rnn'\], got "
                                         r"'transformer'", id="unknown-kind"),
    pytest.param(("LSTM", 7, 11), r"kind must be one of", id="capitalised-kind"),
    pytest.param(("gru", 0, 11), r"input_size must be a positive integer", id="input-size-0"),
    pytest.param(("gru", 7, 11, 0), r"num_layers must be a positive integer", id="num-layers-0"),
])
def test_num_params_refuses_bad_arguments(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        recurrent.num_params(*args)


# ============================================================================ compare


@pytest.mark.parametrize("dtype", DTYPES)
def test_compare_equal_modules_and_a_perturbed_weight(dtype: torch.dtype) -> None:
    torch.manual_seed(7)
    ref = nn.LSTM(3, 4, num_layers=2, dtype=dtype)
    mine = LSTM.from_torch(ref)
    x = torch.randn(6, 2, 3, dtype=dtype)
    same = recurrent.compare(mine, ref, x)
    assert same and str(same).startswith("equal")
    assert set(same.errors) == {"output", "state", "grad_input", "grad_params"}
    assert same.tolerance == recurrent.tolerance(dtype)
    assert recurrent.compare(ref, ref, x).errors == dict.fromkeys(same.errors, 0.0)
    with torch.no_grad():
        mine.weight_hh_l1[0, 0] += 1e-3
    hx = state_of(mine, 2, 2, 4, dtype=dtype, fill=torch.randn)
    different = recurrent.compare(mine, ref, x, hx)
    assert not different and "DIFFERENT" in str(different)
    assert different.errors["output"] > different.tolerance


def test_compare_refuses_modules_with_different_parameter_names() -> None:
    x = torch.randn(5, 1, 3)
    with pytest.raises(ValueError, match="do not have the same parameter names"):
        recurrent.compare(LSTM(3, 4), nn.LSTM(3, 4, num_layers=2), x)
    with pytest.raises(ValueError, match="do not have the same parameter names"):
        recurrent.compare(GRU(3, 4, bias=False), nn.GRU(3, 4), x)


def test_tolerance_by_dtype_and_comparison_verdict() -> None:
    loose, tight = recurrent.tolerance(torch.float32), recurrent.tolerance(torch.float64)
    assert tight < loose <= 1e-5 and tight <= 1e-10
    assert recurrent.Comparison({"output": loose}, loose)
    failing = recurrent.Comparison({"output": 0.0, "state": 2 * loose}, loose)
    assert not failing and "DIFFERENT" in str(failing) and "state 2.0e-05" in str(failing)


# ============================================================================ SequenceModel


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("every_step", [False, True], ids=["last-step", "every-step"])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_sequence_model_shapes(kind: str, every_step: bool, bidirectional: bool) -> None:
    model = recurrent.SequenceModel(kind, 4, 6, 3, every_step=every_step, num_layers=2,
                                    bidirectional=bidirectional)
    assert model.head.in_features == (12 if bidirectional else 6)
    assert model(torch.randn(2, 5, 4)).shape == ((2, 5, 3) if every_step else (2, 3))


def test_sequence_model_reads_out_the_last_step_or_every_step() -> None:
    torch.manual_seed(8)
    tagger = recurrent.SequenceModel("gru", 4, 6, 3, every_step=True)
    last = recurrent.SequenceModel(tagger.rnn, 4, 6, 3)
    last.head.load_state_dict(tagger.head.state_dict())
    x = torch.randn(2, 5, 4)
    torch.testing.assert_close(last(x), tagger(x)[:, -1])


def test_sequence_model_accepts_a_package_layer() -> None:
    model = recurrent.SequenceModel(LSTM(4, 6, batch_first=True, bidirectional=True), 4, 6, 2,
                                    every_step=True)
    assert model(torch.randn(3, 5, 4)).shape == (3, 5, 2)


@pytest.mark.parametrize("make,match", [
    pytest.param(lambda: recurrent.SequenceModel(LSTM(3, 5, batch_first=True), 4, 5),
                 r"input_size=4 but the recurrent module has input_size=3", id="input-size"),
    pytest.param(lambda: recurrent.SequenceModel(nn.GRU(3, 5, batch_first=True), 3, 6),
                 r"hidden_size=6 but the recurrent module has hidden_size=5", id="hidden-size"),
    pytest.param(lambda: recurrent.SequenceModel(nn.GRU(3, 5), 3, 5),
                 r"must be batch_first=True", id="not-batch-first"),
    pytest.param(lambda: recurrent.SequenceModel(GRU(3, 5), 3, 5),
                 r"must be batch_first=True", id="package-layer-not-batch-first"),
    pytest.param(lambda: recurrent.SequenceModel("transformer", 3, 5),
                 r"kind must be one of \['gru', 'lstm', 'rnn'\] or an nn\.Module, got "
                 r"'transformer'", id="unknown-kind"),
    pytest.param(lambda: recurrent.SequenceModel("gru", 3, 5, 0),
                 r"output_size must be a positive integer", id="output-size-0"),
])
def test_sequence_model_refuses_bad_arguments(make: Callable[[], Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()
