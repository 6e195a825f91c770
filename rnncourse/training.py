"""A small, explicit training loop and timing helper shared by chapters 4 to 7.

The loop is deliberately plain (minGPT style): draw a batch, forward, loss, backward, clip,
step, and every ``eval_every`` steps measure the loss on a fixed held-out batch. It stops early
once that held-out loss is below ``stop_below`` so that "model X solves the task in N steps" is
a measured number, not a guess.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from . import runtime
from .validation import check_positive_int

__all__ = ["SequenceRegressor", "History", "fit", "time_forward_backward"]

Batch = tuple[torch.Tensor, torch.Tensor]

_RECURRENT = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class SequenceRegressor(nn.Module):
    """A recurrent layer followed by a linear read-out of the last time step (pattern N:1).

    Args:
        kind: ``"rnn"`` (tanh unless ``nonlinearity="relu"`` is passed), ``"lstm"`` or ``"gru"``,
            or an already-built recurrent module with ``batch_first=True``.
        input_size: features per step.
        hidden_size: width of the hidden state.
        output_size: outputs of the read-out layer.
        **rnn_kwargs: passed to the torch module (``num_layers``, ``nonlinearity``, ...).

    Shape:
        input ``(batch, seq_len, input_size)`` → output ``(batch, output_size)``.
    """

    def __init__(self, kind: str | nn.Module, input_size: int, hidden_size: int,
                 output_size: int = 1, **rnn_kwargs: object) -> None:
        super().__init__()
        if isinstance(kind, nn.Module):
            self.rnn = kind
        elif kind in _RECURRENT:
            self.rnn = _RECURRENT[kind](input_size, hidden_size, batch_first=True, **rnn_kwargs)
        else:
            raise ValueError(f"kind must be one of {sorted(_RECURRENT)} or an nn.Module, "
                             f"got {kind!r}")
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.rnn(x)
        return self.head(output[:, -1])


@dataclass
class History:
    """What :func:`fit` measured; ``eval_loss[i]`` was taken at step ``eval_steps[i]``."""

    train_loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval_loss: list[float] = field(default_factory=list)
    solved_at: int | None = None
    seconds: float = 0.0

    @property
    def best_eval(self) -> float:
        return min(self.eval_loss) if self.eval_loss else float("nan")

    @property
    def final_eval(self) -> float:
        return self.eval_loss[-1] if self.eval_loss else float("nan")


def fit(model: nn.Module, make_batch: Callable[[torch.Generator], Batch], steps: int,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = nn.functional.mse_loss,
        lr: float = 3e-3, clip: float | None = 1.0, eval_every: int = 50,
        eval_batch: Batch | None = None, stop_below: float | None = None, seed: int = 0,
        device: torch.device | None = None, desc: str | None = None,
        optimizer: torch.optim.Optimizer | None = None) -> History:
    """Train ``model`` on batches from ``make_batch`` with Adam and gradient-norm clipping.

    Args:
        model: maps an input batch to predictions that ``loss_fn`` compares with targets.
        make_batch: ``make_batch(generator) -> (inputs, targets)`` on the CPU.
        steps: maximum number of optimisation steps.
        loss_fn: ``loss_fn(prediction, target)`` returning a scalar.
        lr: Adam's learning rate (ignored when ``optimizer`` is given).
        clip: maximum global gradient norm, or ``None`` for no clipping.
        eval_every: evaluate on ``eval_batch`` every this many steps (and at the end).
        eval_batch: fixed held-out batch; by default one batch drawn from a separate seed.
        stop_below: stop as soon as the held-out loss is below this value.
        seed: seeds the batch stream (and the default held-out batch with ``seed + 1``).
        device: where to train; default :func:`rnncourse.runtime.get_device`.
        desc: label of the progress bar.

    Returns:
        A :class:`History`; ``grad_norm`` holds the norm *before* clipping.
    """
    steps = check_positive_int(steps, "steps")
    eval_every = check_positive_int(eval_every, "eval_every")
    device = device or runtime.get_device()
    model.to(device)
    stream = torch.Generator().manual_seed(seed)
    if eval_batch is None:
        eval_batch = make_batch(torch.Generator().manual_seed(seed + 1))
    eval_x, eval_y = (t.to(device) for t in eval_batch)
    opt = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    history = History()
    start = time.perf_counter()
    for step in runtime.progress(range(1, steps + 1), desc=desc, total=steps):
        model.train()
        x, y = (t.to(device) for t in make_batch(stream))
        loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        max_norm = clip if clip is not None else float("inf")
        norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        opt.step()
        history.train_loss.append(loss.item())
        history.grad_norm.append(float(norm))
        if step % eval_every == 0 or step == steps:
            model.eval()
            with torch.no_grad():
                value = loss_fn(model(eval_x), eval_y).item()
            history.eval_steps.append(step)
            history.eval_loss.append(value)
            if stop_below is not None and value < stop_below:
                history.solved_at = step
                break
    history.seconds = time.perf_counter() - start
    return history


def time_forward_backward(model: Callable[[torch.Tensor], object], x: torch.Tensor,
                          repeats: int = 5, warmup: int = 1) -> float:
    """Median seconds of one forward + backward pass of ``model`` on ``x``.

    The loss is the sum of every floating tensor the model returns (outputs and states), so
    that the whole graph is differentiated. Synchronises CUDA before reading the clock.
    """
    repeats = check_positive_int(repeats, "repeats")

    def once() -> float:
        if x.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = model(x)
        tensors = [t for t in _flatten(out) if t.is_floating_point() and t.requires_grad]
        if not tensors:
            raise ValueError("the model's output does not require grad: nothing to backward")
        sum(t.sum() for t in tensors).backward()  # type: ignore[union-attr]
        if x.device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    for _ in range(warmup):
        once()
    times = sorted(once() for _ in range(repeats))
    return times[len(times) // 2]


def _flatten(value: object) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in _flatten(item)]
    return []
