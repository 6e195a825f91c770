"""Tests of rnncourse.deep (chapter 7) and its exercise self-checks."""

from __future__ import annotations

import warnings

import matplotlib
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from rnncourse import deep
from rnncourse.exercises import ch07
from rnncourse.validation import ShapeError

matplotlib.use("Agg")


def _cell_pair(dtype: torch.dtype, bias: bool = True
               ) -> tuple[deep.LayerNormLSTMCell, nn.LSTMCell]:
    torch.manual_seed(0)
    ref = nn.LSTMCell(3, 5, bias=bias).to(dtype)
    cell = deep.LayerNormLSTMCell(3, 5, bias=bias, layer_norm=False).to(dtype)
    cell.load_state_dict(ref.state_dict())
    return cell, ref


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-6), (torch.float64, 1e-12)])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_without_layer_norm_is_torch_lstm_cell(dtype: torch.dtype, tol: float,
                                                    bias: bool) -> None:
    cell, ref = _cell_pair(dtype, bias)
    x = torch.randn(4, 3, dtype=dtype)
    state = (torch.randn(4, 5, dtype=dtype), torch.randn(4, 5, dtype=dtype))
    h, c = cell(x, state)
    h_ref, c_ref = ref(x, state)
    assert (h - h_ref).abs().max() <= tol and (c - c_ref).abs().max() <= tol
    # zero state by default, and unbatched input
    assert torch.allclose(cell(x)[0], ref(x)[0], atol=tol, rtol=0)
    assert torch.allclose(cell(x[0])[0], ref(x[0])[0], atol=tol, rtol=0)
    assert cell(x[0], (state[0][0], state[1][0]))[1].shape == (5,)


def test_layer_norm_function_matches_torch() -> None:
    z = torch.randn(6, 12, dtype=torch.float64) * 3 + 2
    g, b = torch.randn(12, dtype=torch.float64), torch.randn(12, dtype=torch.float64)
    assert torch.allclose(deep.layer_norm(z, g, b), F.layer_norm(z, (12,), g, b, 1e-5),
                          atol=1e-12)
    with pytest.raises(TypeError, match="torch.Tensor"):
        deep.layer_norm([1.0, 2.0])  # type: ignore[arg-type]


def test_normalised_preactivations_have_mean_zero_unit_variance() -> None:
    torch.manual_seed(1)
    cell = deep.LayerNormLSTMCell(3, 8).double()
    x, h = torch.randn(5, 3, dtype=torch.float64) * 10, torch.randn(5, 8, dtype=torch.float64)
    for a in cell.preactivations(x, h):
        assert a.shape == (5, 32)
        assert a.mean(-1).abs().max() < 1e-12
        assert (a.var(-1, unbiased=False) - 1).abs().max() < 1e-3


def test_layer_norm_cell_is_invariant_to_input_scale() -> None:
    torch.manual_seed(2)
    cell = deep.LayerNormLSTMCell(3, 4).double()
    x = torch.randn(2, 3, dtype=torch.float64)
    h1, _ = cell(10 * x)
    h2, _ = cell(1000 * x)  # equal up to the effect of eps on the variance
    assert torch.allclose(h1, h2, atol=1e-5)


def test_layer_norm_cell_gradients_pass_gradcheck() -> None:
    torch.manual_seed(3)
    cell = deep.LayerNormLSTMCell(3, 4).double()
    with torch.no_grad():
        for name, p in cell.named_parameters():
            if name.startswith("ln_"):
                p.add_(0.3 * torch.randn_like(p))
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    c = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, h, c: cell(x, (h, c)), (x, h, c))
    params = dict(cell.named_parameters())

    def by_weights(*values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.func.functional_call(cell, dict(zip(params, values)), (x.detach(),
                                                                            (h.detach(),
                                                                             c.detach())))

    weights = tuple(p.detach().clone().requires_grad_(True) for p in params.values())
    assert torch.autograd.gradcheck(by_weights, weights)


@pytest.mark.parametrize("batch_first", [False, True])
def test_layer_without_norm_equals_torch_lstm(batch_first: bool) -> None:
    torch.manual_seed(4)
    ref = nn.LSTM(3, 6, num_layers=3, batch_first=batch_first).double()
    ours = deep.LayerNormLSTM(3, 6, num_layers=3, batch_first=batch_first,
                              layer_norm=False).double()
    ours.load_lstm_weights(ref)
    x = torch.randn(2, 7, 3, dtype=torch.float64)
    if not batch_first:
        x = x.transpose(0, 1)
    h0, c0 = torch.randn(3, 2, 6, dtype=torch.float64), torch.randn(3, 2, 6, dtype=torch.float64)
    out, (h_n, c_n) = ours(x, (h0, c0))
    out_r, (h_r, c_r) = ref(x, (h0, c0))
    for a, b in ((out, out_r), (h_n, h_r), (c_n, c_r)):
        assert a.shape == b.shape and (a - b).abs().max() < 1e-12
    # unbatched input, default zero state
    out_u, (h_u, _) = ours(x[:, 0] if not batch_first else x[0])
    out_ru, (h_ru, _) = ref(x[:, 0] if not batch_first else x[0])
    assert out_u.shape == out_ru.shape and torch.allclose(out_u, out_ru, atol=1e-12)
    assert torch.allclose(h_u, h_ru, atol=1e-12)
    out_u2, _ = ours(x[:, 0] if not batch_first else x[0], (h0[:, 0], c0[:, 0]))
    assert out_u2.shape == out_ru.shape


def test_layer_dropout_warning_and_modes() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        deep.LayerNormLSTM(2, 3, num_layers=1, dropout=0.5)
    assert any("num_layers greater than 1" in str(w.message) for w in caught)
    torch.manual_seed(5)
    layer = deep.LayerNormLSTM(2, 8, num_layers=2, dropout=0.5)
    x = torch.randn(4, 3, 2)
    layer.train()
    assert not torch.allclose(layer(x)[0], layer(x)[0])
    layer.eval()
    assert torch.equal(layer(x)[0], layer(x)[0])


def test_layer_errors() -> None:
    layer = deep.LayerNormLSTM(3, 4, num_layers=2)
    with pytest.raises(ShapeError, match="input_size=3"):
        layer(torch.randn(5, 2, 4))
    with pytest.raises(ShapeError, match="num_layers=2"):
        layer(torch.randn(5, 2, 3), (torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)))
    with pytest.raises(TypeError, match="tuple"):
        layer(torch.randn(5, 2, 3), torch.zeros(2, 2, 4))  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match="num_layers"):
        layer(torch.randn(5, 3), (torch.zeros(1, 4), torch.zeros(1, 4)))
    with pytest.raises(TypeError, match="floating"):
        layer(torch.zeros(5, 2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="dropout"):
        deep.LayerNormLSTM(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="num_layers"):
        deep.LayerNormLSTM(3, 4, num_layers=0)
    with pytest.raises(ValueError, match="sizes differ"):
        layer.load_lstm_weights(nn.LSTM(3, 4, num_layers=2, bidirectional=True))
    with pytest.raises(TypeError, match="nn.LSTM"):
        layer.load_lstm_weights(nn.GRU(3, 4, num_layers=2))  # type: ignore[arg-type]
    cell = deep.LayerNormLSTMCell(3, 4)
    with pytest.raises(ShapeError, match="input_size=3"):
        cell(torch.randn(2, 5))
    with pytest.raises(ShapeError, match="hidden_size=4"):
        cell(torch.randn(2, 3), (torch.zeros(2, 5), torch.zeros(2, 4)))
    with pytest.raises(TypeError, match="tuple"):
        cell(torch.randn(2, 3), torch.zeros(2, 4))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="hidden_size"):
        deep.LayerNormLSTMCell(3, 0)
    assert "layer_norm=True" in repr(cell) and "num_layers=2" in repr(layer)


def test_split_directions_matches_torch_layout() -> None:
    torch.manual_seed(6)
    gru = nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    out, h_n = gru(torch.randn(2, 5, 3))
    parts = deep.split_directions(h_n, 2, True)
    assert parts.shape == (2, 2, 2, 4)
    assert torch.equal(parts[1, 0], out[:, -1, :4]) and torch.equal(parts[1, 1], out[:, 0, 4:])
    with pytest.raises(ShapeError, match="num_layers\\*num_directions=2"):
        deep.split_directions(h_n, 1, True)


def test_tagger_shapes_and_errors() -> None:
    for kind, bi in (("gru", True), ("lstm", False), ("rnn", True), ("lnlstm", False)):
        model = deep.SequenceTagger(kind, 4, 6, 3, num_layers=2, bidirectional=bi)
        assert model(torch.randn(2, 5, 4)).shape == (2, 5, 3)
    with pytest.raises(ValueError, match="kind"):
        deep.SequenceTagger("transformer", 4, 6, 3)
    with pytest.raises(ValueError, match="unidirectional"):
        deep.SequenceTagger("lnlstm", 4, 6, 3, bidirectional=True)
    with pytest.raises(ShapeError, match="input_size=4"):
        deep.SequenceTagger("gru", 4, 6, 3)(torch.randn(2, 5, 3))
    logits = torch.randn(2, 5, 3)
    with pytest.raises(ShapeError, match="torch.long"):
        deep.sequence_cross_entropy(logits, torch.zeros(2, 5))
    assert deep.tag_accuracy(logits, logits.argmax(-1)) == 1.0


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
    uni = deep.SequenceTagger("gru", 4, 5, 4).eval()
    bi = deep.SequenceTagger("gru", 4, 5, 4, bidirectional=True).eval()
    with torch.no_grad():
        assert torch.allclose(deep.prefix_logits(uni, x), uni(x), atol=1e-6)
        assert not torch.allclose(deep.prefix_logits(bi, x), bi(x), atol=1e-3)
        assert torch.allclose(deep.prefix_logits(bi, x)[:, -1], bi(x)[:, -1], atol=1e-6)


def test_width_for_params() -> None:
    h = deep.width_for_params("gru", 5, 8000, num_layers=2, num_classes=5)
    count = sum(p.numel() for p in deep.SequenceTagger("gru", 5, h, 5, num_layers=2)
                .parameters())
    assert abs(count - 8000) < 300
    assert deep.width_for_params("lstm", 3, 4 * 10 * (3 + 10 + 2)) == 10
    with pytest.raises(ValueError, match="kind"):
        deep.width_for_params("cnn", 3, 100)


def test_draw_unrolled() -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2)
    deep.draw_unrolled(axes[0], 2, 3, bidirectional=False)
    deep.draw_unrolled(axes[1], 1, 4, bidirectional=True)
    assert len(axes[1].patches) > 8
    plt.close(fig)


# --------------------------------------------------------------------------- self-checks


def _hn_shape(num_layers: int, bidirectional: bool, batch: int, hidden: int
              ) -> tuple[int, int, int]:
    return (num_layers * (2 if bidirectional else 1), batch, hidden)


def _last(h_n: torch.Tensor, num_layers: int) -> torch.Tensor:
    last = h_n.view(num_layers, 2, h_n.shape[1], h_n.shape[2])[-1]
    return torch.cat([last[0], last[1]], dim=-1)


def _bidir(x: torch.Tensor, fwd: nn.GRU, bwd: nn.GRU) -> tuple[torch.Tensor, torch.Tensor]:
    out_f, h_f = fwd(x)
    out_b, h_b = bwd(x.flip(1))
    return torch.cat([out_f, out_b.flip(1)], dim=-1), torch.cat([h_f, h_b])


def test_self_checks_pass_on_correct_answers() -> None:
    assert ch07.check_hn_shape(_hn_shape)
    assert ch07.check_last_layer_states(_last)
    assert ch07.check_bidirectional(_bidir)


def test_self_checks_fail_with_useful_messages() -> None:
    wrong = ch07.check_hn_shape(lambda n, bi, b, h: (b, n * (2 if bi else 1), h))
    assert not wrong and "batch-first" in wrong.message
    wrong = ch07.check_last_layer_states(lambda h_n, n: torch.cat([h_n[0], h_n[1]], dim=-1))
    assert not wrong and "differs" in wrong.message and "view" in wrong.message
    wrong = ch07.check_bidirectional(
        lambda x, f, b: (torch.cat([f(x)[0], b(x.flip(1))[0]], -1),
                         torch.cat([f(x)[1], b(x.flip(1))[1]])))
    assert not wrong and "output" in wrong.message and "flip" in wrong.message


def test_self_checks_report_crashes_and_stubs() -> None:
    def crashes(*args: object) -> None:
        raise RuntimeError("boom")

    def stub(*args: object) -> None:
        raise NotImplementedError

    for check in (ch07.check_hn_shape, ch07.check_last_layer_states, ch07.check_bidirectional):
        result = check(crashes)
        assert not result and "RuntimeError: boom" in result.message
        assert "not implemented" in check(stub).message
    result = ch07.check_bidirectional(lambda x, f, b: f(x)[0])
    assert not result and "pair" in result.message
