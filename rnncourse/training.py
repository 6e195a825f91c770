"""A small, explicit training loop and the timing helpers shared by the chapters.

The loop is deliberately plain (minGPT style): draw a batch, forward, loss, backward, clip,
step, and every ``eval_every`` steps measure the loss on a fixed held-out batch. It stops early
once that held-out loss is below ``stop_below`` so that "model X solves the task in N steps" is
a measured number, not a guess.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from . import runtime
from .validation import check_positive_int

__all__ = ["History", "fit", "time_forward_backward", "time_models"]

Batch = tuple[torch.Tensor, torch.Tensor]

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
        optimizer: torch.optim.Optimizer | None = None,
        before_step: Callable[[int, nn.Module], object] | None = None) -> History:
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
        optimizer: use this optimizer instead of Adam.
        before_step: ``before_step(done, model)`` is called before every update, with the
            number of updates done so far (0 first), e.g. to record the gates as they train.

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
        if before_step is not None:
            before_step(step - 1, model)
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
        sum(t.sum() for t in tensors).backward()
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


def time_models(models: dict[str, Callable[[torch.Tensor], object]], x: torch.Tensor,
                repeats: int = 5, warmup: int = 1, rounds: int = 3) -> dict[str, float]:
    """Median seconds of forward + backward for each model on the same ``x``, interleaved.

    The models are timed in turns (``rounds`` rounds of ``repeats`` passes each), so that a
    slow-down of the machine in the middle of the run affects all of them alike; ratios taken
    from one call are therefore more trustworthy than absolute times.
    """
    rounds = check_positive_int(rounds, "rounds")
    samples: dict[str, list[float]] = {name: [] for name in models}
    for model in models.values():
        time_forward_backward(model, x, repeats=1, warmup=warmup)
    for _ in range(rounds):
        for name, model in models.items():
            samples[name].append(time_forward_backward(model, x, repeats=repeats, warmup=0))
    return {name: statistics.median(values) for name, values in samples.items()}
