"""Tests of rnncourse.gru (chapter 6) and of the chapter's exercise self-checks.

What every layer shares (equal to ``torch.nn.GRU``/``GRUCell`` over random configurations,
parameters, init, repr, dropout, gates(), bad inputs, the fused layer equal to the teaching
one in both variants) is in ``test_recurrent.py``; here is what is the GRU's own: the cell's
equations and Cho et al.'s variant, and the benchmark of the three implementations.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from rnncourse import gru, training
from rnncourse.exercises import ch06
from rnncourse.gru import GRU, FusedGRU, GRUCell, GRUStep

F64 = torch.float64


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
    ref = nn.GRU(3, 5, dtype=F64)
    mine = cls.from_torch(ref, variant="cho")
    x = torch.randn(8, 2, 3, dtype=F64)
    with torch.no_grad():
        out, h_n = mine(x)
        torch_out, _ = ref(x)
        formula = cho_formula(ref, x)
    assert (out - torch_out).abs().max() > 1e-3
    torch.testing.assert_close(out, formula, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(h_n[0], formula[-1], atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("b_hn_scale", [0.0, 3.0], ids=["b_hn-zero", "b_hn-large"])
def test_cho_and_pytorch_coincide_whenever_the_reset_gate_is_one_for_any_b_hn(
        b_hn_scale: float) -> None:
    """With r_t = 1, r ⊙ (W_hn h + b_hn) = W_hn (r ⊙ h) + b_hn, whatever b_hn is."""
    torch.manual_seed(1)
    torch_variant = GRU(2, 3, dtype=F64)
    with torch.no_grad():
        torch_variant.bias_ih_l0[:3] = 50.0  # r = sigmoid(about 50) = 1 exactly in float64
        torch_variant.bias_hh_l0[6:] = b_hn_scale * torch.randn(3, dtype=F64)
    cho = GRU(2, 3, variant="cho", dtype=F64)
    cho.load_state_dict(torch_variant.state_dict())
    x, h0 = torch.randn(5, 2, 2, dtype=F64) * 0.1, torch.randn(1, 2, 3, dtype=F64)
    assert torch.all(torch_variant.gates(x, h0)["r"] == 1)
    torch.testing.assert_close(cho(x, h0)[0], torch_variant(x, h0)[0], atol=1e-12, rtol=1e-12)
    # the same weights with an ordinary reset gate: the two variants differ
    with torch.no_grad():
        torch_variant.bias_ih_l0[:3] = 0.0
    cho.load_state_dict(torch_variant.state_dict())
    assert (cho(x, h0)[0] - torch_variant(x, h0)[0]).abs().max() > 1e-3


@pytest.mark.parametrize("variant", ["pytorch", "cho"])
def test_gru_cell_fields_follow_the_equations(variant: str) -> None:
    torch.manual_seed(2)
    H, x, h = 3, torch.randn(4, 2, dtype=F64), torch.randn(4, 3, dtype=F64)
    w_ih, w_hh = torch.randn(3 * H, 2, dtype=F64), torch.randn(3 * H, H, dtype=F64)
    b_ih, b_hh = torch.randn(3 * H, dtype=F64), torch.randn(3 * H, dtype=F64)
    step = gru.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh, variant=variant)
    assert isinstance(step, GRUStep) and step._fields == ("r", "z", "n", "h")
    (W_ir, W_iz, W_in), (W_hr, W_hz, W_hn) = w_ih.chunk(3), w_hh.chunk(3)
    (b_ir, b_iz, b_in), (b_hr, b_hz, b_hn) = b_ih.chunk(3), b_hh.chunk(3)
    torch.testing.assert_close(step.r, torch.sigmoid(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr))
    torch.testing.assert_close(step.z, torch.sigmoid(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz))
    hidden = (step.r * (h @ W_hn.T + b_hn) if variant == "pytorch"
              else (step.r * h) @ W_hn.T + b_hn)
    torch.testing.assert_close(step.n, torch.tanh(x @ W_in.T + b_in + hidden))
    torch.testing.assert_close(step.h, (1 - step.z) * step.n + step.z * h)  # z = 1 keeps h
    assert ((step.r > 0) & (step.r < 1)).all() and ((step.z > 0) & (step.z < 1)).all()
    assert ((step.n > -1) & (step.n < 1)).all()


@pytest.mark.parametrize("variant", ["pytorch", "cho"])
def test_cell_equals_one_step_of_the_layer(variant: str) -> None:
    """Also for the Cho variant, which torch's GRUCell does not have."""
    torch.manual_seed(3)
    cell = GRUCell(4, 3, variant=variant, dtype=F64)
    layer = GRU(4, 3, variant=variant, dtype=F64)
    layer.load_state_dict({f"{n}_l0": p for n, p in cell.state_dict().items()})
    x, h = torch.randn(2, 4, dtype=F64), torch.randn(2, 3, dtype=F64)
    _, h_n = layer(x[None], h[None])
    torch.testing.assert_close(cell(x, h), h_n[0], atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(cell(x[0], h[0]), h_n[0, 0], atol=1e-12, rtol=1e-12)
    step = cell.step(x, h)
    assert isinstance(step, GRUStep) and torch.equal(step.h, cell(x, h))


def test_benchmark_cells_times_every_implementation_on_shared_weights(
        monkeypatch: pytest.MonkeyPatch) -> None:
    timed: list[dict[str, nn.Module]] = []
    real_time_models = training.time_models

    def spy(models, x, **kwargs):
        timed.append(dict(models))
        return real_time_models(models, x, **kwargs)

    monkeypatch.setattr(training, "time_models", spy)
    rows = gru.benchmark_cells(seq_len=3, batch=2, hidden=4, repeats=1, rounds=1)
    assert [(r["cell"], r["implementation"]) for r in rows] == [
        (c, i) for c in ("gru", "lstm") for i in ("teaching", "fused", "native")]
    assert all(set(r) == {"cell", "implementation", "ms", "vs_native"} for r in rows)
    assert all(r["ms"] > 0 and r["vs_native"] > 0 for r in rows)
    # the teaching and fused layers carry the native module's weights: same outputs
    assert [type(m).__name__ for models in timed for m in models.values()] == [
        "GRU", "FusedGRU", "GRU", "LSTM", "FusedLSTM", "LSTM"]
    x = torch.randn(3, 2, 4)
    for models in timed:
        with torch.no_grad():
            want = models["native"](x)[0]
            for name in ("teaching", "fused"):
                torch.testing.assert_close(models[name](x)[0], want, msg=name)
    assert [r["cell"] for r in gru.benchmark_cells(2, 1, 3, repeats=1, rounds=1,
                                                   kinds=("lstm",))] == ["lstm"] * 3


@pytest.mark.parametrize("kwargs,match", [
    pytest.param({"kinds": ("rnn",)}, r"kinds must be among \['gru', 'lstm'\], got \['rnn'\]",
                 id="unknown-kind"),
    pytest.param({"seq_len": 0}, r"seq_len must be a positive integer", id="seq-len-0"),
    pytest.param({"hidden": 2.5}, r"hidden must be a positive integer", id="hidden-float"),
])
def test_benchmark_cells_refuses_bad_arguments(kwargs: dict, match: str) -> None:
    args = {"seq_len": 2, "batch": 1, "hidden": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        gru.benchmark_cells(**args, repeats=1, rounds=1)


# ----------------------------------------------------------------------- exercises


def test_exercise_param_count() -> None:
    assert ch06.check_gru_param_count(lambda i, h: 3 * (h * i + h * h + 2 * h))
    wrong = ch06.check_gru_param_count(lambda i, h: 4 * (h * i + h * h + 2 * h))
    assert not wrong and "should be" in wrong.message and "three gate blocks" in wrong.message
    crash = ch06.check_gru_param_count(lambda i, h: 1 / 0)
    assert not crash and "ZeroDivisionError" in crash.message


def test_exercise_gru_step(stub: Callable[..., object]) -> None:
    def step(x, h, w_ih, w_hh, b_ih, b_hh):
        return gru.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh).h

    def cho_step(x, h, w_ih, w_hh, b_ih, b_hh):
        return gru.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh, variant="cho").h

    def swapped(x, h, w_ih, w_hh, b_ih, b_hh):  # z and 1 - z exchanged
        s = gru.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh)
        return s.z * s.n + (1 - s.z) * h

    assert ch06.check_gru_step(step)
    for wrong in (cho_step, swapped):
        result = ch06.check_gru_step(wrong)
        assert not result and "differs from the reference" in result.message
    assert "not implemented yet" in ch06.check_gru_step(stub).message
    crash = ch06.check_gru_step(lambda x, h, w_ih, w_hh, *b: x @ w_hh)
    assert not crash and "RuntimeError" in crash.message


def test_exercise_minimal_gated_unit() -> None:
    assert ch06.check_minimal_gated_unit(ch06._mgu_reference)

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
    last_only = ch06.check_minimal_gated_unit(lambda *a: ch06._mgu_reference(*a)[-1])
    assert not last_only and "should have shape" in last_only.message
    crash = ch06.check_minimal_gated_unit(lambda *a: None.shape)
    assert not crash and "AttributeError" in crash.message
