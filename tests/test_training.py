import pytest
import torch

from rnncourse import tasks, training


def _batch(g):
    return tasks.adding_problem(32, 6, generator=g)


def test_regressor_maps_sequences_to_one_output_each():
    for kind in ("rnn", "lstm", "gru"):
        model = training.SequenceRegressor(kind, 2, 8)
        assert model(torch.zeros(5, 7, 2)).shape == (5, 1)


def test_regressor_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="kind must be one of"):
        training.SequenceRegressor("transformer", 2, 8)


def test_fit_is_deterministic_and_learns_a_short_adding_problem():
    def run():
        torch.manual_seed(0)
        model = training.SequenceRegressor("gru", 2, 16)
        return training.fit(model, _batch, steps=150, lr=1e-2, eval_every=50,
                            device=torch.device("cpu"))

    a, b = run(), run()
    assert a.train_loss == b.train_loss
    assert a.eval_steps == [50, 100, 150]
    assert a.final_eval < 0.5 * tasks.ADDING_BASELINE_MSE


def test_fit_stops_early_once_solved():
    torch.manual_seed(0)
    model = training.SequenceRegressor("gru", 2, 16)
    history = training.fit(model, _batch, steps=400, lr=1e-2, eval_every=10, stop_below=0.1,
                           device=torch.device("cpu"))
    assert history.solved_at is not None and history.solved_at < 400
    assert history.eval_steps[-1] == history.solved_at and history.final_eval < 0.1


def test_fit_records_gradient_norms_before_clipping():
    torch.manual_seed(0)
    model = training.SequenceRegressor("rnn", 2, 8)
    history = training.fit(model, _batch, steps=5, clip=1e-6, device=torch.device("cpu"))
    assert all(norm > 1e-6 for norm in history.grad_norm)


def test_fit_rejects_bad_step_counts():
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        training.fit(training.SequenceRegressor("rnn", 2, 8), _batch, steps=0)


def test_time_forward_backward_returns_positive_seconds_and_checks_grad():
    model = torch.nn.GRU(3, 4, batch_first=True)
    assert training.time_forward_backward(model, torch.randn(2, 5, 3), repeats=3) > 0
    with pytest.raises(ValueError, match="does not require grad"):
        training.time_forward_backward(lambda x: x.detach(), torch.randn(2, 3))
