"""Tests of rnncourse.deep (chapter 7) and its exercise self-checks.

``LayerNormLSTM`` and ``LayerNormLSTMCell`` with ``layer_norm=False`` are tested with every other
layer in ``test_recurrent.py`` (equal to ``torch.nn.LSTM``/``LSTMCell``, parameters, init,
repr, dropout, bad inputs); here are the layer normalisation itself, the layout of ``h_n``, the
chapter's tasks and its evaluation helpers.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from rnncourse import deep
from rnncourse.exercises import ch07
from rnncourse.recurrent import SequenceModel
from rnncourse.validation import ShapeError

matplotlib.use("Agg")

F64 = torch.float64
LN_SHAPES = {"ln_ih_gain": 4, "ln_ih_bias": 4, "ln_hh_gain": 4, "ln_hh_bias": 4, "ln_c_gain": 1,
             "ln_c_bias": 1}  # in units of hidden_size


def test_layer_norm_function_matches_torch() -> None:
    z = torch.randn(6, 12, dtype=F64) * 3 + 2
    g, b = torch.randn(12, dtype=F64), torch.randn(12, dtype=F64)
    assert torch.allclose(deep.layer_norm(z, g, b), F.layer_norm(z, (12,), g, b, 1e-5),
                          atol=1e-12)
    assert torch.allclose(deep.layer_norm(z, eps=1e-3), F.layer_norm(z, (12,), eps=1e-3),
                          atol=1e-12)
    with pytest.raises(TypeError, match="z must be a torch.Tensor, got list"):
        deep.layer_norm([1.0, 2.0])


def test_normalised_preactivations_have_mean_zero_unit_variance() -> None:
    torch.manual_seed(1)
    cell = deep.LayerNormLSTMCell(3, 8).double()
    x, h = torch.randn(5, 3, dtype=F64) * 10, torch.randn(5, 8, dtype=F64)
    for a in cell.preactivations(x, h):
        assert a.shape == (5, 32)
        assert a.mean(-1).abs().max() < 1e-12
        assert (a.var(-1, unbiased=False) - 1).abs().max() < 1e-3


def test_layer_norm_cell_is_invariant_to_input_scale() -> None:
    torch.manual_seed(2)
    cell = deep.LayerNormLSTMCell(3, 4).double()
    x = torch.randn(2, 3, dtype=F64)
    h1, _ = cell(10 * x)
    h2, _ = cell(1000 * x)  # equal up to the effect of eps on the variance
    assert torch.allclose(h1, h2, atol=1e-5)
    plain = deep.LayerNormLSTMCell(3, 4, layer_norm=False).double()
    assert not torch.allclose(plain(10 * x)[0], plain(1000 * x)[0], atol=1e-2)


def test_layer_norm_cell_gradients_pass_gradcheck() -> None:
    torch.manual_seed(3)
    cell = deep.LayerNormLSTMCell(3, 4).double()
    with torch.no_grad():
        for name, p in cell.named_parameters():
            if name.startswith("ln_"):
                p.add_(0.3 * torch.randn_like(p))
    x = torch.randn(2, 3, dtype=F64, requires_grad=True)
    h = torch.randn(2, 4, dtype=F64, requires_grad=True)
    c = torch.randn(2, 4, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, h, c: cell(x, (h, c)), (x, h, c))
    params = dict(cell.named_parameters())

    def by_weights(*values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.func.functional_call(cell, dict(zip(params, values)), (x.detach(),
                                                                            (h.detach(),
                                                                             c.detach())))

    weights = tuple(p.detach().clone().requires_grad_(True) for p in params.values())
    assert torch.autograd.gradcheck(by_weights, weights)


def test_layer_norm_parameters_are_named_per_layer_and_start_at_gain_1_bias_0() -> None:
    H = 5
    layer = deep.LayerNormLSTM(3, H, num_layers=2, bidirectional=True)
    torch_names = [n for n, _ in nn.LSTM(3, H, num_layers=2, bidirectional=True)
                   .named_parameters()]
    names = [n for n, _ in layer.named_parameters()]
    assert [n for n in names if not n.startswith("ln_")] == torch_names
    want = {f"{ln}_l{k}{sfx}": (units * H,) for k in range(2) for sfx in ("", "_reverse")
            for ln, units in LN_SHAPES.items()}
    assert {n: p.shape for n, p in layer.named_parameters() if n.startswith("ln_")} == want
    cell = deep.LayerNormLSTMCell(3, H)
    assert {n: p.shape for n, p in cell.named_parameters() if n.startswith("ln_")} == {
        ln: (units * H,) for ln, units in LN_SHAPES.items()}
    for module in (layer, cell):
        for name, p in module.named_parameters():
            if name.startswith("ln_"):
                assert torch.equal(p, torch.full_like(p, 1.0 if "_gain" in name else 0.0))
        module.reset_parameters()  # redraws the LSTM's weights, resets the gains and biases
        assert all(torch.equal(p, torch.full_like(p, 1.0 if "_gain" in n else 0.0))
                   for n, p in module.named_parameters() if n.startswith("ln_"))


def test_from_torch_with_layer_norm_copies_the_lstm_weights() -> None:
    torch.manual_seed(4)
    ref = nn.LSTM(3, 4, num_layers=2, batch_first=True, dtype=F64)
    layer = deep.LayerNormLSTM.from_torch(ref)
    assert layer.layer_norm and layer.batch_first and layer.num_layers == 2
    for name, p in ref.named_parameters():
        assert torch.equal(getattr(layer, name), p)
    assert all(torch.equal(p, torch.full_like(p, 1.0 if "_gain" in n else 0.0))
               for n, p in layer.named_parameters() if n.startswith("ln_"))
    x = torch.randn(2, 5, 3, dtype=F64)
    assert (layer(x)[0] - ref(x)[0]).abs().max() > 1e-3  # normalised: not torch's LSTM


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
def test_layer_norm_layer_equals_its_cell_stepped_in_both_directions(batched: bool) -> None:
    torch.manual_seed(5)
    layer = deep.LayerNormLSTM(3, 4, bidirectional=True, dtype=F64)
    with torch.no_grad():
        for name, p in layer.named_parameters():
            if name.startswith("ln_"):
                p.add_(0.3 * torch.randn_like(p))  # away from gain 1, bias 0
    cells = []
    for sfx in ("", "_reverse"):
        cell = deep.LayerNormLSTMCell(3, 4, dtype=F64)
        cell.load_state_dict({n: getattr(layer, f"{n}_l0{sfx}") for n in cell.state_dict()})
        cells.append(cell)
    x = torch.randn(6, 2, 3, dtype=F64)
    h0, c0 = torch.randn(2, 2, 4, dtype=F64), torch.randn(2, 2, 4, dtype=F64)
    if batched:
        output, (h_n, c_n) = layer(x, (h0, c0))
    else:
        x, h0, c0 = x[:, :1], h0[:, :1], c0[:, :1]
        output, (h_n, c_n) = layer(x[:, 0], (h0[:, 0], c0[:, 0]))
        output, h_n, c_n = output[:, None], h_n[:, None], c_n[:, None]
    for d, cell in enumerate(cells):
        state, outs = (h0[d], c0[d]), {}
        for t in (range(5, -1, -1) if d == 1 else range(6)):
            state = cell(x[t], state)
            outs[t] = state[0]
        want = torch.stack([outs[t] for t in range(6)])
        torch.testing.assert_close(output[..., 4 * d:4 * d + 4], want, atol=1e-12, rtol=1e-12)
        torch.testing.assert_close(h_n[d], state[0], atol=1e-12, rtol=1e-12)
        torch.testing.assert_close(c_n[d], state[1], atol=1e-12, rtol=1e-12)


def test_split_directions_matches_torch_layout() -> None:
    torch.manual_seed(6)
    gru = nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    out, h_n = gru(torch.randn(2, 5, 3))
    parts = deep.split_directions(h_n, 2, True)
    assert parts.shape == (2, 2, 2, 4)
    assert torch.equal(parts[1, 0], out[:, -1, :4]) and torch.equal(parts[1, 1], out[:, 0, 4:])
    with pytest.raises(ShapeError, match="num_layers\\*num_directions=2"):
        deep.split_directions(h_n, 1, True)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_layer_norm_lstm_as_the_encoder_of_a_tagger(bidirectional: bool) -> None:
    encoder = deep.LayerNormLSTM(4, 6, num_layers=2, batch_first=True,
                                 bidirectional=bidirectional)
    model = SequenceModel(encoder, 4, 6, 3, every_step=True)
    assert model(torch.randn(2, 5, 4)).shape == (2, 5, 3)


def test_sequence_cross_entropy_and_tag_accuracy() -> None:
    torch.manual_seed(6)
    logits = torch.randn(2, 5, 3)
    targets = logits.argmax(-1)
    torch.testing.assert_close(deep.sequence_cross_entropy(logits, targets),
                               F.cross_entropy(logits.reshape(10, 3), targets.reshape(10)))
    assert deep.tag_accuracy(logits, targets) == 1.0
    wrong = (targets + 1) % 3
    mask = torch.zeros(2, 5, dtype=torch.bool)
    mask[0, :2] = True
    mixed = torch.where(mask, targets, wrong)
    assert deep.tag_accuracy(logits, wrong) == 0.0
    assert deep.tag_accuracy(logits, mixed) == pytest.approx(0.2)
    assert deep.tag_accuracy(logits, mixed, mask) == 1.0


@pytest.mark.parametrize("targets,match", [
    pytest.param(torch.zeros(2, 5), r"targets must be torch\.long class indices of shape "
                                    r"\(2, 5\), got torch\.float32 \(2, 5\)", id="float-targets"),
    pytest.param(torch.zeros(2, 4, dtype=torch.long), r"of shape \(2, 5\), got torch\.int64 "
                                                      r"\(2, 4\)", id="wrong-length"),
])
def test_sequence_cross_entropy_refuses_bad_targets(targets: torch.Tensor, match: str) -> None:
    with pytest.raises(ShapeError, match=match):
        deep.sequence_cross_entropy(torch.randn(2, 5, 3), targets)


def test_neighbour_tagging_labels() -> None:
    x, y, future = deep.neighbour_tagging(8, 6, 4, torch.Generator().manual_seed(0))
    assert x.shape == (8, 6, 6) and y.shape == (8, 6) and future.dtype == torch.bool
    s = x[..., :5].argmax(-1)
    assert torch.equal(x[..., -1].bool(), future)
    for b in range(8):
        for t in range(6):
            want = (s[b, t + 1] if t + 1 < 6 else 0) if future[b, t] else (
                s[b, t - 1] if t > 0 else 0)
            assert y[b, t] == want
    with pytest.raises(ValueError, match="seq_len"):
        deep.neighbour_tagging(2, 1)


def test_noisy_cycle_statistics_and_entropy() -> None:
    s = deep.noisy_cycle(4000, 30, 6, 0.7, torch.Generator().manual_seed(0))
    follows = ((s[:, 1:] - s[:, :-1]) % 6 == 1).float().mean().item()
    assert abs(follows - (0.7 + 0.3 / 6)) < 0.01
    import math
    assert abs(deep.noisy_cycle_entropy(6, 0.0) - math.log(6)) < 1e-12
    assert deep.noisy_cycle_entropy(6, 0.7) < math.log(6)
    with pytest.raises(ValueError, match="p_follow"):
        deep.noisy_cycle(2, 3, p_follow=1.0)


def test_lagged_sum() -> None:
    x, y = deep.lagged_sum(3, 6, 5, 2, torch.Generator().manual_seed(0))
    s = x.argmax(-1)
    assert x.shape == (3, 6, 5) and torch.equal(y[:, 2:], (s[:, 2:] + s[:, :-2]) % 5)
    with pytest.raises(ValueError, match="lag"):
        deep.lagged_sum(3, 6, lag=0)


def test_prefix_logits_equal_full_pass_only_for_causal_models() -> None:
    torch.manual_seed(7)
    x = torch.randn(3, 6, 4)
    uni = SequenceModel("gru", 4, 5, 4, every_step=True).eval()
    bi = SequenceModel("gru", 4, 5, 4, every_step=True, bidirectional=True).eval()
    with torch.no_grad():
        assert torch.allclose(deep.prefix_logits(uni, x), uni(x), atol=1e-6)
        assert not torch.allclose(deep.prefix_logits(bi, x), bi(x), atol=1e-3)
        assert torch.allclose(deep.prefix_logits(bi, x)[:, -1], bi(x)[:, -1], atol=1e-6)


def test_width_for_params() -> None:
    h = deep.width_for_params("gru", 5, 8000, num_layers=2, num_classes=5)
    count = sum(p.numel() for p in SequenceModel("gru", 5, h, 5, every_step=True, num_layers=2)
                .parameters())
    assert abs(count - 8000) < 300
    assert deep.width_for_params("lstm", 3, 4 * 10 * (3 + 10 + 2)) == 10
    with pytest.raises(ValueError, match="kind"):
        deep.width_for_params("cnn", 3, 100)


@pytest.mark.parametrize("num_layers,seq_len,bidirectional",
                         [(2, 3, False), (1, 4, True), (3, 2, True)],
                         ids=["2-layers-forward", "1-layer-bidirectional",
                              "3-layers-bidirectional"])
def test_draw_stacked_structure(num_layers: int, seq_len: int, bidirectional: bool) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgb
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    from rnncourse.plotting import PALETTE

    fig, ax = plt.subplots()
    deep.draw_stacked(ax, num_layers, seq_len, bidirectional=bidirectional)
    dirs = 2 if bidirectional else 1
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(boxes) + len(arrows) == len(ax.patches)
    assert len(boxes) == num_layers * dirs * seq_len + seq_len + seq_len  # hidden, x_t, y_t

    # every box has its label; in each column, bottom to top: x_t, then per layer the forward
    # row and (if bidirectional) the backward row, then y_t
    rows = [(r"\overrightarrow{h}", layer) for layer in range(1, num_layers + 1)]
    if bidirectional:
        rows = [row for layer in range(num_layers) for row in
                (rows[layer], (r"\overleftarrow{h}", layer + 1))]
    for t in range(1, seq_len + 1):
        want = [f"$x_{{{t}}}$"] + [f"${sym}^{{({layer})}}_{{{t}}}$" for sym, layer in rows] + [
            f"$y_{{{t}}}$"]
        column = sorted((text for text in ax.texts if text.get_position()[0] == t - 1),
                        key=lambda text: text.get_position()[1])
        assert [text.get_text() for text in column] == want

    def ends(a: FancyArrowPatch) -> tuple[tuple[float, float], tuple[float, float]]:
        return a._posA_posB  # type: ignore[attr-defined]

    def coloured(colour: str) -> list[FancyArrowPatch]:
        return [a for a in arrows if a.get_edgecolor()[:3] == to_rgb(colour)]

    # recurrent arrows: forward rows point right, backward rows point left, within a row
    right, left, up = coloured(PALETTE["blue"]), coloured(PALETTE["vermillion"]), coloured("grey")
    assert len(right) + len(left) + len(up) == len(arrows)
    assert len(right) == num_layers * (seq_len - 1)
    assert len(left) == (num_layers * (seq_len - 1) if bidirectional else 0)
    for a in right:
        (x0, y0), (x1, y1) = ends(a)
        assert x1 > x0 and y1 == y0
    for a in left:
        (x0, y0), (x1, y1) = ends(a)
        assert x1 < x0 and y1 == y0
    # between layers: every row feeds every row of the layer above; the top layer feeds y_t
    assert len(up) == seq_len * (dirs + dirs * dirs * (num_layers - 1) + dirs)
    tops = {(round(b.get_y() + b.get_height(), 9), round(b.get_x(), 9)) for b in boxes}
    bottoms = {(round(b.get_y(), 9), round(b.get_x(), 9)) for b in boxes}
    width = boxes[0].get_width()
    for a in up:
        (x0, y0), (x1, y1) = ends(a)
        assert x1 == x0 and y1 > y0
        column = round(round(x0) - width / 2, 9)      # the box of this time step
        assert (round(y0, 9), column) in tops and (round(y1, 9), column) in bottoms
    plt.close(fig)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_draw_stacked_legend_explains_every_colour_and_covers_nothing(bidirectional: bool
                                                                      ) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgb
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig, axes = plt.subplots(1, 2, figsize=(9.5, 4.4), layout="constrained")
    deep.draw_stacked(axes[0], 2, 4, bidirectional=bidirectional)
    deep.draw_stacked(axes[1], 2, 4, bidirectional=bidirectional, legend=False)
    assert axes[1].get_legend() is None
    legend = axes[0].get_legend()
    handles = legend.legend_handles
    # every fill colour of a box and every colour of an arrow has an entry
    fills = {to_rgb(p.get_facecolor()[:3]) for p in axes[0].patches
             if isinstance(p, FancyBboxPatch)}
    lines = {to_rgb(p.get_edgecolor()[:3]) for p in axes[0].patches
             if isinstance(p, FancyArrowPatch)}
    keyed_fills = {to_rgb(h.get_facecolor()[:3]) for h in handles if hasattr(h, "get_width")}
    keyed_lines = {to_rgb(h.get_color()) for h in handles if hasattr(h, "get_xdata")}
    assert fills == keyed_fills and lines == keyed_lines
    assert len(handles) == (6 if bidirectional else 4)
    # the legend sits below the diagram: above it is nothing but the figure's edge
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    key = legend.get_window_extent(renderer)
    lowest = min(p.get_window_extent(renderer).y0 for p in axes[0].patches)
    assert key.y1 <= lowest
    assert fig.bbox.contains(key.x0, key.y0) and fig.bbox.contains(key.x1, key.y1)
    assert not key.overlaps(axes[1].get_tightbbox(renderer))
    plt.close(fig)


# --------------------------------------------------------------------------- self-checks


def _hn_shape(num_layers: int, bidirectional: bool, batch: int, hidden: int
              ) -> tuple[int, int, int]:
    return (num_layers * (2 if bidirectional else 1), batch, hidden)


def _last(h_n: torch.Tensor, num_layers: int) -> torch.Tensor:
    last = h_n.view(num_layers, 2, h_n.shape[1], h_n.shape[2])[-1]
    return torch.cat([last[0], last[1]], dim=-1)


def test_self_checks_pass_on_correct_answers() -> None:
    assert ch07.check_hn_shape(_hn_shape)
    assert ch07.check_last_layer_states(_last)


def test_self_checks_fail_with_useful_messages() -> None:
    wrong = ch07.check_hn_shape(lambda n, bi, b, h: (b, n * (2 if bi else 1), h))
    assert not wrong and "batch-first" in wrong.message
    wrong = ch07.check_last_layer_states(lambda h_n, n: torch.cat([h_n[0], h_n[1]], dim=-1))
    assert not wrong and "differs" in wrong.message and "view" in wrong.message


def test_self_checks_report_crashes_and_stubs(stub: Callable[..., object]) -> None:
    def crashes(*args: object) -> None:
        raise RuntimeError("boom")

    for check in (ch07.check_hn_shape, ch07.check_last_layer_states,
                  ch07.check_padded_bidirectional):
        result = check(crashes)
        assert not result and "RuntimeError: boom" in result.message
        assert "not implemented" in check(stub).message


def test_noisy_cycle_oracle_nll() -> None:
    import math
    previous = torch.tensor([[0, 5, 2]])
    following = torch.tensor([[1, 0, 4]])                # follows, follows (wraps), jumps
    nll = deep.noisy_cycle_oracle_nll(previous, following, 6, 0.7)
    assert nll.dtype == F64 and nll.shape == (1, 3)
    torch.testing.assert_close(nll, torch.tensor([[-math.log(0.75), -math.log(0.75),
                                                   -math.log(0.05)]], dtype=F64))
    s = deep.noisy_cycle(4000, 30, 6, 0.7, torch.Generator().manual_seed(1))
    mean = deep.noisy_cycle_oracle_nll(s[:, :-1], s[:, 1:]).mean().item()
    assert abs(mean - deep.noisy_cycle_entropy(6, 0.7)) < 0.01   # its expectation
    with pytest.raises(ShapeError, match="one shape"):
        deep.noisy_cycle_oracle_nll(previous, following[:, :2])
    with pytest.raises(ShapeError, match="torch.long"):
        deep.noisy_cycle_oracle_nll(previous.float(), following.float())


# --------------------------------------------------------------------------- new self-checks


def _is_causal(model: nn.Module, x: torch.Tensor) -> bool:
    x = x.clone().requires_grad_(True)
    y = model(x)
    for t in range(x.shape[1] - 1):
        for k in range(y.shape[-1]):
            grad, = torch.autograd.grad(y[:, t, k].sum(), x, retain_graph=True)
            if grad[:, t + 1:].abs().max() > 0:
                return False
    return True


def _causal_variant(which: str) -> Callable[[nn.Module, torch.Tensor], object]:
    """Common wrong answers to exercise 7.3."""
    def answer(model: nn.Module, x: torch.Tensor) -> object:
        x = x.clone().requires_grad_(True)
        y = model(x)
        steps = [x.shape[1] - 1] if which == "last-step" else range(x.shape[1] - 1)
        for t in steps:
            outputs = [y[:, t].sum()] if which == "sum" else [y[:, t, k].sum()
                                                              for k in range(y.shape[-1])]
            for out in outputs:
                grad, = torch.autograd.grad(out, x, retain_graph=True)
                ahead = {"next-only": grad[:, t + 1:t + 2], "present": grad[:, t:]}.get(
                    which, grad[:, t + 1:])
                tol = {"loose": 1e-2, "sum": 1e-6}.get(which, 0.0)
                if ahead.numel() and ahead.abs().max() > tol:
                    return 0 if which == "int" else False
        return 1 if which == "int" else True
    return answer


@pytest.mark.parametrize("which,message", [
    ("present", "never s = t"),
    ("last-step", "not only the last one"),
    ("next-only", "not only s = t + 1"),
    ("sum", "gradient of their *sum* is zero"),
    ("loose", "do not compare with a loose tolerance"),
    ("int", "should return True or False, got int"),
])
def test_check_is_causal_names_each_mistake(which: str, message: str) -> None:
    assert ch07.check_is_causal(_is_causal)
    for _ in range(2):                                   # random cases: the same verdict
        result = ch07.check_is_causal(_causal_variant(which))
        assert not result and message in result.message, result.message


def test_check_is_causal_accepts_a_boolean_tensor() -> None:
    assert ch07.check_is_causal(lambda m, x: torch.tensor(_is_causal(m, x)))


def _padded(x: torch.Tensor, lengths: torch.Tensor, fwd: nn.GRU, bwd: nn.GRU) -> torch.Tensor:
    out = x.new_zeros(x.shape[0], x.shape[1], 2 * fwd.hidden_size)
    for b, n in enumerate(lengths.tolist()):
        real = x[b:b + 1, :n]
        out[b, :n] = torch.cat([fwd(real)[0], bwd(real.flip(1))[0].flip(1)], dim=-1)[0]
    return out


def _padded_variant(which: str) -> Callable[..., object]:
    def answer(x: torch.Tensor, lengths: torch.Tensor, fwd: nn.GRU, bwd: nn.GRU) -> object:
        if which == "flip":
            return torch.cat([fwd(x)[0], bwd(x.flip(1))[0].flip(1)], dim=-1)
        right = _padded(x, lengths, fwd, bwd)
        if which == "pads-not-zero":
            valid = torch.arange(x.shape[1])[None, :] < lengths[:, None]
            return torch.where(valid[..., None], right, torch.ones_like(right))
        if which == "backward-not-realigned":
            out = right.clone()
            for b, n in enumerate(lengths.tolist()):
                out[b, :n, fwd.hidden_size:] = bwd(x[b:b + 1, :n].flip(1))[0][0]
            return out
        if which == "list":
            return right.tolist()
        return right[:, :, :fwd.hidden_size]             # "forward-only"
    return answer


@pytest.mark.parametrize("which,message", [
    ("flip", "is what x.flip(1) gives"),
    ("pads-not-zero", "there it should be 0"),
    ("backward-not-realigned", "the forward half is right, the backward half"),
    ("forward-only", "should have shape"),
    ("list", "should return a tensor, got list"),
])
def test_check_padded_bidirectional_names_each_mistake(which: str, message: str) -> None:
    assert ch07.check_padded_bidirectional(_padded)
    result = ch07.check_padded_bidirectional(_padded_variant(which))
    assert not result and message in result.message, result.message


@pytest.mark.parametrize("acc_ln,acc_lstm,message", [
    (0.52, 0.98, None),
    (None, 0.98, "not attempted"),
    (None, None, "not attempted"),
    (52.0, 98.0, "not a percentage"),
    (0.98, 0.52, "look swapped"),
    (0.8, 0.98, "layer_norm=False"),
    (0.2, 0.98, "below chance"),
    (0.5, 0.7, "train longer"),
    ("0.5", 0.98, "should be a number"),
    (True, 0.98, "should be a number"),
    (float("nan"), 0.98, "finite"),
    (-0.1, 0.98, "lies in [0, 1]"),
])
def test_check_magnitude_experiment(acc_ln: object, acc_lstm: object, message: str | None
                                    ) -> None:
    result = ch07.check_magnitude_experiment(acc_ln, acc_lstm)
    if message is None:
        assert result
    else:
        assert not result and message in result.message, result.message
    if acc_ln is None:
        assert not result.attempted


def test_check_magnitude_experiment_accepts_tensors_and_numpy() -> None:
    import numpy as np
    assert ch07.check_magnitude_experiment(torch.tensor(0.5), np.float32(0.95))


def test_new_self_checks_report_crashes_and_stubs(stub: Callable[..., object]) -> None:
    def crashes(*args: object) -> None:
        raise RuntimeError("boom")

    for check in (ch07.check_is_causal, ch07.check_padded_bidirectional):
        result = check(crashes)
        assert not result and "RuntimeError: boom" in result.message
        result = check(stub)
        assert not result and "not implemented" in result.message and not result.attempted
