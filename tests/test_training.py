"""Tests of rnncourse.training: the training loop and the timing helpers.

The model trained here is ``recurrent.SequenceModel`` (tested in ``test_recurrent.py``).
"""

import pytest
import torch

from rnncourse import tasks, training
from rnncourse.gru import GRU, FusedGRU
from rnncourse.recurrent import SequenceModel


def _batch(g):
    return tasks.adding_problem(32, 6, generator=g)


def test_sequence_model_maps_adding_problem_sequences_to_one_output_each():
    x, y = _batch(torch.Generator().manual_seed(0))
    for kind in ("rnn", "lstm", "gru"):
        assert SequenceModel(kind, 2, 8)(x).shape == y.shape == (32, 1)


def test_fit_is_deterministic_and_learns_a_short_adding_problem():
    def run():
        torch.manual_seed(0)
        model = SequenceModel("gru", 2, 16)
        return training.fit(model, _batch, steps=150, lr=1e-2, eval_every=50,
                            device=torch.device("cpu"))

    a, b = run(), run()
    assert a.train_loss == b.train_loss
    assert a.eval_steps == [50, 100, 150]
    assert a.final_eval < 0.5 * tasks.ADDING_BASELINE_MSE


def test_fit_stops_early_once_solved():
    torch.manual_seed(0)
    model = SequenceModel("gru", 2, 16)
    history = training.fit(model, _batch, steps=400, lr=1e-2, eval_every=10, stop_below=0.1,
                           device=torch.device("cpu"))
    assert history.solved_at is not None and history.solved_at < 400
    assert history.eval_steps[-1] == history.solved_at and history.final_eval < 0.1


def test_fit_records_gradient_norms_before_clipping():
    torch.manual_seed(0)
    model = SequenceModel("rnn", 2, 8)
    history = training.fit(model, _batch, steps=5, clip=1e-6, device=torch.device("cpu"))
    assert all(norm > 1e-6 for norm in history.grad_norm)


def test_fit_rejects_bad_step_counts():
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        training.fit(SequenceModel("rnn", 2, 8), _batch, steps=0)


def test_time_forward_backward_returns_positive_seconds_and_checks_grad():
    model = torch.nn.GRU(3, 4, batch_first=True)
    assert training.time_forward_backward(model, torch.randn(2, 5, 3), repeats=3) > 0
    with pytest.raises(ValueError, match="does not require grad"):
        training.time_forward_backward(lambda x: x.detach(), torch.randn(2, 3))


def test_time_models_returns_positive_medians_for_every_model():
    models = {"teaching": GRU(2, 3), "fused": FusedGRU(2, 3)}
    calls = {name: 0 for name in models}

    def counting(name):
        def run(x):
            calls[name] += 1
            return models[name](x)
        return run

    times = training.time_models({n: counting(n) for n in models}, torch.randn(4, 2, 2),
                                 repeats=2, warmup=1, rounds=3)
    assert set(times) == set(models) and all(t > 0 for t in times.values())
    # a warm-up call (warmup + one discarded pass), then rounds × repeats timed passes
    assert calls == {name: (1 + 1) + 3 * 2 for name in models}
    with pytest.raises(ValueError, match="rounds must be a positive integer"):
        training.time_models(models, torch.randn(4, 2, 2), rounds=0)


def test_before_step_sees_the_model_before_each_update():
    torch.manual_seed(0)
    model = SequenceModel("rnn", 2, 8)
    seen = []

    def record(done, m):
        assert m is model and m.training
        seen.append((done, m.head.weight.detach().clone()))

    history = training.fit(model, _batch, steps=4, device=torch.device("cpu"), before_step=record)
    assert [done for done, _ in seen] == [0, 1, 2, 3] and len(history.train_loss) == 4
    assert not torch.equal(seen[0][1], seen[1][1])  # an update happened between two calls
    torch.manual_seed(0)
    plain = training.fit(SequenceModel("rnn", 2, 8), _batch, steps=4, device=torch.device("cpu"))
    assert plain.train_loss == history.train_loss  # recording changes nothing
