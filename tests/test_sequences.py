"""Tests of rnncourse.sequences (chapter 1) and of the chapter's exercise self-checks."""

import math
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors  # noqa: E402
import matplotlib.patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from rnncourse import sequences as sq  # noqa: E402
from rnncourse.exercises import ch01  # noqa: E402
from rnncourse.plotting import PALETTE, use_style  # noqa: E402
from rnncourse.validation import ShapeError  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Toy data
# ---------------------------------------------------------------------------------------------


def test_encode_text_round_trips():
    ids, vocab = sq.encode_text("abca")
    assert ids.dtype == torch.long and ids.tolist() == [0, 1, 2, 0] and vocab == ["a", "b", "c"]
    assert "".join(vocab[i] for i in ids) == "abca"
    ids2, _ = sq.encode_text("cab", vocab)
    assert ids2.tolist() == [2, 0, 1]


def test_toy_speech_shape_and_determinism():
    a = sq.toy_speech(0.25, 4000, torch.Generator().manual_seed(0))
    b = sq.toy_speech(0.25, 4000, torch.Generator().manual_seed(0))
    assert a.shape == (1000,) and a.dtype == torch.float32 and torch.equal(a, b)
    assert a.abs().max() < 5 and torch.isfinite(a).all()


def test_toy_time_series_has_a_yearly_cycle():
    temps = sq.toy_time_series(730, torch.Generator().manual_seed(0))
    assert temps.shape == (730,) and temps.dtype == torch.float32
    # Summer (around day 200) is warmer than winter (around day 20) in both years.
    for year in (0, 365):
        assert temps[year + 170:year + 230].mean() > temps[year:year + 50].mean() + 10
    with pytest.raises(ValueError, match="n_days"):
        sq.toy_time_series(0)


def test_melody_and_piano_roll():
    melody = sq.toy_melody()
    assert melody.shape == (16,) and melody.dtype == torch.long
    roll = sq.piano_roll(melody, 60, 69)
    assert roll.shape == (16, 10) and torch.equal(roll.sum(1), torch.ones(16))
    assert torch.equal(roll.argmax(1) + 60, melody)


@pytest.mark.parametrize("call,error,message", [
    pytest.param(lambda: sq.encode_text(""), ValueError,
                 "text must be a non-empty string, got ''", id="text-empty"),
    pytest.param(lambda: sq.encode_text("abz", ["a", "b", "c"]), ValueError,
                 "characters ['z'] of text are not in vocab", id="text-outside-vocab"),
    pytest.param(lambda: sq.toy_speech(-1.0), ValueError,
                 "duration_s must be a positive number of seconds, got -1.0",
                 id="speech-negative-duration"),
    pytest.param(lambda: sq.toy_speech(0.1, 0), ValueError,
                 "sample_rate must be a positive integer, got 0", id="speech-zero-sample-rate"),
    pytest.param(lambda: sq.piano_roll(sq.toy_melody(), 62, 69), ValueError,
                 "pitches must lie in [62, 69], got range [60, 69]", id="roll-pitch-below-low"),
    pytest.param(lambda: sq.piano_roll(sq.toy_melody(), 70, 60), ValueError,
                 "high (60) must be at least low (70)", id="roll-high-below-low"),
    pytest.param(lambda: sq.piano_roll(sq.toy_melody().float(), 60, 69), ShapeError,
                 "integer tensor of shape (seq_len,), got Tensor (16,)", id="roll-float-pitches"),
])
def test_toy_data_rejects_bad_input(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


# ---------------------------------------------------------------------------------------------
# The memory experiment
# ---------------------------------------------------------------------------------------------


def test_running_parity_targets_and_shapes():
    x, y = sq.running_parity(32, 11, torch.Generator().manual_seed(0))
    assert x.shape == (32, 11, 1) and y.shape == (32, 11)
    assert x.dtype == torch.float32 and set(x.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(y, torch.cumsum(x[..., 0], 1) % 2)
    # y_t = x_t XOR y_(t-1): the current bit is included (y_1 = x_1).
    assert torch.equal(y[:, 0], x[:, 0, 0])
    assert torch.equal(y[:, 1:], (x[:, 1:, 0] + y[:, :-1]) % 2)
    x2, _ = sq.running_parity(32, 11, torch.Generator().manual_seed(0))
    assert torch.equal(x, x2)
    with pytest.raises(ValueError, match="seq_len"):
        sq.running_parity(4, 0)


def test_memoryless_baseline_matches_theory_and_simple_cases():
    T = 10
    x, y = sq.running_parity(4000, T, torch.Generator().manual_seed(1))
    base = sq.memoryless_baseline(x, y)
    assert abs(base.accuracy - (0.5 + 0.5 / T)) < 0.01
    # The table cannot know t: for either input it sees the "right" label with p = 1/2 + 1/(2T),
    # so its cross-entropy is the binary entropy of p.
    p = 0.5 + 0.5 / T
    assert abs(base.cross_entropy - (-p * math.log(p) - (1 - p) * math.log(1 - p))) < 0.005
    # When the label is a function of x_t, the lookup table is perfect.
    xb = torch.tensor([[[0.0], [1.0], [1.0]]])
    perfect = sq.memoryless_baseline(xb, xb[..., 0])
    assert perfect.accuracy == 1.0 and perfect.cross_entropy == pytest.approx(0.0, abs=1e-12)
    # Two inputs with conflicting labels: half right, ln 2 nats.
    conflict = sq.memoryless_baseline(torch.zeros(1, 2, 1), torch.tensor([[0.0, 1.0]]))
    assert conflict.accuracy == 0.5 and conflict.cross_entropy == pytest.approx(math.log(2))


@pytest.mark.parametrize("call,error,message", [
    pytest.param(lambda: sq.memoryless_baseline(torch.zeros(2, 3, 1), torch.zeros(2, 4)),
                 ShapeError, "y must have shape (batch=2, seq_len=3), got (2, 4)",
                 id="baseline-y-wrong-length"),
    pytest.param(lambda: sq.memoryless_baseline(torch.zeros(2, 3), torch.zeros(2, 3)),
                 ShapeError, "x must have 3 dimensions (batch, seq_len, input_size), got shape "
                 "(2, 3)", id="baseline-x-2d"),
    pytest.param(lambda: sq.memoryless_baseline(torch.zeros(2, 3, 1), -torch.ones(2, 3)),
                 ValueError, "y must hold class labels 0, 1, 2, ..., got -1",
                 id="baseline-negative-label"),
    pytest.param(lambda: sq.StepMLP(1, 8)(torch.zeros(1, 5, 2)), ShapeError,
                 "input_size=1), got (1, 5, 2): input_size is 2, expected 1",
                 id="step-mlp-wrong-input-size"),
    pytest.param(lambda: sq.RNNTagger(1, 8)(torch.zeros(1, 5, 2)), ShapeError,
                 "input_size=1), got (1, 5, 2): input_size is 2, expected 1",
                 id="tagger-wrong-input-size"),
    pytest.param(lambda: sq.RNNTagger(1, 0), ValueError,
                 "hidden_size must be a positive integer, got 0", id="tagger-zero-hidden"),
])
def test_memory_experiment_rejects_bad_input(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


def test_step_mlp_has_no_memory_and_rnn_tagger_does():
    torch.manual_seed(0)
    mlp, rnn = sq.StepMLP(1, 8), sq.RNNTagger(1, 8)
    x = torch.zeros(1, 5, 1)
    x_changed = x.clone()
    x_changed[0, 0, 0] = 1.0                        # change only the first step
    out_a, out_b = mlp(x), mlp(x_changed)
    assert out_a.shape == (1, 5, 1)
    assert torch.equal(out_a[:, 1:], out_b[:, 1:])  # later outputs cannot notice
    logits, states = rnn(x, return_hidden=True)
    assert logits.shape == (1, 5, 1) and states.shape == (1, 5, 8)
    assert not torch.allclose(rnn(x)[:, 1:], rnn(x_changed)[:, 1:])


# ---------------------------------------------------------------------------------------------
# The recurrence
# ---------------------------------------------------------------------------------------------


def _cell_and_weights(nonlinearity="tanh"):
    torch.manual_seed(0)
    cell = nn.RNNCell(3, 4, nonlinearity=nonlinearity)
    b = (cell.bias_ih + cell.bias_hh).detach()
    return cell, cell.weight_ih.detach(), cell.weight_hh.detach(), b


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_step_matches_rnn_cell(nonlinearity):
    cell, W_xh, W_hh, b = _cell_and_weights(nonlinearity)
    x, h = torch.randn(5, 3), torch.randn(5, 4)
    assert torch.allclose(sq.rnn_step(x, h, W_xh, W_hh, b, nonlinearity), cell(x, h), atol=1e-6)


def _step(x=None, h=None, b=None, nonlinearity="tanh"):
    """rnn_step on a (5, 3) input and (5, 4) state, with any argument replaced."""
    _, W_xh, W_hh, b_h = _cell_and_weights()
    x = torch.randn(5, 3) if x is None else x
    h = torch.randn(5, 4) if h is None else h
    return sq.rnn_step(x, h, W_xh, W_hh, b_h if b is None else b, nonlinearity)


@pytest.mark.parametrize("call,error,message", [
    pytest.param(lambda: _step(nonlinearity="sigmoid"), ValueError,
                 "nonlinearity must be 'tanh' or 'relu', got 'sigmoid'", id="step-sigmoid"),
    pytest.param(lambda: _step(x=torch.randn(5, 2)), ShapeError,
                 "x_t must have shape (batch, input_size=3), got (5, 2)", id="step-x-width"),
    pytest.param(lambda: _step(h=torch.randn(4, 4)), ShapeError,
                 "h_prev must have shape (batch=5, hidden_size=4), got (4, 4)",
                 id="step-h-batch"),
    pytest.param(lambda: _step(b=torch.zeros(3)), ShapeError,
                 "bias must have shape (hidden_size=4), got (3,)", id="step-bias-length"),
    pytest.param(lambda: _step(x=torch.ones(5, 3, dtype=torch.long)), TypeError,
                 "x_t must be floating point (float32 or float64), got dtype torch.int64",
                 id="step-integer-x"),
    pytest.param(lambda: sq.count_parameters("rnn"), TypeError,
                 "module must be a torch.nn.Module, got str", id="count-not-a-module"),
    pytest.param(lambda: sq.window_mlp_param_count(0, 3, 8), ValueError,
                 "seq_len must be a positive integer, got 0", id="window-zero-length"),
    pytest.param(lambda: sq.input_sensitivity(nn.RNN(2, 5), torch.zeros(1, 4, 2)), TypeError,
                 "torch.nn.RNN with batch_first=True", id="sensitivity-time-major"),
    pytest.param(lambda: sq.input_sensitivity(nn.LSTM(2, 5, batch_first=True),
                                              torch.zeros(1, 4, 2)), TypeError,
                 "rnn must be a single-layer, unidirectional torch.nn.RNN",
                 id="sensitivity-lstm"),
    pytest.param(lambda: sq.input_sensitivity(nn.RNN(2, 5, batch_first=True),
                                              torch.zeros(1, 4, 3)), ShapeError,
                 "input_size is 3, expected 2", id="sensitivity-wrong-input-size"),
    pytest.param(lambda: sq.decay_per_step(torch.tensor([1.0, 0.0, 0.5])), ValueError,
                 "values must hold at least 2 positive numbers", id="decay-zero"),
    pytest.param(lambda: sq.decay_per_step(torch.ones(2, 3)), ShapeError,
                 "values must have 1 dimensions", id="decay-2d"),
])
def test_recurrence_rejects_bad_input(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


def test_unroll_matches_nn_rnn():
    torch.manual_seed(0)
    rnn = nn.RNN(3, 6, batch_first=True)
    x, h0 = torch.randn(2, 9, 3), torch.randn(2, 6)
    output, h_n = rnn(x, h0[None])
    b = rnn.bias_ih_l0 + rnn.bias_hh_l0
    mine = sq.unroll(x, h0, rnn.weight_ih_l0, rnn.weight_hh_l0, b)
    assert mine.shape == (2, 9, 6)
    assert torch.allclose(mine, output, atol=1e-6) and torch.allclose(mine[:, -1], h_n[0])
    with pytest.raises(ShapeError, match="3 dimensions"):
        sq.unroll(torch.randn(9, 3), h0, rnn.weight_ih_l0, rnn.weight_hh_l0, b)


def test_parameter_counts():
    rnn = nn.RNN(3, 8)
    assert sq.count_parameters(rnn) == 3 * 8 + 8 * 8 + 2 * 8
    frozen = nn.Linear(2, 2)
    frozen.bias.requires_grad_(False)
    assert sq.count_parameters(frozen) == 4
    mlp = nn.Sequential(nn.Linear(5 * 3, 8), nn.Tanh(), nn.Linear(8, 2))
    assert sq.window_mlp_param_count(5, 3, 8, 2) == sq.count_parameters(mlp)
    assert sq.window_mlp_param_count(6, 3, 8, 2) - sq.window_mlp_param_count(5, 3, 8, 2) == 24


def test_input_sensitivity_matches_autograd_and_decays():
    torch.manual_seed(0)
    rnn = nn.RNN(2, 5, batch_first=True)
    x = torch.randn(3, 12, 2, generator=torch.Generator().manual_seed(3))
    sens = sq.input_sensitivity(rnn, x)
    assert sens.shape == (12,) and sens.dtype == torch.float64
    # Reference: the full Jacobian of every h_t with respect to x_1, by reverse mode, one
    # sequence at a time; the function returns the root mean square over the batch.
    squares = []
    for b in range(3):
        jac = torch.autograd.functional.jacobian(lambda inp: rnn(inp)[0][0], x[b:b + 1])
        squares.append(jac[:, :, 0, 0, :].pow(2).sum(dim=(1, 2)))   # (12,)
    want = torch.stack(squares).mean(0).sqrt()
    assert torch.allclose(sens.float(), want, rtol=1e-4, atol=1e-7)
    assert sens[-1] < sens[0]


def test_input_sensitivity_of_a_linear_rnn_follows_the_eigenvalue():
    # A "linear" RNN (tanh in its linear range: tiny weights) with W_hh = 0.5 * rotation decays
    # by 0.5 per step; decay_per_step recovers the factor.
    rnn = nn.RNN(1, 2, batch_first=True)
    with torch.no_grad():
        c, s = math.cos(0.3), math.sin(0.3)
        rnn.weight_hh_l0.copy_(0.5 * torch.tensor([[c, -s], [s, c]]))
        rnn.weight_ih_l0.fill_(1e-3)
        rnn.bias_ih_l0.zero_()
        rnn.bias_hh_l0.zero_()
    sens = sq.input_sensitivity(rnn, torch.zeros(1, 15, 1))
    assert sq.decay_per_step(sens) == pytest.approx(0.5, rel=1e-4)


def test_decay_per_step_fits_a_geometric_sequence():
    assert sq.decay_per_step(torch.tensor([1.0, 0.5, 0.25])) == pytest.approx(0.5)
    values = 3.0 * 0.8 ** torch.arange(1, 21, dtype=torch.float64)
    assert sq.decay_per_step(values) == pytest.approx(0.8)
    assert sq.decay_per_step(torch.tensor([2.0, 4.0])) == pytest.approx(2.0)


# ---------------------------------------------------------------------------------------------
# Input/output patterns
# ---------------------------------------------------------------------------------------------

_SHAPES = {"1:1": ((4, 3), None, (4, 2)), "1:N": ((4, 3), 5, (4, 5, 2)),
           "N:1": ((4, 7, 3), None, (4, 2)), "N:N": ((4, 7, 3), None, (4, 7, 2)),
           "N:M": ((4, 7, 3), 5, (4, 5, 2))}


@pytest.mark.parametrize("pattern", list(_SHAPES))
def test_pattern_rnn_shapes(pattern):
    torch.manual_seed(0)
    shape, n_out, want = _SHAPES[pattern]
    model = sq.PatternRNN(pattern, 3, 6, 2)
    y = model(torch.randn(*shape), n_out=n_out)
    assert y.shape == want and torch.isfinite(y).all()
    y.sum().backward()                              # differentiable end to end
    assert model.rnn.weight_hh_l0.grad is not None


def test_pattern_rnn_semantics():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 3)
    n1 = sq.PatternRNN("N:1", 3, 6, 2)
    output, h_n = n1.rnn(x)
    assert torch.allclose(n1(x), n1.head(h_n[-1]))
    nn_ = sq.PatternRNN("N:N", 3, 6, 2)
    assert torch.allclose(nn_(x), nn_.head(nn_.rnn(x)[0]))
    one_n = sq.PatternRNN("1:N", 3, 6, 2)
    assert torch.allclose(one_n(x[:, 0], n_out=1)[:, 0], one_n.head(one_n.rnn(x[:, :1])[0][:, 0]))
    # N:M: the decoder depends on the input only through the encoder's final state.
    nm = sq.PatternRNN("N:M", 3, 6, 2)
    assert nm.decoder is not None and n1.decoder is None
    x_other = x.clone()
    x_other[:, 0] += 1.0
    assert not torch.allclose(nm(x, n_out=3), nm(x_other, n_out=3))


@pytest.mark.parametrize("call,error,message", [
    pytest.param(lambda: sq.PatternRNN("2:3", 3, 6, 2), ValueError,
                 "pattern must be one of ['1:1', '1:N', 'N:1', 'N:N', 'N:M'], got '2:3'",
                 id="unknown-pattern"),
    pytest.param(lambda: sq.PatternRNN("1:N", 3, 6, 2)(torch.randn(4, 3)), ValueError,
                 "n_out must be a positive integer, got None", id="1:N-without-n_out"),
    pytest.param(lambda: sq.PatternRNN("N:1", 3, 6, 2)(torch.randn(4, 7, 3), n_out=2),
                 ValueError, "n_out is only used by patterns 1:N and N:M, not N:1",
                 id="N:1-with-n_out"),
    pytest.param(lambda: sq.PatternRNN("1:1", 3, 6, 2)(torch.randn(4, 7, 3)), ShapeError,
                 "x must have 2 dimensions (batch, input_size=3), got shape (4, 7, 3)",
                 id="1:1-given-a-sequence"),
    pytest.param(lambda: sq.PatternRNN("N:N", 3, 6, 2)(torch.randn(4, 7, 4)), ShapeError,
                 "input_size=3), got (4, 7, 4): input_size is 4, expected 3",
                 id="N:N-wrong-input-size"),
])
def test_pattern_rnn_errors(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


def test_io_patterns_table():
    assert list(sq.IO_PATTERNS) == ["1:1", "1:N", "N:1", "N:N", "N:M"]
    assert [p.aligned for p in sq.IO_PATTERNS.values()] == [True, True, True, True, False]
    for name, p in sq.IO_PATTERNS.items():
        assert p.name == name and p.example


# ---------------------------------------------------------------------------------------------
# Diagrams
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_in,n_out,aligned,steps", [(1, 1, True, 1), (1, 4, True, 4),
                                                      (4, 1, True, 4), (4, 4, True, 4),
                                                      (3, 4, False, 7)])
def test_draw_unrolled_draws_one_box_per_element(n_in, n_out, aligned, steps):
    fig, ax = plt.subplots()
    counts = sq.draw_unrolled(ax, n_in, n_out, aligned, title="t", show_weights=True)
    feedback = 0 if aligned else n_out - 1
    assert counts == {"steps": steps, "inputs": n_in, "hidden": steps, "outputs": n_out,
                      "feedback": feedback}
    boxes = n_in + steps + n_out
    arrows = n_in + n_out + steps - 1 + feedback    # input, output, recurrent, fed-back arrows
    assert len(ax.patches) == boxes + arrows
    assert not ax.axison and ax.get_title() == "t"
    labels = [t.get_text() for t in ax.texts]
    assert labels.count("$W_{hh}$") == steps - 1 and labels.count("$W_{xh}$") == n_in
    plt.close(fig)


def _centres(ax, kind):
    """Centres of the boxes of one colour (e.g. the outputs) and of the feedback arrows."""
    if kind == "feedback":
        return [p for p in ax.patches if p.get_gid() == "feedback"]
    colour = matplotlib.colors.to_rgba(PALETTE[kind], alpha=0.9)
    return sorted((round(p.get_x() + p.get_width() / 2, 6), round(p.get_y() + p.get_height() / 2,
                                                                  6))
                  for p in ax.patches if isinstance(p, matplotlib.patches.FancyBboxPatch)
                  and matplotlib.colors.same_color(p.get_facecolor(), colour))


def test_encoder_decoder_feeds_each_output_to_the_next_decoder_step():
    fig, ax = plt.subplots()
    sq.draw_unrolled(ax, 3, 4, aligned=False)
    outputs, decoder = _centres(ax, "green"), _centres(ax, "sky")
    arrows = _centres(ax, "feedback")
    assert len(outputs) == len(decoder) == 4 and len(arrows) == 3
    for k, patch in enumerate(arrows):
        (x0, y0), (x1, y1) = patch._posA_posB
        # from just below y_k to just above s_(k+1), one column to the right
        assert abs(x0 - outputs[k][0]) < sq._BOX_W / 2 and y0 < outputs[k][1]
        assert abs(x1 - decoder[k + 1][0]) < sq._BOX_W / 2 and y1 > decoder[k + 1][1]
        assert patch.get_linestyle() == "--"
    # aligned patterns feed nothing back
    fig2, ax2 = plt.subplots()
    sq.draw_unrolled(ax2, 1, 4)
    assert not _centres(ax2, "feedback")
    plt.close(fig)
    plt.close(fig2)


@pytest.fixture
def course_style():
    """The notebooks draw in the course style (sizes, constrained layout); so do these tests."""
    saved = matplotlib.rcParams.copy()
    use_style()
    yield
    matplotlib.rcParams.update(saved)


def _titles_fit(fig):
    """Every axes title lies inside its axes (no clipping, no overlap with a neighbour)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    spans = []
    for ax in fig.axes:
        if ax.get_title():
            title, frame = ax.title.get_window_extent(renderer), ax.get_window_extent(renderer)
            assert frame.x0 - 1 <= title.x0 and title.x1 <= frame.x1 + 1, ax.get_title()
            assert 0 <= title.x0 and title.x1 <= fig.bbox.x1
            spans.append((title.x0, title.x1, title.y0, title.y1))
    for i, a in enumerate(spans):
        for b in spans[i + 1:]:
            assert a[1] <= b[0] or b[1] <= a[0] or a[3] <= b[2] or b[3] <= a[2], "titles overlap"


@pytest.mark.parametrize("n_steps", [1, 2, 4, 7])
def test_folded_unrolled_titles_fit(n_steps, course_style):
    fig = sq.folded_unrolled_figure(n_steps)
    _titles_fit(fig)
    plt.close(fig)


def test_io_patterns_titles_fit_and_key_names_the_feedback(course_style):
    fig = sq.io_patterns_figure()
    _titles_fit(fig)
    assert any("fed back" in t.get_text() for ax in fig.axes for t in ax.texts)
    plt.close(fig)


def test_draw_unrolled_rejects_bad_sizes():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="n_in must be a positive integer"):
        sq.draw_unrolled(ax, 0, 2)
    plt.close(fig)


def test_figures_build():
    fig = sq.folded_unrolled_figure(3)
    assert len(fig.axes) == 2
    plt.close(fig)
    fig = sq.io_patterns_figure()
    titles = [ax.get_title() for ax in fig.axes]
    assert sum(t.split("\n")[0] in sq.IO_PATTERNS for t in titles) == 5
    plt.close(fig)
    fig, ax = plt.subplots()
    sq.draw_folded(ax, "folded")
    assert len(ax.patches) == 3 + 3 and ax.get_title() == "folded"
    plt.close(fig)
    with pytest.raises(ValueError, match="n_steps"):
        sq.folded_unrolled_figure(0)


# ---------------------------------------------------------------------------------------------
# Exercise self-checks
# ---------------------------------------------------------------------------------------------

_RIGHT_PATTERNS = {task: ch01._PATTERN_ANSWERS[task][0] for task in ch01.PATTERN_TASKS}


def test_check_patterns():
    assert ch01.check_patterns(_RIGHT_PATTERNS)
    relaxed = {task: f" {p.lower()} " for task, p in _RIGHT_PATTERNS.items()}
    assert ch01.check_patterns(relaxed)             # case and spaces do not matter
    wrong = dict(_RIGHT_PATTERNS, **{"translate an English sentence into French": "N:N"})
    result = ch01.check_patterns(wrong)
    assert not result and "8 of 9 right" in result.message and "not N:N" in result.message
    assert "N:M" not in result.message.split("hint")[0]   # does not give the answer away
    partial = dict(list(_RIGHT_PATTERNS.items())[:3])
    assert "no answer yet" in ch01.check_patterns(partial).message
    invalid = dict(_RIGHT_PATTERNS, **{"write a caption for a photo": "one-to-many"})
    assert "use one of" in ch01.check_patterns(invalid).message
    assert "should be a dict" in ch01.check_patterns(["1:1"]).message


def _window(x, k):
    return ch01._reference_window(x, k)


def _predict(k, T):
    return ch01._reference_window_accuracy(k, T)


def test_reference_window_and_prediction_agree_with_the_lookup_table():
    # The prediction is what chapter 1's memoryless_baseline measures on windowed inputs.
    x, y = sq.running_parity(3000, 12, torch.Generator().manual_seed(0))
    for k in (1, 3, 5, 12, 15):
        measured = sq.memoryless_baseline(_window(x, k), y).accuracy
        assert abs(measured - _predict(k, 12)) < 0.01, k
    window = _window(torch.tensor([[[1.0], [0.0], [1.0]]]), 2)
    assert window[0].tolist() == [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]


def test_check_window():
    assert ch01.check_window(_window, _predict)
    assert ch01.check_window(lambda x, k: _window(x, k).flip(-1), _predict)   # column order
    assert ch01.check_window(_window, lambda k, T: torch.tensor(_predict(k, T)))

    def rolled(x, k):
        return torch.cat([torch.roll(x, j, dims=1) for j in range(k - 1, -1, -1)], dim=2)

    def shifted(x, k):
        return _window(torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], dim=1), k)

    def ahead(x, k):
        return _window(x.flip(1), k).flip(1)

    def in_place(x, k):
        x[:, 0] = 0.0
        return _window(x, k)

    for wrong, message in [(rolled, "torch.roll wraps around"), (shifted, "off by one"),
                           (ahead, "looks ahead"), (in_place, "in place"),
                           (lambda x, k: x, "should have shape"),
                           (lambda x, k: x.repeat(1, 1, k), "is wrong for x =")]:
        for _ in range(3):                            # random cases: every draw names it
            result = ch01.check_window(wrong, _predict)
            assert not result and message in result.message, (message, result.message)
    for wrong, message in [(lambda k, T: min(k, T) / T, "right half the time"),
                           (lambda k, T: 0.5 + 0.5 / T, "memoryless (k = 1) value"),
                           (lambda k, T: 0.5 + min(k - 1, T) / (2 * T), "off by one"),
                           (lambda k, T: min(1.0, 0.5 + min(k, T) / T), "not 1/T"),
                           (lambda k, T: 0.5 + k / (2 * T), "stops at 1"),
                           (lambda k, T: 0.7, "not the best accuracy"),
                           (lambda k, T: None, "should be a number"),
                           (lambda k, T: "high", "should be a number")]:
        result = ch01.check_window(_window, wrong)
        assert not result and message in result.message, (message, result.message)

    def not_implemented(*args):
        raise NotImplementedError

    assert "not implemented yet" in ch01.check_window(not_implemented, not_implemented).message
    assert "should be a function" in ch01.check_window(42, _predict).message
    assert "should be a function" in ch01.check_window(_window, [0.5]).message


def test_check_window_leaves_the_global_random_state_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    ch01.check_window(_window, _predict)
    assert torch.equal(torch.rand(3), expected)


_PARITY = {"weight_ih": [[1.0], [1.0]], "weight_hh": [[1.0, -1.0], [1.0, -1.0]],
           "bias": [-0.5, -1.5], "weight_ho": [[1.0, -1.0]], "bias_o": [-0.5]}


def test_check_parity_rnn_accepts_right_networks():
    assert ch01.check_parity_rnn(_PARITY)
    # flat lists, scalars and tensors are fine; so is any other exact solution (scaled weights)
    assert ch01.check_parity_rnn(dict(_PARITY, weight_ho=[1, -1], bias_o=-0.5))
    assert ch01.check_parity_rnn({k: 3.0 * torch.tensor(v) for k, v in _PARITY.items()})


@pytest.mark.parametrize("change,message", [
    pytest.param({"weight_ho": [[-1.0, 1.0]], "bias_o": [0.5]}, "inverted", id="inverted"),
    pytest.param({"weight_hh": [[0.0, 0.0], [0.0, 0.0]]}, "x_t itself", id="memoryless"),
    pytest.param({"weight_hh": [[1.0, 0.0], [0.0, 0.0]], "weight_ho": [[1.0, 0.0]]},
                 "an OR that never resets", id="or-latch"),
    pytest.param({"bias_o": [5.0]}, "always 1", id="constant-1"),
    pytest.param({"bias_o": [-5.0]}, "always 0", id="constant-0"),
    pytest.param({"weight_hh": [[1.0, 0.0], [1.0, 0.0]]}, "wrong at step", id="unnamed"),
])
def test_check_parity_rnn_names_the_mistake(change, message):
    result = ch01.check_parity_rnn(dict(_PARITY, **change))
    assert not result and message in result.message, result.message


def test_check_parity_rnn_leaves_the_global_random_state_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    ch01.check_parity_rnn(_PARITY)
    assert torch.equal(torch.rand(3), expected)


def test_check_parity_rnn_candidates_cover_the_named_mistakes():
    # The off-by-one and last-two-bits candidates are what their names say.
    bits = torch.tensor([[1.0, 1.0, 0.0, 1.0]])
    candidates = ch01._parity_candidates(bits)
    assert candidates["right"].tolist() == [[1.0, 0.0, 0.0, 1.0]]
    assert candidates["off by one"].tolist() == [[0.0, 1.0, 0.0, 0.0]]
    assert candidates["last two"].tolist() == [[1.0, 0.0, 1.0, 1.0]]


@pytest.mark.parametrize("weights,message", [
    pytest.param(None, "not answered yet", id="none"),
    pytest.param("abc", "should be a dict", id="string"),
    pytest.param({"weight_ih": [[1.0], [1.0]]}, "has no weight_hh", id="missing-keys"),
    pytest.param(dict(_PARITY, bias=[1.0, 2.0, 3.0]), "shape (2,), got (3,)", id="bias-shape"),
    pytest.param(dict(_PARITY, bias="ab"), "should be numbers of shape (2,)", id="bias-text"),
    pytest.param(dict(_PARITY, bias=[float("nan"), 0.0]), "NaN", id="bias-nan"),
])
def test_check_parity_rnn_bad_input_does_not_raise(weights, message):
    result = ch01.check_parity_rnn(weights)
    assert not result and message in result.message, result.message


def _readout(output, lengths, pattern):
    return ch01._reference_readout(output, lengths, pattern)


def test_check_readout():
    assert ch01.check_readout(_readout)

    def last_padded(output, lengths, pattern):
        return output[:, -1] if pattern == "N:1" else output

    assert "last *padded* step" in ch01.check_readout(last_padded).message

    def in_place(output, lengths, pattern):
        output[:, 0] = 0.0
        return _readout(output, lengths, pattern)

    assert "in place" in ch01.check_readout(in_place).message

    def no_mask(output, lengths, pattern):
        return _readout(output, lengths, "N:1") if pattern == "N:1" else output.clone()

    result = ch01.check_readout(no_mask)
    assert not result and "N:N" in result.message

    def off_by_one(output, lengths, pattern):
        return output[torch.arange(output.shape[0]), lengths]

    crashed = ch01.check_readout(off_by_one)
    assert not crashed and "IndexError" in crashed.message and "off_by_one" in crashed.message

    def not_implemented(output, lengths, pattern):
        raise NotImplementedError

    assert "not implemented yet" in ch01.check_readout(not_implemented).message
    assert "should be a function" in ch01.check_readout(42).message
