r"""The classic ways RNN training breaks, as small measurable experiments (chapter 12).

Each helper here serves one experiment of the chapter:

- :func:`graph_size` counts the autograd nodes behind a loss: it grows chunk after chunk when a
  truncated-BPTT loop forgets to ``detach()`` the carried state.
- :class:`LockedDropout` is variational ("locked") dropout (Gal & Ghahramani, 2016; Merity et
  al., 2018): one mask per sequence, reused at every time step,

  .. math:: \tilde x_t = \frac{m \odot x_t}{1 - p}, \qquad m_j \sim \mathrm{Bernoulli}(1 - p),

  where :math:`m` does not depend on :math:`t`.
- :func:`lr_range_test` and :func:`suggest_lr` (Smith, 2017) raise the learning rate
  geometrically during one short run and pick a rate from where the loss fell fastest;
  :func:`lr_sweep` trains one model per rate at an equal budget.
- :class:`NormRNN` is a tanh RNN with batch normalisation of its two pre-activations, either
  with statistics *shared* over time steps or *per time step* (Cooijmans et al., 2017), or
  with layer normalisation (Ba et al., 2016, :func:`rnncourse.deep.layer_norm`).
- :func:`init_lstm_` sets the two initialisations practitioners use: orthogonal recurrent
  weights and a forget-gate bias of 1.
- :func:`random_search` samples hyper-parameters (log-uniform where asked) (Bergstra &
  Bengio, 2012).
- :func:`leaky_and_proper_splits` prepares a forecasting data set twice: with the leaks
  (scaler fitted on all data, windows split at random) and properly (in time order).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from . import training
from .deep import layer_norm
from .timeseries import Scaler, sliding_windows
from .validation import check_array, check_positive_int, check_probability

__all__ = ["graph_size", "LockedDropout", "lr_range_test", "suggest_lr", "lr_sweep",
           "NormRNN", "init_lstm_", "random_search", "Trial", "leaky_and_proper_splits",
           "Splits", "ewma", "irnn_regressor", "CycleTagger", "cycle_dataset"]

Batch = tuple[torch.Tensor, torch.Tensor]


# ------------------------------------------------------------------------------ detach
def graph_size(tensor: torch.Tensor) -> int:
    """Number of distinct autograd nodes reachable from ``tensor.grad_fn``: how much graph a
    ``backward()`` from ``tensor`` would walk (0 for a tensor without history)."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    seen: set[int] = set()
    stack = [tensor.grad_fn] if tensor.grad_fn is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(n for n, _ in node.next_functions if n is not None)
    return len(seen)


# ------------------------------------------------------------------------------ dropout
class LockedDropout(nn.Module):
    r"""Variational (locked) dropout: one Bernoulli mask per sequence and feature, reused at
    every time step; identity in ``eval()`` mode.

    .. math:: \tilde x_{b,t,j} = x_{b,t,j}\, m_{b,j} / (1-p), \qquad m_{b,j} \sim
              \mathrm{Bernoulli}(1-p)

    Args:
        p: probability of dropping a feature.
        batch_first: inputs are ``(batch, seq_len, features)`` if True, else ``(seq_len,
            batch, features)``.

    Example::

        >>> drop = LockedDropout(0.5)
        >>> y = drop(torch.ones(2, 4, 3))
        >>> bool((y == y[:, :1]).all())          # the same mask at every step
        True
    """

    def __init__(self, p: float = 0.5, batch_first: bool = True) -> None:
        super().__init__()
        self.p = check_probability(p, "p")
        self.batch_first = batch_first

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        check_array(input, "input", ("batch", "seq_len", "features") if self.batch_first
                    else ("seq_len", "batch", "features"))
        if not self.training or self.p == 0.0:
            return input
        if self.batch_first:
            shape = (input.shape[0], 1, input.shape[2])            # (batch, 1, features)
        else:
            shape = (1, input.shape[1], input.shape[2])            # (1, batch, features)
        mask = input.new_empty(shape).bernoulli_(1.0 - self.p)     # one mask per sequence
        return input * mask / (1.0 - self.p)                       # broadcast over time

    def extra_repr(self) -> str:
        return f"p={self.p}, batch_first={self.batch_first}"


# ------------------------------------------------------------------------------ learning rate
def _check_lr_range(lr_min: float, lr_max: float) -> None:
    if not (isinstance(lr_min, (int, float)) and isinstance(lr_max, (int, float))
            and 0 < lr_min < lr_max):
        raise ValueError(f"need 0 < lr_min < lr_max, got lr_min={lr_min!r}, lr_max={lr_max!r}")


def lr_range_test(model: nn.Module, make_batch: Callable[[torch.Generator], Batch],
                  loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                  lr_min: float = 1e-5, lr_max: float = 1.0, steps: int = 100,
                  seed: int = 0, stop_factor: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    r"""Smith's learning-rate range test with Adam: step :math:`k` uses

    .. math:: \eta_k = \eta_{\min} (\eta_{\max}/\eta_{\min})^{k/(K-1)},

    one batch per step; the run stops once the loss exceeds ``stop_factor`` times the best
    loss so far (or is not finite). ``model`` is trained in place.

    Returns:
        ``(lrs, losses)``, each of length <= ``steps``: the rate of each step and its loss.
    """
    _check_lr_range(lr_min, lr_max)
    steps = check_positive_int(steps, "steps")
    stream = torch.Generator().manual_seed(seed)
    lrs = lr_min * (lr_max / lr_min) ** (np.arange(steps) / max(steps - 1, 1))
    opt = torch.optim.Adam(model.parameters(), lr=float(lrs[0]))
    losses: list[float] = []
    model.train()
    for lr in lrs:
        for group in opt.param_groups:
            group["lr"] = float(lr)
        x, y = make_batch(stream)
        loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if not math.isfinite(losses[-1]) or losses[-1] > stop_factor * min(losses):
            break
    return lrs[:len(losses)], np.asarray(losses)


def ewma(values: Sequence[float] | np.ndarray, beta: float = 0.9) -> np.ndarray:
    r"""Bias-corrected exponential moving average, :math:`s_k = \beta s_{k-1} + (1-\beta) v_k`,
    returned as :math:`s_k / (1 - \beta^{k+1})`."""
    values = np.asarray(values, dtype=np.float64)
    out, s = np.empty_like(values), 0.0
    for k, v in enumerate(values):
        s = beta * s + (1 - beta) * v
        out[k] = s / (1 - beta ** (k + 1))
    return out


def suggest_lr(lrs: np.ndarray, losses: np.ndarray, beta: float = 0.9, skip: int = 5) -> float:
    """Smith's reading of a range test: the rate where the smoothed loss (:func:`ewma`) falls
    fastest per decade of rate, i.e. the most negative slope of the smoothed loss against
    ``log10(lr)``, ignoring the first ``skip`` steps (where the average has barely started)."""
    lrs, losses = np.asarray(lrs, dtype=np.float64), np.asarray(losses, dtype=np.float64)
    if lrs.shape != losses.shape or lrs.ndim != 1 or len(lrs) < skip + 3:
        raise ValueError(f"lrs and losses must be 1-D of equal length >= skip + 3 = {skip + 3},"
                         f" got shapes {lrs.shape} and {losses.shape}")
    finite = np.isfinite(losses)
    smooth = ewma(losses[finite], beta)
    slope = np.gradient(smooth, np.log10(lrs[finite]))
    return float(lrs[finite][skip + int(np.argmin(slope[skip:]))])


def lr_sweep(make_model: Callable[[], nn.Module], make_batch: Callable[[torch.Generator], Batch],
             lrs: Sequence[float], steps: int,
             loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
             optimizer: str = "adam", seed: int = 0, eval_batch: Batch | None = None,
             **fit_kwargs: Any) -> list[training.History]:
    """Train a fresh ``make_model()`` for ``steps`` steps at each rate (equal budgets, same
    batches) with :func:`rnncourse.training.fit`; ``optimizer`` is ``"adam"`` or ``"sgd"``.
    The model is built after ``torch.manual_seed(seed)`` so every rate starts from the same
    weights."""
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    histories = []
    for lr in lrs:
        torch.manual_seed(seed)
        model = make_model()
        opt = (torch.optim.Adam(model.parameters(), lr=lr) if optimizer == "adam"
               else torch.optim.SGD(model.parameters(), lr=lr))
        histories.append(training.fit(model, make_batch, steps, loss_fn=loss_fn, optimizer=opt,
                                      seed=seed, eval_batch=eval_batch, **fit_kwargs))
    return histories


# ------------------------------------------------------------------------------ normalisation
_NORMS = ("none", "batch_shared", "batch_per_step", "layer")


class NormRNN(nn.Module):
    r"""A tanh RNN whose two pre-activations are normalised separately,

    .. math:: h_t = \tanh\big(N_x(W_{ih} x_t) + N_h(W_{hh} h_{t-1}) + b\big),

    with ``norm`` one of ``"none"``, ``"batch_shared"`` (one ``BatchNorm1d`` pair for all
    steps: its statistics mix every time step), ``"batch_per_step"`` (a pair per step ``t <
    max_len``, later steps reuse the last; Cooijmans et al., 2017) or ``"layer"`` (layer norm
    over the features of each sample). BN's gains start at 0.1, as Cooijmans et al. advise.

    Shape: input ``(batch, seq_len, input_size)`` → output ``(batch, seq_len, hidden_size)``.
    Not a :class:`rnncourse.recurrent.RNNBase` layer: batch norm keeps running statistics
    per step, which the base's cell signature has no place for.
    """

    def __init__(self, input_size: int, hidden_size: int, norm: str = "none",
                 max_len: int = 1) -> None:
        super().__init__()
        if norm not in _NORMS:
            raise ValueError(f"norm must be one of {_NORMS}, got {norm!r}")
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.norm = norm
        self.weight_ih = nn.Linear(input_size, hidden_size, bias=False)
        self.weight_hh = nn.Linear(hidden_size, hidden_size, bias=True)
        n_bn = {"batch_shared": 1, "batch_per_step": check_positive_int(max_len, "max_len")}
        count = n_bn.get(norm, 0)
        self.bn_x = nn.ModuleList(nn.BatchNorm1d(hidden_size) for _ in range(count))
        self.bn_h = nn.ModuleList(nn.BatchNorm1d(hidden_size) for _ in range(count))
        for bn in [*self.bn_x, *self.bn_h]:
            nn.init.constant_(bn.weight, 0.1)
            nn.init.zeros_(bn.bias)
        if norm == "layer":
            self.ln_gain = nn.Parameter(torch.ones(2, hidden_size))
            self.ln_bias = nn.Parameter(torch.zeros(2, hidden_size))

    def _normalise(self, z: torch.Tensor, which: int, t: int) -> torch.Tensor:
        if self.norm == "none":
            return z
        if self.norm == "layer":
            return layer_norm(z, self.ln_gain[which], self.ln_bias[which])
        bns = self.bn_x if which == 0 else self.bn_h
        return bns[min(t, len(bns) - 1)](z)                        # shared: always bns[0]

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        check_array(input, "input", ("batch", "seq_len", "input_size"),
                    {"input_size": self.input_size})
        h = input.new_zeros(input.shape[0], self.hidden_size)      # (batch, H)
        outputs = []
        for t, x_t in enumerate(input.unbind(1)):                  # x_t: (batch, I)
            a = self._normalise(self.weight_ih(x_t), 0, t)
            if t == 0:       # h_0 = 0: W_hh h_0 is constant, so normalising it means nothing
                r = self.weight_hh.bias.expand_as(a)
            else:
                r = self._normalise(self.weight_hh(h), 1, t)
            h = torch.tanh(a + r)                                  # (batch, H)
            outputs.append(h)
        return torch.stack(outputs, dim=1)                         # (batch, T, H)


# ------------------------------------------------------------------------------ initialisation
def init_lstm_(lstm: nn.LSTM, forget_bias: float = 1.0, orthogonal: bool = True,
               generator: torch.Generator | None = None) -> nn.LSTM:
    """Orthogonal ``weight_hh`` blocks (each ``H × H`` gate block separately) and the forget
    gate's bias ``b_ih + b_hh`` set to ``forget_bias`` (``b_ih[H:2H] = forget_bias``,
    ``b_hh[H:2H] = 0``), in every layer and direction. In place; returns ``lstm``."""
    if not isinstance(lstm, nn.LSTM):
        raise TypeError(f"lstm must be a torch.nn.LSTM, got {type(lstm).__name__}")
    hidden = lstm.hidden_size
    with torch.no_grad():
        for name, param in lstm.named_parameters():
            if name.startswith("weight_hh") and orthogonal:
                for k in range(4):
                    block = torch.empty(hidden, param.shape[1])
                    nn.init.orthogonal_(block, generator=generator)
                    param[k * hidden:(k + 1) * hidden] = block
            elif name.startswith("bias_ih"):
                param[hidden:2 * hidden] = forget_bias
            elif name.startswith("bias_hh"):
                param[hidden:2 * hidden] = 0.0
    return lstm


# ------------------------------------------------------------------------------ random search
@dataclass
class Trial:
    """One sampled configuration and the value the objective returned for it."""

    params: dict[str, Any]
    value: float


def random_search(objective: Callable[..., float],
                  space: Mapping[str, tuple[str, Any]], n_trials: int,
                  seed: int = 0) -> list[Trial]:
    """Random search (Bergstra & Bengio, 2012): ``n_trials`` configurations drawn
    independently from ``space`` and scored with ``objective(**params)`` (lower is better).

    ``space`` maps a name to ``("log", (low, high))`` (log-uniform float), ``("uniform",
    (low, high))`` or ``("choice", [options])``. Returns the trials, best first.

    >>> trials = random_search(lambda lr: (math.log10(lr) + 2) ** 2,
    ...                        {"lr": ("log", (1e-4, 1.0))}, n_trials=20)
    >>> 1e-3 < trials[0].params["lr"] < 1e-1
    True
    """
    n_trials = check_positive_int(n_trials, "n_trials")
    rng = np.random.default_rng(seed)
    trials = []
    for _ in range(n_trials):
        params = {}
        for name, (kind, spec) in space.items():
            if kind == "log":
                low, high = spec
                params[name] = float(10 ** rng.uniform(math.log10(low), math.log10(high)))
            elif kind == "uniform":
                params[name] = float(rng.uniform(*spec))
            elif kind == "choice":
                params[name] = spec[int(rng.integers(len(spec)))]
            else:
                raise ValueError(f"space[{name!r}]: kind must be 'log', 'uniform' or "
                                 f"'choice', got {kind!r}")
        trials.append(Trial(params, float(objective(**params))))
    return sorted(trials, key=lambda trial: trial.value)


# ------------------------------------------------------------------------------ leakage
@dataclass
class Splits:
    """Scaled windows ``(X, Y)`` for training and testing, and the scaler used."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    scaler: Scaler


def _windows(z: np.ndarray, input_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    X, Y = sliding_windows(z, input_len, 1)
    return torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(Y, dtype=torch.float32)


def leaky_and_proper_splits(series: np.ndarray, input_len: int, test_fraction: float = 0.2,
                            seed: int = 0) -> tuple[Splits, Splits]:
    """The same one-step forecasting data prepared two ways.

    *Leaky*: the scaler is fitted on the whole series, then all windows are shuffled and
    the last ``test_fraction`` of them is the test set — each test window overlaps training
    windows that contain its own target. *Proper*: the last ``test_fraction`` of the series
    is the test period, the scaler is fitted on the training period only, and no test target
    appears in any training window.
    """
    y = np.asarray(series, dtype=np.float64)
    check_array(y, "series", ("n",))
    check_probability(test_fraction, "test_fraction")
    input_len = check_positive_int(input_len, "input_len")
    n_test = int(round(test_fraction * len(y)))
    if not 0 < n_test < len(y) - input_len - 1:
        raise ValueError(f"test_fraction={test_fraction} leaves no train or no test windows")
    scaler = Scaler.fit(y)                                       # leak 1: all data
    X, Y = _windows(scaler.transform(y), input_len)
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))
    cut = len(X) - n_test                                         # leak 2: random windows
    leaky = Splits(X[order[:cut]], Y[order[:cut]], X[order[cut:]], Y[order[cut:]], scaler)
    train = y[:len(y) - n_test]
    scaler = Scaler.fit(train)                                    # training period only
    z = scaler.transform(y)
    x_tr, y_tr = _windows(z[:len(train)], input_len)
    x_te, y_te = _windows(z[len(train) - input_len:], input_len)   # targets in the test period
    return leaky, Splits(x_tr, y_tr, x_te, y_te, scaler)


# ----------------------------------------------------------------------- the chapter's models
def irnn_regressor(hidden_size: int = 32, seed: int = 0) -> nn.Module:
    """The ReLU RNN of chapter 4 with ``W_hh = I`` (IRNN) and a linear read-out of the last
    step, built after ``torch.manual_seed(seed)``: the model of the clipping experiment."""
    from .recurrent import SequenceModel
    from .vanishing import identity_init_

    torch.manual_seed(seed)
    model = SequenceModel("rnn", 2, hidden_size, nonlinearity="relu")
    identity_init_(model.rnn)
    return model


class CycleTagger(nn.Module):
    """Next-symbol predictor for :func:`rnncourse.deep.noisy_cycle`: one-hot input ``(batch,
    seq_len, n_symbols)`` → ``nn.GRU`` → :class:`LockedDropout` → ``nn.Linear`` → logits
    ``(batch, seq_len, n_symbols)``."""

    def __init__(self, n_symbols: int = 6, hidden_size: int = 32, dropout: float = 0.0) -> None:
        super().__init__()
        self.rnn = nn.GRU(n_symbols, hidden_size, batch_first=True)
        self.drop = LockedDropout(dropout)
        self.head = nn.Linear(hidden_size, n_symbols)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.rnn(input)[0]))


def cycle_dataset(n: int, seq_len: int, seed: int, n_symbols: int = 6,
                  p_follow: float = 0.7) -> Batch:
    """``n`` sequences of :func:`rnncourse.deep.noisy_cycle` as (one-hot inputs ``(n, seq_len,
    K)``, next-symbol targets ``(n, seq_len)``), from ``torch.Generator().manual_seed(seed)``."""
    from .deep import noisy_cycle

    x = noisy_cycle(n, seq_len + 1, n_symbols, p_follow, torch.Generator().manual_seed(seed))
    return nn.functional.one_hot(x[:, :-1], n_symbols).float(), x[:, 1:]
