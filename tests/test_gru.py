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


@pytest.mark.parametrize("seed", range(3))
def test_the_two_candidates_differ_by_the_exact_formula_of_the_docstring(seed: int) -> None:
    """PyTorch's minus Cho's tanh argument = r⊙(W_hn h) − W_hn(r⊙h) + (r − 1)⊙b_hn."""
    torch.manual_seed(seed)
    H, x, h = 4, torch.randn(3, 2, dtype=F64), torch.randn(3, 4, dtype=F64)
    w_ih, w_hh = torch.randn(3 * H, 2, dtype=F64), torch.randn(3 * H, H, dtype=F64)
    b_ih, b_hh = torch.randn(3 * H, dtype=F64), torch.randn(3 * H, dtype=F64)
    pt = gru.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh, variant="pytorch")
    cho = gru.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh, variant="cho")
    torch.testing.assert_close(pt.r, cho.r, atol=0, rtol=0)  # the gates do not depend on it
    W_hn, b_hn, r = w_hh[2 * H:], b_hh[2 * H:], pt.r
    gap = r * (h @ W_hn.T) - (r * h) @ W_hn.T + (r - 1) * b_hn
    torch.testing.assert_close(torch.atanh(pt.n) - torch.atanh(cho.n), gap, atol=1e-9, rtol=1e-9)
    assert gap.abs().max() > 1e-2


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


@pytest.mark.parametrize("variant", gru.VARIANTS)
def test_count_operations_counts_the_products_of_each_implementation(variant: str) -> None:
    from rnncourse import lstm

    L, N, H = 7, 3, 5
    x = torch.randn(L, N, H)
    counts = {name: gru.count_operations(model, x) for name, model in [
        ("gru", GRU(H, H, variant=variant)), ("fused", FusedGRU(H, H, variant=variant)),
        ("lstm", lstm.LSTM(H, H)), ("fused_lstm", lstm.FusedLSTM(H, H))]}
    assert counts["gru"]["products"] == 6 * L              # 3 input + 3 state products a step
    assert counts["lstm"]["products"] == 8 * L
    per_step = 2 if variant == "cho" else 1                # Cho's W_hn waits for r
    assert counts["fused"]["products"] == per_step * L + 1  # + the hoisted input product
    assert counts["fused_lstm"]["products"] == L + 1
    # 2 n k m per product (n, k) @ (k, m): 2 N H (3H) on each side, every step
    assert counts["gru"]["flops"] == counts["fused"]["flops"] == L * 2 * (2 * N * H * 3 * H)
    assert 4 * counts["gru"]["flops"] == 3 * counts["lstm"]["flops"]
    assert all(c["ops"] >= c["products"] > 0 and sum(c["by_op"].values()) == c["ops"]
               for c in counts.values())
    model = GRU(H, H)
    back = gru.count_operations(model, x, backward=True)
    assert back["products"] > counts["gru"]["products"] and back["flops"] > counts["gru"]["flops"]
    assert all(p.grad is None for p in model.parameters())  # nothing accumulated


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

    def zrn_order(x, h, w_ih, w_hh, b_ih, b_hh):  # blocks read as z, r, n (Keras's order)
        def swap(w):
            r, z, n = w.chunk(3)
            return torch.cat([z, r, n])

        return step(x, h, *(swap(w) for w in (w_ih, w_hh, b_ih, b_hh)))

    def cho_and_swapped(x, h, w_ih, w_hh, b_ih, b_hh):
        s = gru.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh, variant="cho")
        return s.z * s.n + (1 - s.z) * h

    assert ch06.check_gru_step(step)
    cho = ch06.check_gru_step(cho_step)
    assert not cho and "Cho et al.'s (2014) original GRU" in cho.message
    assert "before W_hn" in cho.message and "swapped" not in cho.message
    z_swap = ch06.check_gru_step(swapped)
    assert not z_swap and "swapped z and 1 - z" in z_swap.message and "Cho" not in z_swap.message
    both = ch06.check_gru_step(cho_and_swapped)
    assert not both and "Cho et al." in both.message and "swapped z and 1 - z" in both.message
    order = ch06.check_gru_step(zrn_order)
    assert not order and "as z, r, n (Keras's and ONNX's" in order.message
    assert "Cho" not in order.message
    far_off = ch06.check_gru_step(lambda x, h, *w: torch.tanh(h))
    assert not far_off and "differs from the reference" in far_off.message
    assert "should return a tensor" in ch06.check_gru_step(lambda *a: a[1].tolist()).message
    torch.manual_seed(3)
    want = torch.rand(2)
    torch.manual_seed(3)
    ch06.check_gru_step(cho_step)
    assert torch.equal(torch.rand(2), want)                   # the learner's RNG is untouched
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


def test_exercise_lstm_width() -> None:
    assert ch06.check_lstm_width(216)   # 4(100·216 + 216² + 432) ≤ 3(100·256 + 256² + 512)
    stub = ch06.check_lstm_width(None)
    assert not stub and not stub.attempted
    for wrong, named in [(192, "3/4 of 256"), (221, "sqrt(3/4)"), (256, "four gate blocks"),
                         (217, "one too wide"), (200, "should be 216")]:
        result = ch06.check_lstm_width(wrong)
        assert not result and named in result.message, (wrong, result.message)
    for bad in ("216", 216.0, True, [216]):
        result = ch06.check_lstm_width(bad)
        assert not result and "should be an int" in result.message


def _reach(rows: str, hh: str) -> Callable[..., float]:
    """An answer to exercise 6.3 that sets the bias block ``rows`` (r, z or n) and treats
    ``bias_hh``'s block as ``hh``: 'zero', 'same' (b_z too) or 'keep' (as initialised)."""
    def reach(model: nn.GRU, b_z: float, x: torch.Tensor) -> float:
        H = model.hidden_size
        block = slice("rzn".index(rows) * H, ("rzn".index(rows) + 1) * H)
        with torch.no_grad():
            model.bias_ih_l0[block] = b_z
            if hh != "keep":
                model.bias_hh_l0[block] = 0.0 if hh == "zero" else b_z
        h0 = torch.zeros(1, x.shape[1], H, dtype=x.dtype, requires_grad=True)
        (grad,) = torch.autograd.grad(model(x, h0)[1].sum(), h0)
        return grad.norm().item()
    return reach


def test_exercise_gradient_reach() -> None:
    state = torch.random.get_rng_state()
    assert ch06.check_gradient_reach(_reach("z", "zero"))
    assert ch06.check_gradient_reach(lambda *a: torch.tensor(_reach("z", "zero")(*a)))
    assert torch.equal(torch.random.get_rng_state(), state)   # the learner's RNG is untouched
    for answer, named in [(_reach("r", "zero"), "reset gate's bias"),
                          (_reach("n", "zero"), "candidate's bias"),
                          (_reach("z", "same"), "saw 2 b_z"),
                          (_reach("z", "keep"), "left bias_hh")]:
        result = ch06.check_gradient_reach(answer)
        assert not result and named in result.message, result.message
    other = ch06.check_gradient_reach(lambda *a: 2 * _reach("z", "zero")(*a))
    assert not other and "Hint" in other.message
    for bad in (lambda *a: "big", lambda *a: None, lambda *a: torch.ones(3)):
        result = ch06.check_gradient_reach(bad)
        assert not result and "should return a number" in result.message

    def stub(model, b_z, x):
        raise NotImplementedError

    assert not ch06.check_gradient_reach(stub).attempted


# ------------------------------------------------------------------------------- diagrams
_GRU_COUNTS = {1: {"layers": 0, "ops": 0, "arrows": 1, "junctions": 0},
               2: {"layers": 2, "ops": 0, "arrows": 4, "junctions": 0},
               3: {"layers": 3, "ops": 4, "arrows": 10, "junctions": 4},
               4: {"layers": 4, "ops": 5, "arrows": 13, "junctions": 4}}
_GRU_NEW_LABELS = {1: {"$h_{t-1}$", "$h_t$"}, 2: {"$W_{hn}$", "tanh", "$n_t$", "$x_t$"},
                   3: {"$z_t$", "$1-$", "$+$"}, 4: {"$r_t$"}}


@pytest.mark.parametrize("variant", gru.VARIANTS)
@pytest.mark.parametrize("stage", [1, 2, 3, 4])
def test_draw_gru_cell_builds_up_gate_by_gate(stage: int, variant: str) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig, ax = plt.subplots()
    counts = gru.draw_gru_cell(ax, stage, title="t", variant=variant)
    assert counts == _GRU_COUNTS[stage]
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(boxes) == counts["layers"] + counts["ops"] and len(arrows) == counts["arrows"]
    labels = [t.get_text() for t in ax.texts]
    for s in range(1, stage + 1):
        assert _GRU_NEW_LABELS[s] <= set(labels)
    for s in range(stage + 1, 5):
        assert not _GRU_NEW_LABELS[s] & set(labels)
    assert labels.count(r"$\sigma$") == {1: 0, 2: 0, 3: 1, 4: 2}[stage]   # z, then r
    assert not ax.axison and ax.get_title() == "t"
    plt.close(fig)


def _chain(ax) -> list[str]:
    """The labels along the candidate's row, left to right: where the reset gate acts."""
    from matplotlib.patches import FancyBboxPatch

    row = [p for p in ax.patches if isinstance(p, FancyBboxPatch)
           and abs(p.get_y() + p.get_height() / 2 - 2.8) < 1e-9]
    centres = {round(p.get_x() + p.get_width() / 2, 6) for p in row}
    texts = [t for t in ax.texts if round(t.get_position()[0], 6) in centres
             and abs(t.get_position()[1] - 2.8) < 1e-9]
    return [t.get_text() for t in sorted(texts, key=lambda t: t.get_position()[0])]


def test_draw_gru_cell_puts_the_reset_gate_where_each_variant_does() -> None:
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2)
    gru.draw_gru_cell(a, 4, variant="pytorch")
    gru.draw_gru_cell(b, 4, variant="cho")
    # PyTorch: h -> W_hn -> (r ⊙) -> tanh; Cho et al.: h -> (r ⊙) -> W_hn -> tanh
    assert _chain(a)[:3] == ["$W_{hn}$", r"$\odot$", "tanh"]
    assert _chain(b)[:3] == [r"$\odot$", "$W_{hn}$", "tanh"]
    with pytest.raises(ValueError, match="variant"):
        gru.draw_gru_cell(a, 4, variant="keras")
    with pytest.raises(ValueError, match="stage"):
        gru.draw_gru_cell(a, 5)
    plt.close(fig)


@pytest.mark.parametrize("variant", gru.VARIANTS)
def test_gru_cell_figure_panels_titles_and_no_overlaps(variant: str) -> None:
    import matplotlib.pyplot as plt
    from test_lstm import _layout_problems

    fig = gru.gru_cell_figure(variant=variant)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == [gru.GRU_STAGES[s] for s in (1, 2, 3)]
    assert ("Cho et al." in titles[3]) == (variant == "cho")
    assert len(fig.legends) == 1 and len(fig.legends[0].legend_handles) == 4
    assert _layout_problems(fig) == []
    plt.close(fig)
