"""Time-series forecasting on real data: loaders, honest splits, windows, baselines, metrics.

Chapter 11 forecasts two real series that ship with statsmodels (no network needed): the
Mauna Loa CO2 record and the yearly sunspot numbers. Everything a fair comparison needs is
here: chronological splits, a scaler fitted on the training part only, sliding windows, the
naive / seasonal-naive / (S)ARIMA baselines evaluated on exactly the forecast origins the
networks see, a GRU forecaster (one-step, recursive multi-step, direct multi-output), and MAE,
RMSE and MASE.

Conventions: a *series* is a 1-D float array ``y[0..n-1]``. A *forecast origin* ``t`` means
that ``y[:t]`` is known and ``y[t], ..., y[t+H-1]`` (horizons 1..H) are forecast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from . import validation

__all__ = ["load_co2", "load_sunspots", "chronological_split", "Scaler", "sliding_windows",
           "origins", "naive_forecast", "seasonal_naive_forecast", "baseline_forecasts",
           "arima_forecasts", "mae", "rmse", "mase_scale", "mase", "pinball_loss",
           "GRUForecaster", "recursive_forecast", "train_forecaster", "network_forecasts"]


# ----------------------------------------------------------------------------- data
def _statsmodels() -> Any:
    try:
        import statsmodels.api as sm
    except ImportError:  # pragma: no cover - exercised by a monkeypatched test
        raise ImportError("chapter 11 needs statsmodels for its data sets and ARIMA baselines: "
                          "pip install 'rnncourse[data]' (or pip install statsmodels)") from None
    return sm


def load_co2(how: str = "monthly") -> Any:
    """The Mauna Loa CO2 record (ppm) from ``statsmodels.datasets.co2``, as a pandas Series.

    The raw data are weekly (Saturdays, March 1958 to December 2001) with 59 missing weeks.
    ``how="monthly"`` (the chapter's choice) averages the weeks available in each calendar
    month, then fills the few months with no reading at all by linear interpolation: the
    season becomes an exact period of 12, and 526 points keep training cheap.
    ``how="weekly"`` fills the missing weeks by linear interpolation in time instead.
    """
    if how not in ("monthly", "weekly"):
        raise ValueError(f"how must be 'monthly' or 'weekly', got {how!r}")
    weekly = _statsmodels().datasets.co2.load_pandas().data["co2"]
    series = weekly.resample("MS").mean() if how == "monthly" else weekly
    return series.interpolate(method="time").rename("co2 (ppm)")


def load_sunspots() -> Any:
    """Yearly mean sunspot numbers 1700-2008 from ``statsmodels.datasets.sunspots`` (a
    pandas Series indexed by year): about an 11-year cycle, only 309 points."""
    data = _statsmodels().datasets.sunspots.load_pandas().data
    return data.set_index(data["YEAR"].astype(int))["SUNACTIVITY"].rename("sunspots")


def chronological_split(series: Any, n_val: int, n_test: int
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split a series *in time order*: ``(train, validation, test)``, the last ``n_test``
    points for test and the ``n_val`` before them for validation. Never shuffle a series."""
    validation.check_array(np.asarray(series), "series", ("n",), floating=False)
    y = np.asarray(series, dtype=np.float64)
    n_val, n_test = (validation.check_positive_int(v, name)
                     for v, name in ((n_val, "n_val"), (n_test, "n_test")))
    if n_val + n_test >= len(y):
        raise ValueError(f"n_val + n_test = {n_val + n_test} leaves no training data in a "
                         f"series of length {len(y)}")
    n_train = len(y) - n_val - n_test
    return y[:n_train], y[n_train:n_train + n_val], y[n_train + n_val:]


@dataclass
class Scaler:
    """Standardise with a mean and standard deviation *fitted on the training part only*:
    ``z = (y - mean) / std``. Fitting it on the whole series leaks the test period's level."""

    mean: float = 0.0
    std: float = 1.0

    @classmethod
    def fit(cls, train: Any) -> Scaler:
        y = np.asarray(train, dtype=np.float64)
        return cls(float(y.mean()), float(y.std()) or 1.0)

    def transform(self, y: Any) -> Any:
        return (y - self.mean) / self.std

    def inverse(self, z: Any) -> Any:
        return z * self.std + self.mean


# ----------------------------------------------------------------------------- windows
def _check_windows(series: Any, input_len: Any, horizon: Any) -> None:
    validation.check_array(np.asarray(series), "series", ("n",), floating=False)
    input_len = validation.check_positive_int(input_len, "input_len")
    horizon = validation.check_positive_int(horizon, "horizon")
    if input_len + horizon > len(series):
        raise ValueError(f"input_len + horizon = {input_len + horizon} is longer than the "
                         f"series ({len(series)} points): no window fits")


@validation.checked_by(_check_windows)
def sliding_windows(series: np.ndarray, input_len: int, horizon: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """All windows of a series: inputs ``X[i] = y[i : i+L]``, targets ``Y[i] = y[i+L : i+L+H]``.

    Shapes: ``series`` ``(n,)`` → ``X`` ``(n-L-H+1, L)``, ``Y`` ``(n-L-H+1, H)``. Every window
    uses the last possible target ``y[n-1]``; no target appears in its own input.

    >>> X, Y = sliding_windows(np.arange(6.0), 3, 2)
    >>> X.tolist(), Y.tolist()
    ([[0.0, 1.0, 2.0], [1.0, 2.0, 3.0]], [[3.0, 4.0], [4.0, 5.0]])
    """
    series = np.asarray(series)
    count = len(series) - input_len - horizon + 1              # number of windows
    starts = np.arange(count)[:, None]                         # (count, 1)
    X = series[starts + np.arange(input_len)]                  # (count, L)
    Y = series[starts + input_len + np.arange(horizon)]        # (count, H)
    return X, Y


def origins(start: int, stop: int, horizon: int) -> np.ndarray:
    """Forecast origins ``t`` whose whole horizon ``t, ..., t+H-1`` lies in ``[start, stop)``:
    ``start, ..., stop-H``. Every model is scored on exactly these."""
    return np.arange(start, stop - horizon + 1)


# ----------------------------------------------------------------------------- baselines
def naive_forecast(history: np.ndarray, horizon: int) -> np.ndarray:
    """Last value: ``ŷ_{t+h} = y_{t-1}`` for every horizon h (a random walk's best guess)."""
    return np.full(horizon, history[-1], dtype=np.float64)


def seasonal_naive_forecast(history: np.ndarray, horizon: int, period: int) -> np.ndarray:
    """Same season last cycle: ``ŷ_{t+h-1} = y_{t+h-1-m·k}`` with ``k = ceil(h/m)``, i.e. the
    last observed value of the same phase of the season (``m = period``)."""
    h = np.arange(horizon)                                     # 0 .. H-1
    return history[len(history) - period + h % period].astype(np.float64)


def baseline_forecasts(series: np.ndarray, starts: np.ndarray, horizon: int, period: int
                       ) -> dict[str, np.ndarray]:
    """Naive and seasonal-naive forecasts ``(len(starts), H)`` from each origin."""
    y = np.asarray(series, dtype=np.float64)
    return {"naive": np.stack([naive_forecast(y[:t], horizon) for t in starts]),
            "seasonal naive": np.stack([seasonal_naive_forecast(y[:t], horizon, period)
                                        for t in starts])}


def arima_forecasts(series: np.ndarray, n_fit: int, starts: np.ndarray, horizon: int,
                    order: tuple[int, int, int], seasonal_order: tuple[int, int, int, int]
                    = (0, 0, 0, 0), trend: str | None = None) -> tuple[np.ndarray, Any]:
    """(S)ARIMA forecasts ``(len(starts), H)``: parameters estimated *once* by maximum
    likelihood on ``series[:n_fit]``, then, with those parameters fixed, the Kalman filter
    is run over ``series[:t]`` for each origin ``t`` and forecasts ``H`` steps ahead.
    Returns ``(forecasts, fitted results)``."""
    sm = _statsmodels()
    y = np.asarray(series, dtype=np.float64)
    model = sm.tsa.SARIMAX(y[:n_fit], order=order, seasonal_order=seasonal_order, trend=trend)
    fitted = model.fit(disp=False)
    extended = fitted.apply(y[:max(starts)])           # same parameters, more observations
    out = []
    for t in starts:
        if t == n_fit:
            out.append(fitted.forecast(horizon))
        else:                                          # condition on y[:t] only
            out.append(extended.apply(y[:t]).forecast(horizon))
    return np.asarray(out), fitted


# ----------------------------------------------------------------------------- metrics
def mae(forecast: Any, actual: Any, axis: int | None = None) -> Any:
    """Mean absolute error ``mean |y - ŷ|`` (over ``axis``; e.g. ``axis=0`` per horizon)."""
    return np.mean(np.abs(np.asarray(actual) - np.asarray(forecast)), axis=axis)


def rmse(forecast: Any, actual: Any, axis: int | None = None) -> Any:
    """Root mean squared error ``sqrt(mean (y - ŷ)²)``."""
    return np.sqrt(np.mean((np.asarray(actual) - np.asarray(forecast)) ** 2, axis=axis))


def mase_scale(train: Any, period: int = 1) -> float:
    """MASE's denominator (Hyndman & Koehler 2006): the in-sample MAE of the seasonal naive
    forecast on the *training* part, ``mean_{t ≥ m} |y_t - y_{t-m}|``."""
    y = np.asarray(train, dtype=np.float64)
    return float(np.mean(np.abs(y[period:] - y[:-period])))


def mase(forecast: Any, actual: Any, train: Any, period: int = 1,
         axis: int | None = None) -> Any:
    """Mean absolute scaled error: ``MAE / mase_scale(train, period)``. Below 1: better than
    the in-sample seasonal naive forecast; scale-free, so comparable across series."""
    return mae(forecast, actual, axis) / mase_scale(train, period)


def pinball_loss(prediction: torch.Tensor, target: torch.Tensor, quantile: float
                 ) -> torch.Tensor:
    """Quantile (pinball) loss ``mean max(q (y - ŷ), (q - 1)(y - ŷ))``; its minimiser is the
    q-quantile of the target's distribution (the median for q = 0.5, where it is MAE / 2)."""
    diff = target - prediction
    return torch.maximum(quantile * diff, (quantile - 1) * diff).mean()


# ----------------------------------------------------------------------------- networks
class GRUForecaster(nn.Module):
    """``torch.nn.GRU`` reading a window ``(batch, L)`` of a scaled series, and a linear head
    on its last state that outputs ``horizon`` values ``(batch, horizon)`` at once (the
    *direct* multi-output strategy; ``horizon=1`` is a one-step model)."""

    def __init__(self, hidden_size: int = 32, horizon: int = 1, num_layers: int = 1):
        super().__init__()
        self.horizon = validation.check_positive_int(horizon, "horizon")
        self.rnn = nn.GRU(1, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, horizon)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        output, _ = self.rnn(input.unsqueeze(-1))              # (batch, L, hidden)
        return self.head(output[:, -1])                        # (batch, horizon)


def recursive_forecast(model: nn.Module, window: torch.Tensor, horizon: int) -> torch.Tensor:
    """Multi-step forecasts from a one-step model by feeding its own predictions back:
    ``ŷ_{t+1} = f(window)``, then the window slides to include ``ŷ_{t+1}``, and so on.
    ``window`` ``(batch, L)`` → ``(batch, horizon)``."""
    steps = []
    for _ in range(horizon):
        step = model(window)[:, :1]                            # (batch, 1): first output only
        steps.append(step)
        window = torch.cat([window[:, 1:], step], dim=1)       # drop oldest, append forecast
    return torch.cat(steps, dim=1)


@dataclass
class Prepared:
    """A series made ready for a network: ``z`` is the scaled (optionally differenced)
    series aligned with the levels so that ``z[t]`` is known at the same time as ``y[t]``."""

    y: np.ndarray
    z: np.ndarray
    scaler: Scaler
    difference: bool

    @classmethod
    def make(cls, series: Any, n_train: int, difference: bool, leak: bool = False) -> Prepared:
        y = np.asarray(series, dtype=np.float64)
        base = np.diff(y, prepend=np.nan) if difference else y   # z[0] undefined if differenced
        first = 1 if difference else 0
        fit_on = base[first:] if leak else base[first:n_train]   # leak: fitted on every value
        scaler = Scaler.fit(fit_on)
        return cls(y, scaler.transform(base), scaler, difference)

    def inputs(self, starts: np.ndarray, input_len: int) -> torch.Tensor:
        """Windows ending just before each origin: ``z[t-L : t]`` ``(len(starts), L)``."""
        index = np.asarray(starts)[:, None] - input_len + np.arange(input_len)
        return torch.tensor(self.z[index], dtype=torch.float32)

    def to_levels(self, starts: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        """Scaled predictions ``(len(starts), H)`` → forecasts of ``y`` in its own units."""
        values = self.scaler.inverse(predicted)
        if self.difference:                                    # levels = last level + cumsum
            values = self.y[np.asarray(starts) - 1][:, None] + np.cumsum(values, axis=1)
        return values


def train_forecaster(prepared: Prepared, n_train: int, input_len: int, horizon: int,
                     hidden_size: int = 32, steps: int = 1500, batch_size: int = 64,
                     lr: float = 1e-2, seed: int = 0, device: torch.device | None = None,
                     eval_starts: np.ndarray | None = None, eval_every: int | None = None,
                     checkpoints: dict[int, dict[str, torch.Tensor]] | None = None
                     ) -> tuple[GRUForecaster, Any]:
    """Train a :class:`GRUForecaster` on random windows that lie wholly inside the training
    part (targets included): Adam, mean squared error of the scaled targets, gradient norm
    clipped at 1, a fixed number of steps (``training.fit``).

    ``eval_starts``: origins (e.g. the validation part's) whose windows give the held-out
    loss recorded every ``eval_every`` steps in ``history.eval_loss``; by default the first
    256 training windows, at the end only. ``checkpoints``: a dict filled with
    ``{step: state_dict}`` at every evaluation, to pick the step count on validation.
    Returns ``(model after the last step, history)``.
    """
    from . import training

    first = 1 if prepared.difference else 0
    X, Y = sliding_windows(prepared.z[first:n_train], input_len, horizon)
    X_t, Y_t = torch.tensor(X, dtype=torch.float32), torch.tensor(Y, dtype=torch.float32)
    if eval_starts is None:
        held_out = (X_t[:256], Y_t[:256])
    else:
        targets = prepared.z[np.asarray(eval_starts)[:, None] + np.arange(horizon)]
        held_out = (prepared.inputs(eval_starts, input_len),
                    torch.tensor(targets, dtype=torch.float32))
    every = eval_every or steps

    def batch(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        pick = torch.randint(0, len(X_t), (batch_size,), generator=gen)
        return X_t[pick], Y_t[pick]

    def keep(done: int, model: nn.Module) -> None:
        if checkpoints is not None and done and done % every == 0:
            checkpoints[done] = {k: v.detach().cpu().clone()
                                 for k, v in model.state_dict().items()}

    torch.manual_seed(seed)
    model = GRUForecaster(hidden_size, horizon)
    history = training.fit(model, batch, steps=steps, loss_fn=nn.functional.mse_loss, lr=lr,
                           seed=seed, eval_every=every, eval_batch=held_out, device=device,
                           desc=f"GRU seed {seed}", before_step=keep)
    model = model.cpu().eval()
    keep(steps if steps % every == 0 else 0, model)
    return model, history


def network_forecasts(model: nn.Module, prepared: Prepared, starts: np.ndarray,
                      input_len: int, horizon: int, recursive: bool = False) -> np.ndarray:
    """Forecasts ``(len(starts), H)`` in the series' units from each origin: direct (the
    head's ``H`` outputs) or recursive (a one-step model fed back ``H`` times)."""
    window = prepared.inputs(starts, input_len)
    with torch.no_grad():
        out = recursive_forecast(model, window, horizon) if recursive else model(window)
    return prepared.to_levels(starts, out[:, :horizon].double().numpy())


# ----------------------------------------------------------------------------- diagram
def draw_strategies(ax_direct: Any, ax_recursive: Any, steps: int = 4) -> None:
    """Draw the two multi-step strategies side by side: a window of the last ``L`` values
    read by a GRU whose head outputs all ``H`` forecasts at once (direct), and a one-step
    GRU whose forecast is appended to the window and fed back ``H`` times (recursive)."""
    from .plotting import PALETTE, arrow, box, finish_diagram

    steps = validation.check_positive_int(steps, "steps")
    # direct: inputs along the bottom, GRU row, one head, H outputs
    for i in range(steps):
        label = f"$y_{{t-{steps - i}}}$" if i < steps - 1 else "$y_{t-1}$"
        box(ax_direct, i, 0, label, "white", width=0.8, fontsize=8)
        box(ax_direct, i, 1, "GRU", PALETTE["sky"], width=0.8, fontsize=8)
        arrow(ax_direct, (i, 0.22), (i, 0.78), shrink=1)
        if i:
            arrow(ax_direct, (i - 0.6, 1), (i - 0.4, 1), shrink=0)
    box(ax_direct, steps - 1, 2.1, "linear head\n(H outputs)", PALETTE["orange"], width=1.5,
        height=0.6, fontsize=8)
    arrow(ax_direct, (steps - 1, 1.22), (steps - 1, 1.78), label="$h_{t-1}$",
          label_offset=(0.3, 0))
    for k in range(3):
        x = steps - 2 + k
        text = ["$\\hat y_t$", "$\\hat y_{t+1}$", "$\\cdots\\ \\hat y_{t+H-1}$"][k]
        box(ax_direct, x, 3.2, text, PALETTE["green"], width=0.9, fontsize=8)
        arrow(ax_direct, (steps - 1, 2.42), (x, 2.98), shrink=1)
    ax_direct.text(-0.4, -0.55, "window of L past values (first differences, scaled)",
                   fontsize=8, ha="left")
    finish_diagram(ax_direct, (-0.6, steps + 1.2), (-0.8, 3.6), "direct: one pass, H outputs")
    # recursive: a one-step model in a loop
    box(ax_recursive, 0, 0, "window\n$y_{t-L} \\ldots y_{t-1}$", "white", width=1.6,
        height=0.6, fontsize=8)
    box(ax_recursive, 0, 1.3, "GRU + head\n(1 output)", PALETTE["sky"], width=1.6, height=0.6,
        fontsize=8)
    box(ax_recursive, 0, 2.6, "$\\hat y_t$", PALETTE["green"], width=0.9, fontsize=9)
    arrow(ax_recursive, (0, 0.32), (0, 0.98), shrink=1)
    arrow(ax_recursive, (0, 1.62), (0, 2.38), shrink=1)
    arrow(ax_recursive, (0.5, 2.6), (0.85, 0.1), rad=-0.5, colour=PALETTE["vermillion"],
          label="append $\\hat y$,\ndrop the oldest", label_offset=(0.95, 0.25))
    ax_recursive.text(-0.8, -0.55, "repeat H times: errors are fed back", fontsize=8,
                      ha="left")
    finish_diagram(ax_recursive, (-1.0, 2.6), (-0.8, 3.6), "recursive: H passes, 1 output")
