"""Tests of rnncourse.timeseries and the chapter-11 self-checks."""

from __future__ import annotations

import builtins

import numpy as np
import pytest
import torch

from rnncourse import timeseries as ts
from rnncourse.exercises import ch11
from rnncourse.validation import ShapeError

# --------------------------------------------------------------------------- data


def test_co2_is_monthly_without_gaps_and_sunspots_yearly():
    co2 = ts.load_co2()
    assert len(co2) == 526 and not co2.isna().any()
    assert co2.index[0].year == 1958 and co2.index[-1].year == 2001
    assert 310 < co2.min() < 320 and 370 < co2.max() < 375       # ppm
    weekly = ts.load_co2("weekly")
    assert len(weekly) == 2284 and not weekly.isna().any()
    sun = ts.load_sunspots()
    assert len(sun) == 309 and sun.index[0] == 1700 and sun.index[-1] == 2008


def test_co2_rejects_unknown_resampling():
    with pytest.raises(ValueError, match="monthly"):
        ts.load_co2("daily")


def test_missing_statsmodels_gives_a_clear_error(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("statsmodels"):
            raise ImportError("no statsmodels")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"rnncourse\[data\]"):
        ts.load_sunspots()


# --------------------------------------------------------------------------- splits, scaling


def test_chronological_split_keeps_order_and_sizes():
    y = np.arange(20.0)
    train, val, test = ts.chronological_split(y, 5, 3)
    assert train.tolist() == list(range(12)) and val.tolist() == list(range(12, 17))
    assert test.tolist() == [17.0, 18.0, 19.0]


@pytest.mark.parametrize("bad, error", [((np.arange(5.0), 3, 2), ValueError),
                                        ((np.arange(5.0), 0, 2), ValueError),
                                        ((np.zeros((3, 3)), 1, 1), ShapeError)])
def test_chronological_split_rejects_bad_input(bad, error):
    with pytest.raises(error):
        ts.chronological_split(*bad)


def test_scaler_is_fitted_on_the_part_it_is_given():
    scaler = ts.Scaler.fit(np.array([1.0, 3.0]))
    assert scaler.mean == 2.0 and scaler.std == 1.0
    z = scaler.transform(np.array([5.0]))
    assert z.tolist() == [3.0] and scaler.inverse(z).tolist() == [5.0]
    assert ts.Scaler.fit(np.ones(4)).std == 1.0                   # constant part: no division by 0


# --------------------------------------------------------------------------- windows


@pytest.mark.parametrize("seed", range(5))
def test_sliding_windows_on_random_sizes(seed):
    rng = np.random.default_rng(seed)
    n, L, H = int(rng.integers(5, 40)), int(rng.integers(1, 8)), int(rng.integers(1, 5))
    if L + H > n:
        n = L + H
    y = rng.normal(size=n)
    X, Y = ts.sliding_windows(y, L, H)
    assert X.shape == (n - L - H + 1, L) and Y.shape == (n - L - H + 1, H)
    for i in range(len(X)):
        assert np.array_equal(X[i], y[i:i + L]) and np.array_equal(Y[i], y[i + L:i + L + H])
    assert Y[-1, -1] == y[-1]                                    # the last window ends at y[n-1]


@pytest.mark.parametrize("args, error", [((np.arange(4.0), 3, 2), ValueError),
                                         ((np.arange(4.0), 0, 2), ValueError),
                                         ((np.zeros((2, 3)), 1, 1), ShapeError),
                                         ((np.arange(4.0), 2, 1.5), ValueError)])
def test_sliding_windows_rejects_bad_input(args, error):
    with pytest.raises(error):
        ts.sliding_windows(*args)


def test_origins_keep_the_whole_horizon_inside():
    starts = ts.origins(10, 20, 4)
    assert starts.tolist() == list(range(10, 17)) and starts[-1] + 4 == 20


# --------------------------------------------------------------------------- baselines, metrics


def test_naive_and_seasonal_naive():
    history = np.arange(10.0)
    assert ts.naive_forecast(history, 3).tolist() == [9.0, 9.0, 9.0]
    assert ts.seasonal_naive_forecast(history, 5, 4).tolist() == [6.0, 7.0, 8.0, 9.0, 6.0]
    out = ts.baseline_forecasts(history, np.array([5, 6]), 2, 3)
    assert out["naive"].tolist() == [[4.0, 4.0], [5.0, 5.0]]
    assert out["seasonal naive"].tolist() == [[2.0, 3.0], [3.0, 4.0]]


def test_metrics_by_hand():
    f, a = np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 1.0])
    assert ts.mae(f, a) == pytest.approx(4 / 3)
    assert ts.rmse(f, a) == pytest.approx(np.sqrt(10 / 3))
    train = np.array([0.0, 1.0, 0.0, 2.0])
    assert ts.mase_scale(train, 2) == pytest.approx(0.5)          # |0 - 0|, |2 - 1|
    assert ts.mase_scale(train, 1) == pytest.approx(4 / 3)        # |1|, |-1|, |2|
    assert ts.mase(f, a, train, 2) == pytest.approx(8 / 3)
    per_h = ts.mae(np.zeros((2, 3)), np.array([[1.0, 2, 3], [3, 2, 1]]), axis=0)
    assert per_h.tolist() == [2.0, 2.0, 2.0]


def test_pinball_loss_is_half_mae_at_the_median_and_minimised_by_the_quantile():
    y = torch.randn(2001, generator=torch.Generator().manual_seed(0))
    pred = torch.randn(2001, generator=torch.Generator().manual_seed(1))
    assert ts.pinball_loss(pred, y, 0.5).item() == pytest.approx((pred - y).abs().mean() / 2)
    grid = torch.linspace(-2, 2, 401)
    losses = torch.stack([ts.pinball_loss(c.expand_as(y), y, 0.9) for c in grid])
    assert grid[losses.argmin()].item() == pytest.approx(torch.quantile(y, 0.9).item(), abs=0.02)


def test_arima_forecasts_with_fixed_parameters_match_a_refit_free_filter():
    y = ts.load_sunspots().to_numpy()
    starts = np.array([250, 260])
    out, fitted = ts.arima_forecasts(y, 250, starts, 3, (2, 0, 0), trend="c")
    assert out.shape == (2, 3)
    assert np.allclose(out[0], fitted.forecast(3))
    assert np.allclose(out[1], fitted.apply(y[:260]).forecast(3))
    mu, phi1, phi2 = fitted.params[:3]
    expected = mu + phi1 * y[259] + phi2 * y[258]                   # AR(2) one step ahead
    assert out[1, 0] == pytest.approx(expected, rel=1e-6)


# --------------------------------------------------------------------------- networks


def test_gru_forecaster_shapes_and_recursion():
    torch.manual_seed(0)
    model = ts.GRUForecaster(8, horizon=1)
    window = torch.randn(3, 10)
    out = ts.recursive_forecast(model, window, 4)
    assert out.shape == (3, 4)
    assert torch.allclose(out[:, 0], model(window)[:, 0])
    second = model(torch.cat([window[:, 1:], out[:, :1]], 1))[:, 0]
    assert torch.allclose(out[:, 1], second)                     # fed its own forecast back
    assert ts.GRUForecaster(8, horizon=5)(window).shape == (3, 5)


def test_prepared_differences_round_trip_to_levels():
    y = np.cumsum(np.arange(1.0, 30.0))
    prep = ts.Prepared.make(y, 20, difference=True)
    starts = np.array([22, 25])
    true_diffs = prep.z[starts[:, None] + np.arange(3)]           # the scaled future differences
    levels = prep.to_levels(starts, true_diffs)
    assert np.allclose(levels, y[starts[:, None] + np.arange(3)])
    assert prep.inputs(starts, 4).shape == (2, 4)
    leaky = ts.Prepared.make(y, 20, difference=False, leak=True)
    assert leaky.scaler.mean == pytest.approx(y.mean())
    assert ts.Prepared.make(y, 20, difference=False).scaler.mean == pytest.approx(y[:20].mean())


def test_train_forecaster_is_deterministic_and_learns():
    y = np.sin(np.arange(200) * 2 * np.pi / 12) + 0.01 * np.arange(200)
    prep = ts.Prepared.make(y, 150, difference=True)
    runs = [ts.train_forecaster(prep, 150, 12, 3, hidden_size=8, steps=60, seed=1)
            for _ in range(2)]
    a, b = (ts.network_forecasts(m, prep, np.array([160, 170]), 12, 3) for m, _ in runs)
    assert np.array_equal(a, b)
    assert runs[0][1].train_loss[-1] < runs[0][1].train_loss[0]


# --------------------------------------------------------------------------- self-checks


def _good_windows(y, L, H):
    return ts.sliding_windows(np.asarray(y, dtype=float), L, H)


def _one_too_few(y, L, H):
    X, Y = ts.sliding_windows(np.asarray(y, dtype=float), L, H)
    return X[:-1], Y[:-1]


def _overlap(y, L, H):
    count = len(y) - L - H + 1
    return (np.stack([y[i:i + L] for i in range(count)]),
            np.stack([y[i + L - 1:i + L - 1 + H] for i in range(count)]))


def _late(y, L, H):
    count = len(y) - L - H
    return (np.stack([y[i:i + L] for i in range(count)]),
            np.stack([y[i + L + 1:i + L + 1 + H] for i in range(count)]))


def test_check_windows():
    assert all(ch11.check_windows(_good_windows) for _ in range(30))   # random sizes, always fit
    loop = ch11.check_windows(lambda y, L, H: (
        np.stack([y[i:i + L] for i in range(len(y) - L - H + 1)]),
        np.stack([y[i + L:i + L + H] for i in range(len(y) - L - H + 1)])))
    assert loop, loop.message
    assert "one too few" in ch11.check_windows(_one_too_few).message
    assert "overlaps the input" in ch11.check_windows(_overlap).message
    result = ch11.check_windows(_late)
    assert not result and ("too late" in result.message or "one too few" in result.message)
    assert "swapped" in ch11.check_windows(lambda y, L, H: _good_windows(y, L, H)[::-1]).message
    assert not ch11.check_windows(lambda y, L, H: "nonsense")
    stub = ch11.check_windows(lambda y, L, H: (_ for _ in ()).throw(NotImplementedError))
    assert not stub and not stub.attempted


def _snaive(y, m):
    return np.mean(np.abs(y[m:] - y[:-m]))


def test_check_mase():
    assert ch11.check_mase(lambda f, a, tr, m: ts.mase(f, a, tr, m))
    msg = ch11.check_mase(lambda f, a, tr, m: ts.mae(f, a) / _snaive(tr, 1)).message
    assert "non-seasonal" in msg
    msg = ch11.check_mase(lambda f, a, tr, m: ts.mae(f, a) / _snaive(a, m) if len(a) > m
                          else ts.mase(f, a, tr, m)).message
    assert "*test* part" in msg
    msg = ch11.check_mase(lambda f, a, tr, m: ts.rmse(f, a) / _snaive(tr, m)).message
    assert "RMSE" in msg
    msg = ch11.check_mase(lambda f, a, tr, m: _snaive(tr, m) / ts.mae(f, a)).message
    assert "inverse" in msg
    msg = ch11.check_mase(lambda f, a, tr, m: ts.mae(f, a) / _snaive(np.concatenate([tr, a]),
                                                                      m)).message
    assert "whole series" in msg
    assert not ch11.check_mase(lambda f, a, tr, m: "x")
    assert not ch11.check_mase(lambda f, a, tr, m: None)


def test_check_leaks():
    assert ch11.check_leaks({"B", "C", "E", "G"})
    assert ch11.check_leaks("bceg")
    assert "pipeline D does not leak" in ch11.check_leaks({"B", "C", "D", "E", "G"}).message
    assert "pipeline E leaks" in ch11.check_leaks({"B", "C", "G"}).message
    assert "unknown" in ch11.check_leaks({"B", "Z"}).message
    none = ch11.check_leaks(None)
    assert not none and not none.attempted
    assert not ch11.check_leaks(3)


def test_check_linear_experiment():
    refs = ch11._linear_experiment_reference()
    assert ch11.check_linear_experiment(*refs["right"])
    assert "swapped" in ch11.check_linear_experiment(*refs["right"][::-1]).message
    assert "*levels*" in ch11.check_linear_experiment(*refs["levels"]).message
    assert "intercept" in ch11.check_linear_experiment(*refs["no intercept"]).message
    assert "non-seasonal" in ch11.check_linear_experiment(*refs["non-seasonal scale"]).message
    assert "whole series" in ch11.check_linear_experiment(*refs["fitted on all"]).message
    assert not ch11.check_linear_experiment(1.0, 2.0)
    assert not ch11.check_linear_experiment("a", 2.0)
    stub = ch11.check_linear_experiment(None, None)
    assert not stub and not stub.attempted


def test_checkpoints_equal_shorter_runs_and_eval_uses_the_given_origins():
    y = np.sin(np.arange(120) * 2 * np.pi / 11)
    prep = ts.Prepared.make(y, 90, difference=False)
    ckpt = {}
    _, hist = ts.train_forecaster(prep, 90, 10, 2, hidden_size=4, steps=20, seed=3,
                                  eval_starts=np.array([95, 100]), eval_every=10,
                                  checkpoints=ckpt)
    assert sorted(ckpt) == [10, 20] and hist.eval_steps == [10, 20]
    short, _ = ts.train_forecaster(prep, 90, 10, 2, hidden_size=4, steps=10, seed=3)
    for name, value in short.state_dict().items():
        assert torch.equal(value, ckpt[10][name])                # step 10 of a longer run
    model = ts.GRUForecaster(4, 2)
    model.load_state_dict(ckpt[20])
    with torch.no_grad():
        pred = model(prep.inputs(np.array([95, 100]), 10))
    target = torch.tensor(prep.z[np.array([95, 100])[:, None] + np.arange(2)], dtype=torch.float32)
    assert hist.eval_loss[-1] == pytest.approx(torch.nn.functional.mse_loss(pred, target).item(),
                                               rel=1e-5)
