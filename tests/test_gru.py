"""Tests of rnncourse.gru (chapter 6) and of the chapter's exercise self-checks."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch import nn

from rnncourse import gru
from rnncourse.exercises import ch06
from rnncourse.gru import GRU, FusedGRU, GRUCell
from rnncourse.lstm import recurrent_num_params
from rnncourse.validation import ShapeError

TOL = {torch.float32: 1e-6, torch.float64: 1e-12}
GRAD_TOL = {torch.float32: 1e-5, torch.float64: 1e-12}


def random_config(seed: int) -> dict:
    rng = random.Random(seed)
    return {
        "input_size": rng.randint(1, 6),
        "hidden_size": rng.randint(1, 7),
        "num_layers": rng.randint(1, 3),
        "bias": rng.random() < 0.8,
        "batch_first": rng.random() < 0.5,
        "bidirectional": rng.random() < 0.5,
        "seq_len": rng.randint(1, 9),
        "batch": rng.randint(1, 4),
        "with_h0": rng.random() < 0.5,
        "dtype": rng.choice([torch.float32, torch.float64]),
    }


def make_pair(cls: type[GRU], cfg: dict, variant: str = "pytorch") -> tuple[nn.GRU, GRU]:
    kwargs = {k: cfg[k] for k in ("input_size", "hidden_size", "num_layers", "bias",
                                  "batch_first", "bidirectional")}
    ref = nn.GRU(**kwargs, dtype=cfg["dtype"])
    mine = cls(**kwargs, variant=variant, dtype=cfg["dtype"])
    mine.load_state_dict(ref.state_dict())
    return ref, mine


def make_inputs(cfg: dict, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    gen = torch.Generator().manual_seed(seed)
    dims = ((cfg["batch"], cfg["seq_len"]) if cfg["batch_first"]
            else (cfg["seq_len"], cfg["batch"]))
    x = torch.randn(*dims, cfg["input_size"], generator=gen, dtype=cfg["dtype"])
    h0 = None
    if cfg["with_h0"]:
        states = cfg["num_layers"] * (2 if cfg["bidirectional"] else 1)
        h0 = torch.randn(states, cfg["batch"], cfg["hidden_size"], generator=gen,
                         dtype=cfg["dtype"])
    return x, h0


def assert_close(got: torch.Tensor, want: torch.Tensor, tol: float, what: str) -> None:
    # Absolute tolerance on values of order one; gradients are scaled by their own size.
    scale = max(1.0, want.abs().max().item()) if want.numel() else 1.0
    err = (got - want).abs().max().item() if want.numel() else 0.0
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert err <= tol * scale, f"{what}: max error {err:.3g} > {tol:g} × {scale:.3g}"


@pytest.mark.parametrize("cls", [GRU, FusedGRU])
@pytest.mark.parametrize("seed", range(30))
def test_matches_torch_gru_outputs_states_and_gradients(cls: type[GRU], seed: int) -> None:
    cfg = random_config(seed)
    ref, mine = make_pair(cls, cfg)
    x, h0 = make_inputs(cfg, seed)
    tol = TOL[cfg["dtype"]]
    leaves = [x.clone().requires_grad_(), None if h0 is None else h0.clone().requires_grad_()]
    outs = {}
    for name, model in (("torch", ref), ("mine", mine)):
        xi = x.clone().requires_grad_()
        hi = None if h0 is None else h0.clone().requires_grad_()
        out, h_n = model(xi, hi)
        weight = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)
        ((out * weight).sum() + (h_n ** 2).sum()).backward()
        outs[name] = (out, h_n, xi.grad, None if hi is None else hi.grad,
                      {k: p.grad for k, p in model.named_parameters()})
    del leaves
    (o1, hn1, gx1, gh1, gp1), (o2, hn2, gx2, gh2, gp2) = outs["torch"], outs["mine"]
    assert_close(o2, o1, tol, "output")
    assert_close(hn2, hn1, tol, "h_n")
    # Gradients sum over steps and batch, and the summation order differs from torch's (and
    # with the number of threads), so float32 gradients get 1e-5; float64 keeps 1e-12.
    gtol = GRAD_TOL[cfg["dtype"]]
    assert_close(gx2, gx1, gtol, "d/dx")
    if gh1 is not None:
        assert_close(gh2, gh1, gtol, "d/dh0")
    assert gp1.keys() == gp2.keys()
    for key in gp1:
        assert_close(gp2[key], gp1[key], gtol, f"d/d{key}")


@pytest.mark.parametrize("cls", [GRU, FusedGRU])
def test_unbatched_input_matches_torch(cls: type[GRU]) -> None:
    torch.manual_seed(0)
    ref = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    mine = cls(3, 4, num_layers=2, bidirectional=True)
    mine.load_state_dict(ref.state_dict())
    x, h0 = torch.randn(6, 3), torch.randn(4, 4)
    for args in ((x,), (x, h0)):
        (o1, h1), (o2, h2) = ref(*args), mine(*args)
        assert o2.shape == o1.shape == (6, 8) and h2.shape == h1.shape == (4, 4)
        assert_close(o2, o1, 1e-6, "output")
        assert_close(h2, h1, 1e-6, "h_n")


def cho_formula(model: nn.GRU, x: torch.Tensor) -> torch.Tensor:
    """Cho et al.'s GRU written out with explicit matrices (one layer, seq-first, no h0)."""
    H = model.hidden_size
    w_ih, w_hh = model.weight_ih_l0, model.weight_hh_l0
    b_ih, b_hh = model.bias_ih_l0, model.bias_hh_l0
    h = torch.zeros(x.shape[1], H, dtype=x.dtype)
    out = []
    for x_t in x:
        r = torch.sigmoid(x_t @ w_ih[:H].T + b_ih[:H] + h @ w_hh[:H].T + b_hh[:H])
        z = torch.sigmoid(x_t @ w_ih[H:2 * H].T + b_ih[H:2 * H] + h @ w_hh[H:2 * H].T
                          + b_hh[H:2 * H])
        n = torch.tanh(x_t @ w_ih[2 * H:].T + b_ih[2 * H:] + (r * h) @ w_hh[2 * H:].T
                       + b_hh[2 * H:])
        h = (1 - z) * n + z * h
        out.append(h)
    return torch.stack(out)


@pytest.mark.parametrize("cls", [GRU, FusedGRU])
@pytest.mark.parametrize("seed", range(5))
def test_cho_variant_differs_from_torch_but_equals_its_formula(cls: type[GRU], seed: int) -> None:
    torch.manual_seed(seed)
    ref = nn.GRU(3, 5, dtype=torch.float64)
    mine = cls(3, 5, variant="cho", dtype=torch.float64)
    mine.load_state_dict(ref.state_dict())
    x = torch.randn(8, 2, 3, dtype=torch.float64)
    with torch.no_grad():
        out, h_n = mine(x)
        torch_out, _ = ref(x)
        formula = cho_formula(ref, x)
    assert (out - torch_out).abs().max() > 1e-3
    assert_close(out, formula, 1e-12, "cho output")
    assert_close(h_n[0], formula[-1], 1e-12, "cho h_n")


def test_cho_and_pytorch_agree_when_reset_gate_is_open_and_b_hn_zero() -> None:
    torch.manual_seed(1)
    a, b = GRU(2, 3, dtype=torch.float64), GRU(2, 3, variant="cho", dtype=torch.float64)
    with torch.no_grad():
        a.bias_ih_l0[:3] = 50.0  # r = sigmoid(>> 0) = 1
        a.bias_hh_l0[6:] = 0.0
    b.load_state_dict(a.state_dict())
    x = torch.randn(5, 2, 2, dtype=torch.float64) * 0.1
    assert_close(b(x)[0], a(x)[0], 1e-12, "outputs")


@pytest.mark.parametrize("variant", ["pytorch", "cho"])
def test_cell_matches_layer_step_and_torch_cell(variant: str) -> None:
    torch.manual_seed(2)
    cell = GRUCell(4, 3, variant=variant, dtype=torch.float64)
    layer = GRU(4, 3, variant=variant, dtype=torch.float64)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(layer, f"{name}_l0").copy_(getattr(cell, name))
    x, h = torch.randn(2, 4, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64)
    _, h_n = layer(x[None], h[None])
    assert_close(cell(x, h), h_n[0], 1e-12, "cell vs layer")
    assert_close(cell(x[0], h[0]), h_n[0, 0], 1e-12, "unbatched cell")
    if variant == "pytorch":
        ref = nn.GRUCell(4, 3, dtype=torch.float64)
        ref.load_state_dict(cell.state_dict())
        assert_close(cell(x, h), ref(x, h), 1e-12, "vs nn.GRUCell")
        assert_close(cell(x), ref(x), 1e-12, "zero state")


def test_cell_without_bias_has_no_bias_parameters() -> None:
    cell = GRUCell(3, 2, bias=False)
    assert cell.bias_ih is None and sum(p.numel() for p in cell.parameters()) == 3 * 2 * (3 + 2)
    assert "variant='pytorch'" in repr(cell)


def test_dropout_between_layers_only_in_training() -> None:
    torch.manual_seed(3)
    model = GRU(3, 4, num_layers=2, dropout=0.5)
    x = torch.randn(5, 2, 3)
    model.train()
    assert not torch.equal(model(x)[0], model(x)[0])
    model.eval()
    assert torch.equal(model(x)[0], model(x)[0])


def test_gate_trace_reproduces_the_layer_and_gates_are_in_range() -> None:
    torch.manual_seed(4)
    for batch_first in (True, False):
        ref = nn.GRU(2, 3, batch_first=batch_first)
        x = torch.randn(4, 6, 2)
        trace = gru.gate_trace(ref, x)
        out, _ = ref(x)
        out = out if batch_first else out.transpose(0, 1)
        assert trace["z"].shape == (x.shape[0] if batch_first else x.shape[1],
                                    x.shape[1] if batch_first else x.shape[0], 3)
        assert_close(trace["h"], out.detach(), 1e-6, "traced h")
        for key in "rz":
            assert 0 < trace[key].min() and trace[key].max() < 1


@pytest.mark.parametrize("seed", range(10))
def test_num_params_matches_torch_modules(seed: int) -> None:
    rng = random.Random(seed)
    n_in, H, L = rng.randint(1, 9), rng.randint(1, 9), rng.randint(1, 3)
    bias, bi = rng.random() < 0.7, rng.random() < 0.5
    for kind, cls in (("rnn", nn.RNN), ("gru", nn.GRU), ("lstm", nn.LSTM)):
        want = sum(p.numel() for p in cls(n_in, H, L, bias=bias, bidirectional=bi).parameters())
        assert recurrent_num_params(kind, n_in, H, L, bias=bias, bidirectional=bi) == want
    assert recurrent_num_params("gru", n_in, H) == 3 * (H * n_in + H * H + 2 * H)


def test_time_models_returns_positive_medians() -> None:
    models = {"a": GRU(2, 3), "b": FusedGRU(2, 3)}
    times = gru.time_models(models, torch.randn(4, 2, 2), repeats=1, rounds=1)
    assert set(times) == {"a", "b"} and all(t > 0 for t in times.values())


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_implementations_share_weights_and_agree(kind: str) -> None:
    torch.manual_seed(5)
    models = gru.implementations(kind, 3, 4)
    x = torch.randn(6, 2, 3)
    with torch.no_grad():
        outputs = {name: model(x)[0] for name, model in models.items()}
    for name in ("teaching", "fused"):
        assert_close(outputs[name], outputs["native"], 1e-6, f"{kind} {name}")
    with pytest.raises(ValueError, match="kind must be 'gru' or 'lstm'"):
        gru.implementations("rnn", 3, 4)


def test_benchmark_cells_rows() -> None:
    rows = gru.benchmark_cells(seq_len=3, batch=2, hidden=4, repeats=1, rounds=1)
    assert [(r["cell"], r["implementation"]) for r in rows] == [
        (c, i) for c in ("gru", "lstm") for i in ("teaching", "fused", "native")]
    assert all(r["ms"] > 0 for r in rows)
    assert [r["vs_native"] for r in rows if r["implementation"] == "native"] == [1.0, 1.0]


# ----------------------------------------------------------------------- bad input


def test_bad_variant_is_refused() -> None:
    for make in (lambda: GRU(2, 3, variant="keras"), lambda: GRUCell(2, 3, variant="Cho")):
        with pytest.raises(ValueError, match="variant must be 'pytorch'.*'cho'"):
            make()


def test_bad_constructor_arguments() -> None:
    with pytest.raises(ValueError, match="num_layers must be a positive integer"):
        GRU(2, 3, num_layers=0)
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        FusedGRU(2, 2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dropout must be a number in"):
        GRU(2, 3, dropout=1.0)
    with pytest.raises(ValueError, match="kind must be one of"):
        recurrent_num_params("transformer", 2, 3)


@pytest.mark.parametrize("cls", [GRU, FusedGRU])
def test_wrong_feature_size_names_the_expected_shape(cls: type[GRU]) -> None:
    model = cls(3, 4, batch_first=True)
    with pytest.raises(ShapeError, match=r"input_size=3.*got \(2, 5, 4\).*input_size is 4"):
        model(torch.randn(2, 5, 4))


def test_wrong_number_of_dimensions() -> None:
    with pytest.raises(ShapeError, match="input must have 3 dimensions"):
        GRU(3, 4)(torch.randn(2, 5, 3, 1))
    with pytest.raises(ShapeError, match="x must have 2 dimensions"):
        GRUCell(3, 4)(torch.randn(2, 5, 3))


@pytest.mark.parametrize("cls", [GRU, FusedGRU])
def test_wrong_h0_shape_names_the_expected_shape(cls: type[GRU]) -> None:
    model = cls(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.randn(5, 7, 3)
    with pytest.raises(ShapeError, match=r"h0 must have shape \(4, 5, 4\).*never batch-first"):
        model(x, torch.randn(4, 4))
    with pytest.raises(ShapeError, match="batch is 7, expected 5"):
        model(x, torch.randn(4, 7, 4))  # batch-first h0 by mistake
    with pytest.raises(ShapeError, match="num_layers\\*num_directions is 2, expected 4"):
        model(x, torch.randn(2, 5, 4))
    with pytest.raises(ShapeError, match=r"h0 must have shape \(4, 4\) for an unbatched"):
        model(x[0], torch.randn(4, 1, 4))
    with pytest.raises(ShapeError, match="h must have shape"):
        GRUCell(3, 4)(torch.randn(2, 3), torch.randn(2, 5))


def test_empty_sequence_is_refused() -> None:
    with pytest.raises(ShapeError, match="empty dimension seq_len"):
        GRU(3, 4)(torch.randn(0, 2, 3))
    with pytest.raises(ShapeError, match="empty dimension batch"):
        FusedGRU(3, 4, batch_first=True)(torch.randn(0, 2, 3))


def test_integer_and_mismatched_dtypes_are_refused() -> None:
    with pytest.raises(TypeError, match="must be floating point.*got dtype torch.int64"):
        GRU(3, 4)(torch.ones(2, 2, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="must be floating point"):
        GRUCell(3, 4)(torch.ones(2, 3, dtype=torch.int32))
    with pytest.raises(TypeError, match="input has dtype torch.float64 but the parameters are "
                                        "torch.float32"):
        GRU(3, 4)(torch.ones(2, 2, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match="h0 has dtype"):
        GRU(3, 4)(torch.ones(2, 2, 3), torch.zeros(1, 2, 4, dtype=torch.float64))


def test_non_tensor_input_is_refused() -> None:
    with pytest.raises(TypeError, match="input must be a torch.Tensor, got ndarray"):
        GRU(3, 4)(np.zeros((2, 2, 3), dtype=np.float32))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="h0 must be a torch.Tensor, got list"):
        GRU(3, 4)(torch.zeros(2, 2, 3), [[0.0]])  # type: ignore[arg-type]


# ----------------------------------------------------------------------- exercises


def test_exercise_param_count() -> None:
    assert ch06.check_gru_param_count(lambda i, h: 3 * (h * i + h * h + 2 * h))
    wrong = ch06.check_gru_param_count(lambda i, h: 4 * (h * i + h * h + 2 * h))
    assert not wrong and "should be" in wrong.message and "three gate blocks" in wrong.message
    crash = ch06.check_gru_param_count(lambda i, h: 1 / 0)
    assert not crash and "ZeroDivisionError" in crash.message


def test_exercise_gru_step() -> None:
    def step(x, h, w_ih, w_hh, b_ih, b_hh):
        return gru.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh)

    def cho_step(x, h, w_ih, w_hh, b_ih, b_hh):
        return gru.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh, variant="cho")

    def swapped(x, h, w_ih, w_hh, b_ih, b_hh):
        _, z, n = gru.gru_gates(x, h, w_ih, w_hh, b_ih, b_hh)
        return z * n + (1 - z) * h

    def todo(*args):
        raise NotImplementedError

    assert ch06.check_gru_step(step)
    for wrong in (cho_step, swapped):
        result = ch06.check_gru_step(wrong)
        assert not result and "differs from the reference" in result.message
    assert "not implemented yet" in ch06.check_gru_step(todo).message
    crash = ch06.check_gru_step(lambda x, h, w_ih, w_hh, *b: x @ w_hh)
    assert not crash and "RuntimeError" in crash.message


def test_exercise_minimal_gated_unit() -> None:
    assert ch06.check_minimal_gated_unit(ch06.mgu_reference)

    def no_reset(x, h0, w_ih, w_hh, b_ih, b_hh):  # forgets to gate h before W_hn
        H = h0.shape[1]
        h, out = h0, []
        for x_t in x:
            f = torch.sigmoid(x_t @ w_ih[:H].T + b_ih[:H] + h @ w_hh[:H].T + b_hh[:H])
            n = torch.tanh(x_t @ w_ih[H:].T + b_ih[H:] + h @ w_hh[H:].T + b_hh[H:])
            h = (1 - f) * h + f * n
            out.append(h)
        return torch.stack(out)

    result = ch06.check_minimal_gated_unit(no_reset)
    assert not result and "W_hn" in result.message
    last_only = ch06.check_minimal_gated_unit(lambda *a: ch06.mgu_reference(*a)[-1])
    assert not last_only and "should have shape" in last_only.message
    crash = ch06.check_minimal_gated_unit(lambda *a: None.shape)  # type: ignore[union-attr]
    assert not crash and "AttributeError" in crash.message
