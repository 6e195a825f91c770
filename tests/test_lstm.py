"""Tests of rnncourse.lstm (chapter 5) and of the chapter's exercise self-checks.

What every layer shares (equal to ``torch.nn.LSTM``/``LSTMCell`` over random configurations,
parameters, init, repr, dropout, gates(), bad inputs) is in ``test_recurrent.py``; here is what
is the LSTM's own: the gate order and the additive cell-state path.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

from rnncourse import lstm, plotting
from rnncourse.exercises import ch05
from rnncourse.lstm import LSTMCell, LSTMStep, lstm_cell


def test_lstm_cell_blocks_are_i_f_g_o_in_torch_order() -> None:
    """With zero weights each gate is its bias block: rows [0:H] are i, [H:2H] f, [2H:3H] g,
    [3H:4H] o."""
    H = 2
    w_ih, w_hh = torch.zeros(4 * H, 1, dtype=torch.float64), torch.zeros(4 * H, H,
                                                                          dtype=torch.float64)
    b_ih = torch.tensor([0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 0.7, 0.8], dtype=torch.float64)
    b_hh = torch.full((4 * H,), 0.05, dtype=torch.float64)
    c = torch.tensor([[0.3, -0.7]], dtype=torch.float64)
    step = lstm_cell(torch.ones(1, 1, dtype=torch.float64), torch.zeros(1, H, dtype=torch.float64),
                     c, w_ih, w_hh, b_ih, b_hh)
    b_i, b_f, b_g, b_o = (b_ih + b_hh).view(4, 1, H)
    assert isinstance(step, LSTMStep) and step._fields == ("i", "f", "g", "o", "c", "h")
    torch.testing.assert_close(step.i, torch.sigmoid(b_i))
    torch.testing.assert_close(step.f, torch.sigmoid(b_f))
    torch.testing.assert_close(step.g, torch.tanh(b_g))
    torch.testing.assert_close(step.o, torch.sigmoid(b_o))
    # the same cell as torch's on these weights
    ref = torch.nn.LSTMCell(1, H, dtype=torch.float64)
    with torch.no_grad():
        for name, value in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"),
                               (w_ih, w_hh, b_ih, b_hh)):
            getattr(ref, name).copy_(value)
        h_ref, c_ref = ref(torch.ones(1, 1, dtype=torch.float64),
                           (torch.zeros(1, H, dtype=torch.float64), c))
    torch.testing.assert_close(step.h, h_ref)
    torch.testing.assert_close(step.c, c_ref)


def test_huge_forget_bias_and_closed_input_gate_keep_the_cell_state() -> None:
    w_ih, w_hh = torch.zeros(8, 1), torch.zeros(8, 2)
    b = torch.zeros(8)
    b[0:2], b[2:4] = -50.0, 50.0  # i ≈ 0, f ≈ 1
    c = torch.tensor([[0.3, -0.7]])
    step = lstm_cell(torch.ones(1, 1), torch.zeros(1, 2), c, w_ih, w_hh, b, torch.zeros(8))
    torch.testing.assert_close(step.c, c)


def test_step_fields_satisfy_the_lstm_equations() -> None:
    torch.manual_seed(1)
    cell = LSTMCell(4, 6, dtype=torch.float64)
    x = torch.randn(3, 4, dtype=torch.float64)
    h, c = torch.randn(3, 6, dtype=torch.float64), torch.randn(3, 6, dtype=torch.float64)
    step = cell.step(x, (h, c))
    for gate in (step.i, step.f, step.o):
        assert ((gate > 0) & (gate < 1)).all()
    assert ((step.g > -1) & (step.g < 1)).all()
    torch.testing.assert_close(step.c, step.f * c + step.i * step.g)
    torch.testing.assert_close(step.h, step.o * torch.tanh(step.c))
    h_new, c_new = cell(x, (h, c))
    assert torch.equal(h_new, step.h) and torch.equal(c_new, step.c)


def test_additive_cell_path_derivative_is_forget_gate() -> None:
    """∂c_t/∂c_{t-1} = diag(f_t) when h_{t-1} is held fixed."""
    torch.manual_seed(2)
    cell = LSTMCell(3, 4, dtype=torch.float64)
    x, h = torch.randn(1, 3, dtype=torch.float64), torch.randn(1, 4, dtype=torch.float64)
    c = torch.randn(1, 4, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda cc: cell.step(x, (h, cc)).c, c)
    f = cell.step(x, (h, c)).f
    torch.testing.assert_close(jac.reshape(4, 4), torch.diag(f[0]))


# --- exercise self-checks --------------------------------------------------------------------

def boom(*args: object) -> None:
    raise RuntimeError("boom")


def test_check_param_count(stub: Callable[..., object]) -> None:
    assert ch05.check_lstm_param_count(lambda i, h: 4 * (h * i + h * h + 2 * h))
    wrong = ch05.check_lstm_param_count(lambda i, h: 4 * (h * i + h * h + h))
    assert not wrong and "bias" in wrong.message
    assert "four blocks" in ch05.check_lstm_param_count(lambda i, h: h * i + h * h + 2 * h).message
    crash = ch05.check_lstm_param_count(boom)
    assert not crash and "RuntimeError" in crash.message
    assert "not implemented" in ch05.check_lstm_param_count(stub).message


def _step_in_order(order: str):
    """An otherwise correct answer that reads the row blocks in ``order`` (e.g. "ifog")."""
    def step(x, h, c, w_ih, w_hh, b_ih, b_hh):
        z = dict(zip(order, (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=1)))
        c = torch.sigmoid(z["f"]) * c + torch.sigmoid(z["i"]) * torch.tanh(z["g"])
        return torch.sigmoid(z["o"]) * torch.tanh(c), c

    return step


def test_check_lstm_step() -> None:
    assert ch05.check_lstm_step(_step_in_order("ifgo"))
    result = ch05.check_lstm_step(_step_in_order("ifog"))
    assert not result and "as i, f, o, g;" in result.message
    assert "PyTorch's chunks are i, f, g, o" in result.message
    tf1 = ch05.check_lstm_step(_step_in_order("igfo"))
    assert not tf1 and "i, g, f, o (TensorFlow 1's" in tf1.message
    onnx = ch05.check_lstm_step(_step_in_order("iofg"))
    assert not onnx and "i, o, f, g (ONNX's" in onnx.message

    def old_cell_in_h(x, h, c, w_ih, w_hh, b_ih, b_hh):  # h_new from the OLD cell state
        i, f, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c_new

    flipped = ch05.check_lstm_step(lambda *a: _step_in_order("ifgo")(*a)[::-1])
    assert not flipped and "you returned (c_new, h_new)" in flipped.message
    stale = ch05.check_lstm_step(old_cell_in_h)
    assert not stale and "NEW cell state" in stale.message and "row blocks" not in stale.message
    crash = ch05.check_lstm_step(boom)
    assert not crash and "RuntimeError" in crash.message
    assert "tuple" in ch05.check_lstm_step(lambda *a: a[1]).message
    numpy = ch05.check_lstm_step(lambda *a: (a[1].numpy(), a[2].numpy()))
    assert not numpy and "raised" not in numpy.message            # wrong types do not crash


def test_check_lstm_step_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(3)
    want = torch.rand(2)
    torch.manual_seed(3)
    ch05.check_lstm_step(_step_in_order("ifog"))
    assert torch.equal(torch.rand(2), want)


def test_check_coupled_step() -> None:
    def good(x, h, c, w_ih, w_hh, b_ih, b_hh):
        i, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(3, dim=1)
        i = torch.sigmoid(i)
        c = (1 - i) * c + i * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def uncoupled(x, h, c, w_ih, w_hh, b_ih, b_hh):
        i, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(3, dim=1)
        i = torch.sigmoid(i)
        c = c + i * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    assert ch05.check_coupled_step(good)
    result = ch05.check_coupled_step(uncoupled)
    assert not result and "1 - i" in result.message
    assert not ch05.check_coupled_step(boom)


def test_check_cell_gradient() -> None:
    assert ch05.check_cell_gradient(lambda f: torch.prod(f, dim=0))
    wrong = ch05.check_cell_gradient(lambda f: f.sum(dim=0))
    assert not wrong and "product" in wrong.message
    assert not ch05.check_cell_gradient(boom)


# ------------------------------------------------------------------------------- diagrams
def _layout_problems(fig) -> list[str]:
    """Overlaps in a rendered figure: text on text (anywhere in the figure), text outside the
    figure, a box's label wider than its box, a free label (not a box's) on a box, the legend
    on a panel."""
    from matplotlib.patches import FancyBboxPatch

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    figure_box = fig.bbox
    problems, texts = [], []
    for ax in fig.axes:
        boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
        centres = {(round(b.get_x() + b.get_width() / 2, 6), round(b.get_y() + b.get_height() / 2,
                                                                  6)): b for b in boxes}
        for text in [*ax.texts, ax.title]:
            if not text.get_text():
                continue
            extent = text.get_window_extent(renderer).shrunk(0.97, 0.9)
            texts.append((text.get_text(), extent))
            if not figure_box.contains(extent.x0, extent.y0) or not figure_box.contains(
                    extent.x1, extent.y1):
                problems.append(f"{text.get_text()!r} leaves the figure")
            if text is ax.title:
                continue
            x, y = text.get_position()
            own = centres.get((round(x, 6), round(y, 6)))
            if own is not None:          # a box's label must fit inside its box
                inside = own.get_window_extent(renderer)
                if extent.width > inside.width or extent.height > inside.height:
                    problems.append(f"{text.get_text()!r} is wider than its box")
                continue
            for b in boxes:
                if extent.overlaps(b.get_window_extent(renderer)):
                    problems.append(f"{text.get_text()!r} lies on a box")
    for k, (a, box_a) in enumerate(texts):
        for b, box_b in texts[k + 1:]:
            if box_a.overlaps(box_b):
                problems.append(f"{a!r} overlaps {b!r}")
    for legend in fig.legends:
        extent = legend.get_window_extent(renderer)
        for ax in fig.axes:
            if extent.overlaps(ax.get_tightbbox(renderer)):
                problems.append("the legend covers a panel")
    return problems


_LSTM_COUNTS = {1: {"layers": 0, "ops": 0, "arrows": 1, "junctions": 0},
                2: {"layers": 1, "ops": 1, "arrows": 3, "junctions": 1},
                3: {"layers": 3, "ops": 3, "arrows": 8, "junctions": 1},
                4: {"layers": 4, "ops": 5, "arrows": 13, "junctions": 2}}
_LSTM_NEW_LABELS = {1: {"$c_{t-1}$", "$c_t$"}, 2: {"$h_{t-1}$", "$x_t$", "$f_t$"},
                    3: {"$i_t$", "$g_t$", "$+$"}, 4: {"$o_t$", "$h_t$"}}


@pytest.mark.parametrize("stage", [1, 2, 3, 4])
def test_draw_lstm_cell_builds_up_gate_by_gate(stage: int) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig, ax = plt.subplots()
    counts = lstm.draw_lstm_cell(ax, stage, title="t")
    assert counts == _LSTM_COUNTS[stage]
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(boxes) == counts["layers"] + counts["ops"] and len(arrows) == counts["arrows"]
    labels = [t.get_text() for t in ax.texts]
    for s in range(1, stage + 1):                  # every symbol introduced so far is drawn
        assert _LSTM_NEW_LABELS[s] <= set(labels)
    for s in range(stage + 1, 5):                  # and none of the later stages
        assert not (_LSTM_NEW_LABELS[s] - {"$h_t$"}) & set(labels)
    assert labels.count(r"$\sigma$") == {1: 0, 2: 1, 3: 2, 4: 3}[stage]   # f, i, o
    assert labels.count("tanh") == {1: 0, 2: 0, 3: 1, 4: 2}[stage]        # g, and tanh(c_t)
    assert not ax.axison and ax.get_title() == "t"
    # the new elements are drawn in full, the earlier ones faded
    alphas = {round(p.get_alpha() or 1.0, 2) for p in boxes}
    assert alphas == {1: set(), 2: {1.0}}.get(stage, {1.0, plotting.CellDiagram.FADED})
    plt.close(fig)


def test_draw_lstm_cell_without_highlight_and_bad_stage() -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    lstm.draw_lstm_cell(ax, 4, highlight=False)
    assert {p.get_alpha() for p in ax.patches} == {1.0}
    for bad in (0, 5):
        with pytest.raises(ValueError, match="stage"):
            lstm.draw_lstm_cell(ax, bad)
    with pytest.raises(ValueError, match="stages"):
        lstm.lstm_cell_figure(stages=(1, 7))
    plt.close(fig)


@pytest.mark.parametrize("stages", [(1, 2, 3, 4), (3, 4), (4,)])
def test_lstm_cell_figure_panels_titles_and_no_overlaps(stages) -> None:
    import matplotlib.pyplot as plt

    fig = lstm.lstm_cell_figure(stages)               # two panels a row, 10 x 5.6 inches
    assert [ax.get_title() for ax in fig.axes] == [lstm.LSTM_STAGES[s] for s in stages]
    assert len(fig.legends) == 1 and len(fig.legends[0].legend_handles) == 3
    assert _layout_problems(fig) == []
    plt.close(fig)


# --- exercise self-checks added for #9 (5.3 and 5.4 follow-ups, 5.5) -------------------------

def test_check_steps_below() -> None:
    assert ch05.check_steps_below({0.5: 10, 0.9: 66, 0.99: 688})
    off = ch05.check_steps_below({0.5: 9, 0.9: 66, 0.99: 688})
    assert not off and "off by one" in off.message
    logs = ch05.check_steps_below({0.5: 10, 0.9: math.log(1e-3) / math.log(0.9), 0.99: 688})
    assert not logs and "whole number" in logs.message
    tau = ch05.check_steps_below({0.5: 10, 0.9: 10, 0.99: 688})
    assert not tau and "time constant" in tau.message
    stub = ch05.check_steps_below({0.5: None, 0.9: None, 0.99: None})
    assert not stub and not stub.attempted
    assert not ch05.check_steps_below({0.5: 10, 0.9: None, 0.99: 688})
    assert "number of steps" in ch05.check_steps_below({0.5: "ten", 0.9: 66, 0.99: 688}).message
    listed = ch05.check_steps_below([10, 66, 688])
    assert not listed and "dict" in listed.message


def test_check_cifg_saving() -> None:
    assert ch05.check_cifg_saving(0.25) and ch05.check_cifg_saving(torch.tensor(0.25))
    assert "keeps" in ch05.check_cifg_saving(0.75).message
    assert "relative to the CIFG" in ch05.check_cifg_saving(1 / 3).message
    assert "percentage" in ch05.check_cifg_saving(25).message
    assert not ch05.check_cifg_saving(None).attempted
    assert "number" in ch05.check_cifg_saving("a quarter").message


def _no_forget(x, h, c, w_ih, w_hh, b_ih, b_hh):
    i, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(3, dim=1)
    c = c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _cifg(x, h, c, w_ih, w_hh, b_ih, b_hh):
    i, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(3, dim=1)
    i = torch.sigmoid(i)
    c = (1 - i) * c + i * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _gradient(step, x, weights, w_out, position=0, batch_mean=True):
    x = x.clone().requires_grad_(True)
    h = c = x.new_zeros(x.shape[0], w_out.shape[0])
    for x_t in x.unbind(1):
        h, c = step(x_t, h, c, *weights)
    (h @ w_out).sum().backward()
    grad = x.grad[:, position]
    return float(grad.norm(dim=1).mean() if batch_mean else grad.norm())


GOOD_FACTORS = {"LSTM": 0.646, "no forget gate": 1.002}


def test_check_no_forget_gate() -> None:
    assert ch05.check_no_forget_gate(_no_forget, _gradient, GOOD_FACTORS)
    cifg = ch05.check_no_forget_gate(_cifg, _gradient, GOOD_FACTORS)
    assert not cifg and "CIFG" in cifg.message
    last = ch05.check_no_forget_gate(_no_forget, lambda *a: _gradient(*a, position=-1),
                                     GOOD_FACTORS)
    assert not last and "LAST input" in last.message
    whole = ch05.check_no_forget_gate(_no_forget, lambda *a: _gradient(*a, batch_mean=False),
                                      GOOD_FACTORS)
    assert not whole and "whole batch" in whole.message
    swapped = ch05.check_no_forget_gate(_no_forget, _gradient,
                                        {"LSTM": 1.002, "no forget gate": 0.646})
    assert not swapped and "swap" in swapped.message
    total = ch05.check_no_forget_gate(_no_forget, _gradient,
                                      {"LSTM": 0.646 ** 80, "no forget gate": 1.0})
    assert not total and "total ratio" in total.message
    sigma = ch05.check_no_forget_gate(_no_forget, _gradient, {"LSTM": 0.5, "no forget gate": 1.0})
    assert not sigma and "σ(0)" in sigma.message
    stub = ch05.check_no_forget_gate(_no_forget, _gradient, {"LSTM": None, "no forget gate": None})
    assert not stub and not stub.attempted
    assert not ch05.check_no_forget_gate(boom, _gradient, GOOD_FACTORS)
    assert not ch05.check_no_forget_gate(_no_forget, lambda *a: "big", GOOD_FACTORS)
    assert "dict" in ch05.check_no_forget_gate(_no_forget, _gradient, "fast").message


def test_new_checks_leave_the_global_rng_alone() -> None:
    torch.manual_seed(5)
    want = torch.rand(2)
    torch.manual_seed(5)
    ch05.check_no_forget_gate(_no_forget, _gradient, GOOD_FACTORS)
    ch05.check_steps_below({0.5: 10, 0.9: 66, 0.99: 688})
    assert torch.equal(torch.rand(2), want)
