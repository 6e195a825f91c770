"""Self-checks for chapter 12 (pitfalls and best practices)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .. import tasks, training
from ..bptt import detach_state
from ..pitfalls import irnn_regressor
from ..selfcheck import (
    CheckFailed,
    expect,
    expect_answered,
    expect_number,
    init_parameters,
    self_check,
)

__all__ = ["check_initial_state", "check_clip_threshold", "check_tbptt_loop"]


# --------------------------------------------------------------------------- 12.1 shapes
def _random_module(rng: np.random.Generator, gen: torch.Generator, covering: bool = False
                   ) -> nn.RNNBase:
    """A random RNN/GRU/LSTM; ``covering``: an LSTM with every feature that a wrong state
    layout can miss (layers, both directions, batch_first, proj_size)."""
    kind = "LSTM" if covering else ["RNN", "GRU", "LSTM", "LSTM"][int(rng.integers(4))]
    hidden = int(rng.integers(3, 8))
    options = {"num_layers": int(rng.integers(2 if covering else 1, 4)),
               "bidirectional": covering or bool(rng.integers(2)),
               "batch_first": covering or bool(rng.integers(2))}
    if kind == "LSTM" and (covering or rng.integers(2)):
        options["proj_size"] = int(rng.integers(1, hidden))
    module = getattr(nn, kind)(int(rng.integers(2, 5)), hidden, **options)
    return init_parameters(module, gen)


def _shape_mistake(module: nn.RNNBase, batch: int, got: tuple[int, ...],
                   want: tuple[int, ...]) -> str:
    layers, dirs = module.num_layers, 2 if module.bidirectional else 1
    if got == (batch, want[0], want[2]):
        return "that is the batch-first layout; the state is never batch-first"
    if got == (layers, batch, want[2]) and dirs == 2:
        return "a bidirectional module has one state per layer AND direction"
    if got == (dirs, batch, want[2]) and layers > 1:
        return "every layer has its own state: the first size is num_layers * num_directions"
    if got[:2] == want[:2] and got[2] == module.hidden_size != want[2]:
        return "with proj_size, h is proj_size wide (c stays hidden_size wide)"
    return "the layout is (num_layers * num_directions, batch, hidden_size)"


@self_check("Exercise 12.1 (★): an initial state of the right shape")
def check_initial_state(initial_state: Callable[[nn.RNNBase, int], object]) -> None:
    """``initial_state(module, batch)`` must return zeros that ``module`` accepts as ``hx`` for
    a batched input of ``batch`` sequences: a tensor for ``nn.RNN``/``nn.GRU``, a tuple
    ``(h_0, c_0)`` for ``nn.LSTM``. Random modules (layers, directions, ``batch_first``,
    ``proj_size``), a private generator."""
    rng = np.random.default_rng()
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    for case in range(8):
        module = _random_module(rng, gen, covering=case == 0)
        rows = module.num_layers * (2 if module.bidirectional else 1)
        batch = int(rng.choice([b for b in range(2, 7) if b != rows]))  # layouts differ
        got = initial_state(module, batch)
        is_lstm = isinstance(module, nn.LSTM)
        widths = ([module.proj_size or module.hidden_size, module.hidden_size] if is_lstm
                  else [module.hidden_size])
        name = (f"{type(module).__name__}(num_layers={module.num_layers}, bidirectional="
                f"{module.bidirectional}, batch_first={module.batch_first}"
                + (f", proj_size={module.proj_size}" if is_lstm and module.proj_size else "")
                + f"), batch={batch}")
        if is_lstm:
            expect(isinstance(got, tuple) and len(got) == 2,
                   f"for {name}: an LSTM's state is a tuple (h_0, c_0), got "
                   f"{type(got).__name__}")
            states = list(got)
        else:
            expect(isinstance(got, torch.Tensor),
                   f"for {name}: the state should be one tensor, got {type(got).__name__}")
            states = [got]
        for state, width, label in zip(states, widths, ("h_0", "c_0")):
            expect(isinstance(state, torch.Tensor),
                   f"for {name}: {label} should be a tensor, got {type(state).__name__}")
            want = (rows, batch, width)
            if tuple(state.shape) != want:
                raise CheckFailed(f"for {name}: {label} has shape {tuple(state.shape)}, "
                                  f"expected {want}. Hint: "
                                  f"{_shape_mistake(module, batch, tuple(state.shape), want)}")
            expect(state.dtype == torch.float32, f"for {name}: {label} should be float32, "
                                                 f"got {state.dtype}")
            expect(bool((state == 0).all()), f"for {name}: {label} should be zeros")


# --------------------------------------------------------------------------- 12.2 clipping
_CLIP_SEED, _CLIP_STEPS, _CLIP_LEN = 1, 200, 30


@functools.lru_cache(maxsize=1)
def _clip_norms() -> np.ndarray:
    """The run of exercise 12.2 on the CPU: its pre-clipping gradient norms (computed once)."""
    model = irnn_regressor(32, seed=_CLIP_SEED)
    hist = training.fit(model, lambda g: tasks.adding_problem(32, _CLIP_LEN, g), _CLIP_STEPS,
                        lr=3e-3, clip=None, eval_every=_CLIP_STEPS, seed=_CLIP_SEED,
                        device=torch.device("cpu"))
    norms = np.asarray(hist.grad_norm)
    norms.flags.writeable = False
    return norms




@self_check("Exercise 12.2 (★★): a clipping threshold from the observed norms", time_limit=120)
def check_clip_threshold(threshold: object, spike_ratio: object) -> None:
    """``threshold``: the median of the first 50 pre-clipping gradient norms of the exercise's
    unclipped run; ``spike_ratio``: the largest norm of the whole run divided by it."""
    expect_answered(threshold is not None and spike_ratio is not None,
                    "not attempted yet: set threshold and spike_ratio to what you measured")
    c, ratio = expect_number(threshold, "threshold"), expect_number(spike_ratio, "spike_ratio")
    norms = _clip_norms()
    want_c = float(np.median(norms[:50]))
    want_ratio = float(norms.max() / want_c)
    if abs(c / norms.max() - 1) < 0.1:
        raise CheckFailed(f"threshold = {c:.3g} is the largest norm of the run: clipping there "
                          "changes only one step. Take the median of the first 50 norms")
    if abs(c - 1.0) < 1e-3:
        raise CheckFailed("threshold = 1.0: that is training.fit's default clip, or a norm "
                          "measured after clipping. Train with clip=None and read "
                          "History.grad_norm (the norms before clipping)")
    if abs(c / norms[:50].mean() - 1) < 0.05 and abs(c / want_c - 1) > 0.1:
        raise CheckFailed(f"threshold = {c:.3g} is the mean of the first 50 norms; the mean is "
                          "pulled up by the spikes. Take the median")
    if abs(c / float(np.median(norms)) - 1) < 0.05 and abs(c / want_c - 1) > 0.1:
        raise CheckFailed(f"threshold = {c:.3g} is the median over the whole run; use only the "
                          "first 50 steps (the threshold must be chosen early)")
    expect(abs(c / want_c - 1) < 0.1,
           f"threshold = {c:.3g}, but the median of the first 50 pre-clipping norms of the run "
           f"described in the exercise is about {want_c:.3g}. Did you use seed {_CLIP_SEED}, "
           f"T = {_CLIP_LEN}, Adam lr 3e-3 and clip=None?")
    if ratio > 0 and abs(1 / ratio / want_ratio - 1) < 0.25:
        raise CheckFailed(f"spike_ratio = {ratio:.3g} is inverted: divide the largest norm by "
                          "the threshold")
    expect(abs(ratio / want_ratio - 1) < 0.25,
           f"spike_ratio = {ratio:.3g}, expected about {want_ratio:.3g} (the largest norm of "
           f"all {_CLIP_STEPS} steps divided by the threshold)")


# --------------------------------------------------------------------------- 12.3 tbptt
class _LSTMRegressor(nn.Module):
    """``nn.LSTM`` (time-major) + ``nn.Linear``; ``forward(x, state) -> (y, (h, c))``."""

    def __init__(self, gen: torch.Generator, features: int, hidden: int) -> None:
        super().__init__()
        self.rnn = init_parameters(nn.LSTM(features, hidden), gen)
        self.head = init_parameters(nn.Linear(hidden, 1), gen, bound=0.5)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        out, state = self.rnn(x, state)
        return self.head(out), state


def _reference_loop(model: nn.Module, x: torch.Tensor, y: torch.Tensor, k: int,
                    opt: torch.optim.Optimizer, variant: str = "right") -> list[float]:
    state, losses = None, []
    for start in range(0, x.shape[0], k):
        if variant == "drop_last" and start + k > x.shape[0]:
            break
        if variant == "reset":
            state = None
        state = detach_state(state)
        pred, state = model(x[start:start + k], state)
        loss = nn.functional.mse_loss(pred, y[start:start + k])
        if variant != "no_zero_grad":
            opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@self_check("Exercise 12.3 (★★★): a truncated-BPTT loop for an LSTM", time_limit=60)
def check_tbptt_loop(tbptt_loop: Callable[..., list[float]]) -> None:
    """``tbptt_loop(model, x, y, k, opt)``: train on the time-major stream ``x`` ``(T, batch,
    features)`` with targets ``y`` ``(T, batch, 1)`` in consecutive chunks of ``k`` steps (the
    last one may be shorter), carrying ``model``'s ``(h, c)`` state from chunk to chunk, one
    ``opt`` step per chunk on the chunk's MSE; return the chunk losses. Compared with a
    reference on random streams and models (a private generator)."""
    rng = np.random.default_rng()
    seed = int(rng.integers(2**31))
    for trial in range(2):
        length, k = int(rng.integers(13, 20)), int(rng.integers(3, 6))
        if trial == 0:
            length = k * int(rng.integers(3, 5)) + int(rng.integers(1, k))   # a partial chunk
        features, hidden, batch = int(rng.integers(1, 4)), int(rng.integers(3, 7)), 3
        models, opts = [], []
        for _ in range(5):                               # the learner's and four references
            gen = torch.Generator().manual_seed(seed + trial)
            models.append(_LSTMRegressor(gen, features, hidden))
            opts.append(torch.optim.SGD(models[-1].parameters(), lr=0.1))
        gen = torch.Generator().manual_seed(seed + 100 + trial)
        x = torch.randn(length, batch, features, generator=gen)
        y = x[..., :1].roll(1, dims=0)
        what = f"stream of T = {length} steps, k = {k}"
        try:
            got = tbptt_loop(models[0], x.clone(), y.clone(), k, opts[0])
        except RuntimeError as err:
            if "second time" in str(err) or "inplace operation" in str(err):
                raise CheckFailed(f"{what}: backward() went into the previous chunk's graph "
                                  f"({str(err).split('.')[0]}). Detach the carried state — "
                                  "both h and c — before each chunk") from None
            raise
        expect(isinstance(got, (list, tuple)) and all(isinstance(v, (int, float)) for v in got),
               f"{what}: tbptt_loop should return a list of floats (loss.item() of each "
               f"chunk), got {type(got).__name__}")
        variants = ["right", "drop_last", "reset", "no_zero_grad"]
        refs = {v: _reference_loop(m, x, y, k, o, v)
                for v, m, o in zip(variants, models[1:], opts[1:])}
        if len(got) == len(refs["right"]) and np.allclose(got, refs["right"], atol=1e-5):
            params = dict(models[0].named_parameters())
            expect(all(torch.allclose(params[n], p, atol=1e-5)
                       for n, p in models[1].named_parameters()),
                   f"{what}: the losses are right but the trained weights differ from the "
                   "reference: take exactly one opt.step() per chunk")
            continue
        n_chunks = -(-length // k)
        if len(got) == len(refs["drop_last"]) != n_chunks and np.allclose(
                got, refs["drop_last"], atol=1e-5):
            raise CheckFailed(f"{what}: you dropped the last, shorter chunk; train on it too "
                              f"({n_chunks} chunks)")
        for variant, hint in (("reset", "you reset the state to zero at every chunk: carry it "
                                        "over (detached) instead"),
                              ("no_zero_grad", "the gradients accumulate over chunks: call "
                                               "opt.zero_grad() before each backward()")):
            if len(got) == len(refs[variant]) and np.allclose(got, refs[variant], atol=1e-5):
                raise CheckFailed(f"{what}: {hint}")
        expect(len(got) == n_chunks, f"{what}: expected {n_chunks} chunk losses, got {len(got)}")
        raise CheckFailed(f"{what}: the chunk losses {np.round(got, 4).tolist()} differ from "
                          f"the reference {np.round(refs['right'], 4).tolist()}: chunk i is "
                          "x[i*k:(i+1)*k], its loss the MSE of model(chunk, state)'s prediction")
