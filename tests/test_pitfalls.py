"""Tests of rnncourse.pitfalls (chapter 12) and of the chapter's self-checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from rnncourse import bptt, deep, pitfalls, recurrent, tasks, training
from rnncourse.exercises import ch12
from rnncourse.validation import ShapeError


# ----------------------------------------------------------------------------- graph_size
def test_graph_size_grows_without_detach_and_is_zero_without_history():
    rnn = nn.RNN(2, 3)
    x = torch.randn(4, 1, 2)
    out, h = rnn(x)
    first = pitfalls.graph_size(out.sum())
    out2, _ = rnn(x, h)
    assert pitfalls.graph_size(out2.sum()) > first
    out3, _ = rnn(x, h.detach())
    assert pitfalls.graph_size(out3.sum()) == first
    assert pitfalls.graph_size(torch.zeros(3)) == 0
    with pytest.raises(TypeError, match="torch.Tensor"):
        pitfalls.graph_size([1, 2])


# ----------------------------------------------------------------------------- dropout
@pytest.mark.parametrize("batch_first", [True, False])
def test_locked_dropout_uses_one_mask_per_sequence(batch_first):
    torch.manual_seed(0)
    drop = pitfalls.LockedDropout(0.4, batch_first=batch_first)
    x = torch.ones(50, 7, 3) if batch_first else torch.ones(7, 50, 3)
    y = drop(x)
    time_dim = 1 if batch_first else 0
    first = y.select(time_dim, 0).unsqueeze(time_dim)
    assert torch.equal(y, first.expand_as(y))
    assert torch.allclose(y.unique(), torch.tensor([0.0, 1 / 0.6]))
    assert torch.equal(drop.eval()(x), x)
    assert torch.equal(pitfalls.LockedDropout(0.0)(x), x)


def test_locked_dropout_rejects_bad_input():
    with pytest.raises(ValueError):
        pitfalls.LockedDropout(1.5)
    with pytest.raises(ShapeError):
        pitfalls.LockedDropout(0.5)(torch.ones(3, 4))


# ----------------------------------------------------------------------------- learning rate
def test_lr_range_test_is_geometric_and_stops_on_blow_up():
    torch.manual_seed(0)
    model = recurrent.SequenceModel("gru", 2, 8)
    lrs, losses = pitfalls.lr_range_test(model, lambda g: tasks.adding_problem(16, 5, g),
                                         F.mse_loss, 1e-4, 10.0, 40)
    assert len(lrs) == len(losses) <= 40
    ratios = lrs[1:] / lrs[:-1]
    assert np.allclose(ratios, ratios[0]) and lrs[0] == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="lr_min < lr_max"):
        pitfalls.lr_range_test(model, lambda g: tasks.adding_problem(4, 5, g), F.mse_loss,
                               1.0, 0.1)


def test_suggest_lr_finds_the_steepest_descent():
    lrs = np.logspace(-5, 0, 60)
    losses = 1.0 / (1.0 + np.exp(4 * (np.log10(lrs) + 2.5)))    # steepest at 10**-2.5
    assert pitfalls.suggest_lr(lrs, losses, beta=0.0) == pytest.approx(10 ** -2.5, rel=0.25)
    with pytest.raises(ValueError):
        pitfalls.suggest_lr(lrs[:4], losses[:4])


def test_ewma_is_bias_corrected():
    assert np.allclose(pitfalls.ewma([2.0, 2.0, 2.0]), 2.0)
    assert pitfalls.ewma([1.0, 3.0], beta=0.5)[1] == pytest.approx((0.25 + 1.5) / 0.75)


def test_lr_sweep_trains_one_model_per_rate_from_equal_weights():
    hs = pitfalls.lr_sweep(lambda: recurrent.SequenceModel("gru", 2, 4),
                           lambda g: tasks.adding_problem(8, 4, g), [1e-3, 1e-2], 3,
                           F.mse_loss, optimizer="sgd", eval_every=3)
    assert len(hs) == 2 and all(isinstance(h, training.History) for h in hs)
    assert hs[0].train_loss[0] == pytest.approx(hs[1].train_loss[0])   # same start
    with pytest.raises(ValueError, match="optimizer"):
        pitfalls.lr_sweep(lambda: nn.Linear(1, 1), lambda g: None, [1e-3], 1, F.mse_loss,
                          optimizer="rmsprop")


# ----------------------------------------------------------------------------- normalisation
@pytest.mark.parametrize("norm", ["none", "batch_shared", "batch_per_step", "layer"])
def test_norm_rnn_shapes_and_modes(norm):
    torch.manual_seed(0)
    rnn = pitfalls.NormRNN(3, 5, norm, max_len=4)
    x = torch.randn(6, 7, 3)
    out = rnn(x)
    assert out.shape == (6, 7, 5) and out.abs().max() <= 1
    expected_bn = {"none": 0, "batch_shared": 1, "batch_per_step": 4, "layer": 0}[norm]
    assert len(rnn.bn_x) == len(rnn.bn_h) == expected_bn
    out.sum().backward()
    assert rnn.weight_hh.weight.grad is not None


def test_norm_rnn_none_is_a_plain_tanh_rnn_and_layer_uses_deep_layer_norm():
    torch.manual_seed(0)
    rnn = pitfalls.NormRNN(2, 4, "none")
    torch_rnn = nn.RNN(2, 4, batch_first=True)
    with torch.no_grad():
        torch_rnn.weight_ih_l0.copy_(rnn.weight_ih.weight)
        torch_rnn.weight_hh_l0.copy_(rnn.weight_hh.weight)
        torch_rnn.bias_ih_l0.zero_()
        torch_rnn.bias_hh_l0.copy_(rnn.weight_hh.bias)
    x = torch.randn(3, 5, 2)
    assert torch.allclose(rnn(x), torch_rnn(x)[0], atol=1e-6)
    ln = pitfalls.NormRNN(2, 4, "layer")
    z = ln.weight_ih(x[:, 0])
    assert torch.allclose(ln._normalise(z, 0, 0), deep.layer_norm(z))


def test_norm_rnn_rejects_bad_arguments():
    with pytest.raises(ValueError, match="norm must be one of"):
        pitfalls.NormRNN(2, 3, "group")
    with pytest.raises(ShapeError):
        pitfalls.NormRNN(2, 3)(torch.randn(4, 5, 3))


# ----------------------------------------------------------------------------- initialisation
def test_init_lstm_sets_forget_bias_and_orthogonal_blocks():
    lstm = nn.LSTM(3, 6, num_layers=2, bidirectional=True)
    pitfalls.init_lstm_(lstm, forget_bias=1.0, generator=torch.Generator().manual_seed(0))
    for name, p in lstm.named_parameters():
        if name.startswith("weight_hh"):
            for k in range(4):
                block = p[k * 6:(k + 1) * 6].detach()
                assert torch.allclose(block @ block.T, torch.eye(6), atol=1e-5)
    assert torch.allclose(lstm.bias_ih_l1_reverse[6:12] + lstm.bias_hh_l1_reverse[6:12],
                          torch.ones(6))
    with pytest.raises(TypeError, match="nn.LSTM"):
        pitfalls.init_lstm_(nn.GRU(2, 3))


# ----------------------------------------------------------------------------- random search
def test_random_search_is_seeded_sorted_and_log_uniform():
    space = {"lr": ("log", (1e-4, 1.0)), "h": ("choice", [8, 16]), "p": ("uniform", (0, 0.5))}
    a = pitfalls.random_search(lambda lr, h, p: abs(math.log10(lr) + 2), space, 30, seed=3)
    b = pitfalls.random_search(lambda lr, h, p: abs(math.log10(lr) + 2), space, 30, seed=3)
    assert [t.params for t in a] == [t.params for t in b]
    assert [t.value for t in a] == sorted(t.value for t in a)
    logs = [math.log10(t.params["lr"]) for t in a]
    assert min(logs) >= -4 and max(logs) <= 0 and np.std(logs) > 0.7   # spread over decades
    with pytest.raises(ValueError, match="kind"):
        pitfalls.random_search(lambda x: x, {"x": ("normal", (0, 1))}, 1)


# ----------------------------------------------------------------------------- leakage
def test_leaky_and_proper_splits():
    series = np.arange(200.0)
    leaky, proper = pitfalls.leaky_and_proper_splits(series, 10, 0.2, seed=0)
    assert leaky.scaler.mean == pytest.approx(series.mean())
    assert proper.scaler.mean == pytest.approx(series[:160].mean())
    targets_train = set(proper.scaler.inverse(proper.y_train.numpy()).round().ravel())
    targets_test = set(proper.scaler.inverse(proper.y_test.numpy()).round().ravel())
    assert max(targets_train) < min(targets_test) and len(targets_test) == 40
    inputs_train = proper.scaler.inverse(proper.x_train.numpy()).round()
    assert inputs_train.max() < 160                       # no test value in any training window
    leaky_test = leaky.scaler.inverse(leaky.y_test.numpy()).ravel()
    assert leaky_test.min() < 150                         # the leaky test set is scattered
    with pytest.raises(ValueError):
        pitfalls.leaky_and_proper_splits(np.arange(20.0), 10, 0.9)


def test_chapter_models():
    model = pitfalls.irnn_regressor(8, seed=0)
    assert torch.equal(model.rnn.weight_hh_l0, torch.eye(8))
    x, y = pitfalls.cycle_dataset(4, 6, seed=0)
    assert x.shape == (4, 6, 6) and y.shape == (4, 6) and torch.equal(x[:, 1:].argmax(-1),
                                                                      y[:, :-1])
    assert pitfalls.CycleTagger(6, 5, 0.2)(x).shape == (4, 6, 6)


# ----------------------------------------------------------------------------- checks
def _initial_state(module, batch):
    rows = module.num_layers * (2 if module.bidirectional else 1)
    h = torch.zeros(rows, batch, getattr(module, "proj_size", 0) or module.hidden_size)
    if isinstance(module, nn.LSTM):
        return h, torch.zeros(rows, batch, module.hidden_size)
    return h


def test_check_initial_state():
    assert ch12.check_initial_state(_initial_state)

    def batch_first(module, batch):
        state = _initial_state(module, batch)
        if isinstance(state, tuple):
            return tuple(s.transpose(0, 1) if s.shape[0] != s.shape[1] else s for s in state)
        return state.transpose(0, 1)

    def no_directions(module, batch):
        h = torch.zeros(module.num_layers, batch, getattr(module, "proj_size", 0)
                        or module.hidden_size)
        return (h, torch.zeros(module.num_layers, batch, module.hidden_size)) if isinstance(
            module, nn.LSTM) else h

    def one_tensor(module, batch):
        state = _initial_state(module, batch)
        return state[0] if isinstance(state, tuple) else state

    def no_proj(module, batch):
        rows = module.num_layers * (2 if module.bidirectional else 1)
        h = torch.zeros(rows, batch, module.hidden_size)
        return (h, h.clone()) if isinstance(module, nn.LSTM) else h

    seen = {}
    for fn, words in ((batch_first, "never batch-first"), (no_directions, "direction"),
                      (one_tensor, "tuple"), (no_proj, "proj_size")):
        for _ in range(15):                     # random configurations: retry until it shows
            result = ch12.check_initial_state(fn)
            assert not result
            if words in result.message:
                seen[fn.__name__] = True
                break
        assert seen.get(fn.__name__), (fn.__name__, result.message)
    assert not ch12.check_initial_state(lambda m, b: "zeros")


def test_check_initial_state_not_implemented():
    def stub(module, batch):
        raise NotImplementedError

    result = ch12.check_initial_state(stub)
    assert not result and not result.attempted


def test_check_clip_threshold():
    norms = ch12._clip_norms()
    c = float(np.median(norms[:50]))
    assert ch12.check_clip_threshold(c, norms.max() / c)
    assert not ch12.check_clip_threshold(None, None).attempted
    for answer, words in (((float(norms.max()), 1.0), "largest norm"),
                          ((1.0, 3.0), "clip"),
                          ((float(norms[:50].mean()), 3.0), "mean"),
                          ((c, c / norms.max()), "inverted"),
                          ((c, 2.5 * norms.max() / c), "largest norm of all"),
                          (("4", 2), "number")):
        result = ch12.check_clip_threshold(*answer)
        assert not result and words in result.message, (answer, result.message)


def _tbptt(model, x, y, k, opt, detach="both", reset=False, zero=True, drop_last=False):
    state, losses = None, []
    for start in range(0, x.shape[0], k):
        if drop_last and start + k > x.shape[0]:
            break
        if reset:
            state = None
        if state is not None and detach == "both":
            state = bptt.detach_state(state)
        elif state is not None and detach == "h":
            state = (state[0].detach(), state[1])
        pred, state = model(x[start:start + k], state)
        loss = F.mse_loss(pred, y[start:start + k])
        if zero:
            opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_check_tbptt_loop():
    assert ch12.check_tbptt_loop(_tbptt)
    for options, words in (({"detach": "none"}, "Detach"), ({"detach": "h"}, "both h and c"),
                           ({"reset": True}, "reset"), ({"zero": False}, "zero_grad"),
                           ({"drop_last": True}, "last, shorter chunk")):
        result = ch12.check_tbptt_loop(lambda *a, o=options: _tbptt(*a, **o))
        assert not result and words in result.message, (options, result.message)
    assert not ch12.check_tbptt_loop(lambda *a: "losses")
