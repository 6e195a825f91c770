"""Self-checks for chapter 11 (time-series forecasting on real data)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..selfcheck import CheckFailed, expect, expect_answered, self_check

__all__ = ["check_windows", "check_mase", "check_leaks", "check_linear_experiment"]


# --------------------------------------------------------------------------- 11.1 windows
def _windows(y: np.ndarray, input_len: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    count = len(y) - input_len - horizon + 1
    starts = np.arange(count)[:, None]
    return y[starts + np.arange(input_len)], y[starts + input_len + np.arange(horizon)]


def _as_array(value: Any, what: str) -> np.ndarray:
    try:
        out = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise CheckFailed(f"{what} should be an array, got {type(value).__name__}") from None
    return out


@self_check("Exercise 11.1 (★): sliding windows")
def check_windows(make_windows: Callable[[np.ndarray, int, int], Any]) -> None:
    """``make_windows(y, input_len, horizon)`` must return ``(X, Y)``, ``X[i] = y[i:i+L]``,
    ``Y[i] = y[i+L:i+L+H]``, for every window that fits. Random series and sizes."""
    rng = np.random.default_rng()
    cases = [(int(rng.integers(1, 6)), int(rng.integers(1, 5))) for _ in range(5)]
    cases = [(L + H + int(rng.integers(1, 20)), L, H) for L, H in cases]   # >= 2 windows each
    cases += [(7, 3, 4), (9, 4, 1)]                               # one window; one-step targets
    for n, L, H in cases:
        y = rng.normal(size=n).cumsum()
        want_X, want_Y = _windows(y, L, H)
        got = make_windows(y.copy(), L, H)
        expect(isinstance(got, (tuple, list)) and len(got) == 2,
               f"make_windows should return a pair (X, Y), got {type(got).__name__}")
        X, Y = _as_array(got[0], "X"), _as_array(got[1], "Y")
        what = f"for a series of {n} points, input_len={L}, horizon={H}"
        if X.shape == want_Y.shape and Y.shape == want_X.shape and (
                L != H or np.allclose(X, want_Y) and np.allclose(Y, want_X)):
            raise CheckFailed(f"{what} X and Y look swapped: X holds the inputs (L columns)")
        expect(X.ndim == 2 and Y.ndim == 2,
               f"{what} X and Y should be 2-D (windows, L) and (windows, H); got shapes "
               f"{X.shape} and {Y.shape}")
        count = len(want_X)
        if X.shape[0] == count - 1:
            raise CheckFailed(f"{what} you return {count - 1} windows, one too few: the last "
                              f"window ends exactly at y[{n - 1}]; there are n - L - H + 1 = "
                              f"{count} (an off-by-one in the range of starts)")
        expect(X.shape == want_X.shape and Y.shape == want_Y.shape,
               f"{what} X and Y should have shapes {want_X.shape} and {want_Y.shape} "
               f"(n - L - H + 1 = {count} windows), got {X.shape} and {Y.shape}")
        if not np.allclose(X, want_X):
            raise CheckFailed(f"{what} X is wrong: X[i] should be y[i : i+{L}]")
        if np.allclose(Y[:, 1:], want_Y[:, :-1]) and np.allclose(Y[:, 0], X[:, -1]):
            raise CheckFailed(f"{what} Y[i] starts with the last input y[i+L-1]: the target "
                              "overlaps the input by one step (an off-by-one); targets start "
                              "at y[i+L]")
        if H > 1 and np.allclose(Y[:, :-1], want_Y[:, 1:]):
            raise CheckFailed(f"{what} Y[i] starts at y[i+L+1], one step too late: the first "
                              "target is the value right after the window, y[i+L]")
        if not np.allclose(Y, want_Y):
            raise CheckFailed(f"{what} Y is wrong: Y[i] should be y[i+L : i+L+H]")


# --------------------------------------------------------------------------- 11.2 MASE
def _mae(f: np.ndarray, a: np.ndarray) -> float:
    return float(np.mean(np.abs(a - f)))


def _snaive_mae(y: np.ndarray, m: int) -> float:
    return float(np.mean(np.abs(y[m:] - y[:-m])))


@self_check("Exercise 11.2 (★★): MASE")
def check_mase(my_mase: Callable[[np.ndarray, np.ndarray, np.ndarray, int], Any]) -> None:
    """``my_mase(forecast, actual, train, period)`` → a float: the MAE of ``forecast`` against
    ``actual``, divided by the in-sample MAE of the seasonal naive forecast on ``train``.
    Random seasonal series, periods and test lengths."""
    rng = np.random.default_rng()
    for period in (int(rng.integers(2, 8)), 1, 12):
        n_train, n_test = int(rng.integers(40, 80)), int(rng.integers(6, 20))
        t = np.arange(n_train + n_test)
        y = (0.05 * t + 3 * np.sin(2 * np.pi * t / max(period, 2))
             + rng.normal(scale=0.5, size=len(t)).cumsum() * 0.3)
        train, actual = y[:n_train], y[n_train:]
        forecast = actual + rng.normal(scale=1.0, size=n_test)
        got = my_mase(forecast.copy(), actual.copy(), train.copy(), period)
        expect(isinstance(got, (int, float, np.floating, np.integer)) or
               (hasattr(got, "shape") and np.size(got) == 1),
               f"my_mase should return one number, got {type(got).__name__}")
        got = float(np.asarray(got).reshape(()))
        err = _mae(forecast, actual)
        want = err / _snaive_mae(train, period)
        if np.isclose(got, want, rtol=1e-6):
            continue
        wrong = {
            "you scaled by the non-seasonal naive error (y_t - y_{t-1}); MASE for a seasonal "
            "series uses the seasonal naive error y_t - y_{t-m}": err / _snaive_mae(train, 1),
            "you scaled by the seasonal naive error on the *test* part; the scale must come from "
            "the training part only (known before forecasting, and defined for short tests)":
                err / _snaive_mae(actual, period) if n_test > period else np.nan,
            "you scaled by the seasonal naive error of the whole series (train + test); use the "
            "training part only": err / _snaive_mae(np.concatenate([train, actual]), period),
            "you used RMSE (squared errors) in the numerator; MASE uses absolute errors":
                float(np.sqrt(np.mean((actual - forecast) ** 2))) / _snaive_mae(train, period),
            "you averaged the ratios |e_t| / |y_t - y_{t-m}| point by point; MASE divides the "
            "mean absolute error by one scale":
                float(np.mean(np.abs(actual - forecast)
                              / np.abs(train[period:] - train[:-period])[:n_test])),
            "you returned the inverse ratio (scale / MAE)": 1.0 / want,
        }
        for message, value in wrong.items():
            if np.isfinite(value) and np.isclose(got, value, rtol=1e-6):
                raise CheckFailed(f"period {period}: got {got:.4f}, expected {want:.4f}: "
                                  f"{message}")
        raise CheckFailed(f"period {period}: my_mase returned {got:.4f}, expected {want:.4f} "
                          "= mean|actual - forecast| / mean_t |train[t] - train[t-period]|")


# --------------------------------------------------------------------------- 11.3 leaks
_LEAKS = {
    "A": (False, "fitting the scaler on the training part and building each test input from "
              "values before its origin uses nothing from the future"),
    "B": (True, "a scaler fitted on the whole series has seen the test period's mean and "
                "spread: information from the future enters every input and output"),
    "C": (True, "shuffling windows before the split puts windows that overlap the test "
                "windows, and their targets, into the training set"),
    "D": (False, "a first difference y_t - y_{t-1} uses only the present and the past, so "
                 "differencing the whole series first leaks nothing"),
    "E": (True, "a centred moving average at t averages values after t: the input already "
                "contains part of the future it is asked to forecast"),
    "F": (False, "choosing the step count on the validation part and reporting the test part "
                 "once is the honest protocol"),
    "G": (True, "choosing the ARIMA order by its *test* score makes the test score a "
                "selection criterion, so it is optimistic"),
}


@self_check("Exercise 11.3 (★★): find the leaks")
def check_leaks(leaky: Any) -> None:
    """``leaky``: the set of letters (A-G) of the exercise's pipelines whose test score is
    contaminated by information from the test period."""
    expect_answered(leaky is not None, "not attempted yet: set leaky to a set of letters, "
                                       "e.g. {'A', 'C'}")
    expect(isinstance(leaky, (set, frozenset, list, tuple, str)),
           f"leaky should be a set of letters, got {type(leaky).__name__}")
    letters = {str(item).strip().upper() for item in leaky if str(item).strip()}
    unknown = letters - set(_LEAKS)
    expect(not unknown, f"unknown pipeline letters {sorted(unknown)}: use A-G")
    for letter, (leaks, why) in _LEAKS.items():
        if leaks and letter not in letters:
            raise CheckFailed(f"pipeline {letter} leaks: {why}")
        if not leaks and letter in letters:
            raise CheckFailed(f"pipeline {letter} does not leak: {why}")


# --------------------------------------------------------------------------- 11.4 experiment
def _co2_levels() -> np.ndarray:
    from ..timeseries import load_co2
    return load_co2().to_numpy()


def _linear_direct(y: np.ndarray, n_train: int, starts: np.ndarray, L: int, H: int,
                   difference: bool = True, intercept: bool = True,
                   fit_end: int | None = None) -> np.ndarray:
    """Least-squares direct forecasts (len(starts), H) on differences (or levels)."""
    base = np.diff(y, prepend=np.nan) if difference else y
    first = 1 if difference else 0
    X, Y = _windows(base[first:fit_end or n_train], L, H)
    design = np.column_stack([X, np.ones(len(X))]) if intercept else X
    coef, *_ = np.linalg.lstsq(design, Y, rcond=None)
    inputs = base[starts[:, None] - L + np.arange(L)]
    if intercept:
        inputs = np.column_stack([inputs, np.ones(len(inputs))])
    pred = inputs @ coef
    return y[starts - 1][:, None] + np.cumsum(pred, axis=1) if difference else pred


def _linear_experiment_reference() -> dict[str, tuple[float, float]]:
    """The experiment's answer and the numbers common mistakes give: ``name → (h1, h12)``."""
    y = _co2_levels()
    n = len(y)
    n_train, H, L, m = n - 106, 12, 24, 12
    starts = np.arange(n_train + 53, n - H + 1)
    actual = y[starts[:, None] + np.arange(H)]

    def per_h(f: np.ndarray, scale_period: int = m) -> tuple[float, float]:
        scale = _snaive_mae(y[:n_train], scale_period)
        err = np.mean(np.abs(actual - f), axis=0) / scale
        return float(err[0]), float(err[-1])

    return {
        "right": per_h(_linear_direct(y, n_train, starts, L, H)),
        "levels": per_h(_linear_direct(y, n_train, starts, L, H, difference=False)),
        "no intercept": per_h(_linear_direct(y, n_train, starts, L, H, intercept=False)),
        "non-seasonal scale": per_h(_linear_direct(y, n_train, starts, L, H), 1),
        "fitted on all": per_h(_linear_direct(y, n_train, starts, L, H, fit_end=n)),
    }


_LINEAR_HINTS = {
    "levels": "these are the numbers of the model fitted on *levels*: take first differences "
              "d_t = y_t - y_(t-1), fit and forecast those, then add their cumulative sum to the "
              "last level",
    "no intercept": "you fitted without an intercept: the differences of co2 have a positive "
                    "mean (the trend), add a column of ones",
    "non-seasonal scale": "you scaled MASE by the non-seasonal naive error; use the training "
                          "part's seasonal (m = 12) naive error",
    "fitted on all": "you fitted the least squares on windows from the whole series, test "
                     "included: fit on windows that lie wholly inside the training part",
}


@self_check("Exercise 11.4 (★★★): a linear direct forecaster")
def check_linear_experiment(mase_h1: Any, mase_h12: Any) -> None:
    """``mase_h1``, ``mase_h12``: test MASE at horizons 1 and 12 of the least-squares direct
    forecaster of the exercise (24 past first differences and an intercept → 12 future
    differences, fitted on the training part of monthly co2, 42 test origins)."""
    expect_answered(mase_h1 is not None and mase_h12 is not None,
                    "not attempted yet: set mase_h1 and mase_h12 to the values you measured")
    got = []
    for name, value in (("mase_h1", mase_h1), ("mase_h12", mase_h12)):
        expect(isinstance(value, (int, float, np.floating, np.integer))
               and not isinstance(value, bool) and np.isfinite(float(value)),
               f"{name} should be a finite number, got {value!r}")
        got.append(float(value))
    refs = _linear_experiment_reference()
    want = refs["right"]
    if np.allclose(got, want, rtol=2e-3):
        return
    if np.allclose(got, want[::-1], rtol=2e-3):
        raise CheckFailed("mase_h1 and mase_h12 look swapped: horizon 1 is the first column")
    for name, hint in _LINEAR_HINTS.items():
        if np.allclose(got, refs[name], rtol=2e-3):
            raise CheckFailed(f"got ({got[0]:.3f}, {got[1]:.3f}): {hint}")
    raise CheckFailed(f"got ({got[0]:.3f}, {got[1]:.3f}), which is not what the protocol "
                      "gives. Check: windows of 24 differences from the training part only, "
                      "an intercept, forecasts from d[t-24:t] at each test origin t, levels = "
                      "y[t-1] + cumulative sum, MASE scaled by the training part's seasonal "
                      "naive MAE (m = 12)")
