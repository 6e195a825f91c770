"""Seed sweeps behind chapter 12 (pitfalls) that do not fit the notebook's time budget.

Each experiment is the notebook's, with seeds 0, 1, 2 (the notebook runs seed 0):

- clipping: IRNN on the adding problem (T = 30), Adam lr 3e-3, 300 steps, unclipped vs clipped
  at the median gradient norm of the unclipped run's first 50 steps;
- overfitting: a GRU next-symbol model on 32 noisy-cycle sequences, 150 full-batch steps,
  plain vs locked dropout 0.3 + AdamW weight decay 0.1; best (early-stopped) and final loss;
- learning rate: Adam sweep on the adding problem (T = 10, GRU H = 32, 100 steps), best rate,
  and the range test's steepest-descent rate (1e-4 to 10 in 100 steps);
- normalisation: NormRNN variants on the adding problem (T = 10), 200 steps;
- leakage: GRU forecaster on monthly CO2, leaky vs proper split, MAE against naive.

Run: ``OMP_NUM_THREADS=1 RNNCOURSE_NO_PROGRESS=1 python benchmarks/pitfalls.py [names]``
(names: clipping overfitting lr range norm leakage; default all). About 5 minutes on one busy
CPU thread.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from torch import nn

from rnncourse import deep, pitfalls, recurrent, runtime, tasks, training
from rnncourse import timeseries as TS

SEEDS = (0, 1, 2)


def adding(batch: int, seq_len: int):
    return lambda g: tasks.adding_problem(batch, seq_len, g)


def clipping(seed: int) -> tuple[float, float, float]:
    ev = tasks.adding_problem(256, 30, torch.Generator().manual_seed(99))
    raw = training.fit(pitfalls.irnn_regressor(32, seed), adding(32, 30), 300, lr=3e-3,
                       clip=None, eval_batch=ev, seed=seed)
    c = float(np.median(raw.grad_norm[:50]))
    clipped = training.fit(pitfalls.irnn_regressor(32, seed), adding(32, 30), 300, lr=3e-3,
                           clip=c, eval_batch=ev, seed=seed)
    return raw.final_eval, clipped.final_eval, c


def overfitting(seed: int) -> dict[str, tuple[float, float]]:
    train = pitfalls.cycle_dataset(32, 30, seed)
    val = pitfalls.cycle_dataset(128, 30, 1000 + seed)
    out = {}
    for name, p, wd in (("plain", 0.0, 0.0), ("dropout+wd", 0.3, 0.1)):
        torch.manual_seed(seed)
        model = pitfalls.CycleTagger(6, 32, p)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=wd)
        h = training.fit(model, lambda g: train, 150, loss_fn=deep.sequence_cross_entropy,
                         optimizer=opt, eval_every=10, eval_batch=val, seed=seed)
        out[name] = (h.best_eval, h.final_eval)
    return out


LRS = (1e-4, 1e-3, 1e-2, 3e-2, 1e-1, 1.0)


def lr_sweep(seed: int) -> list[float]:
    ev = tasks.adding_problem(256, 10, torch.Generator().manual_seed(99))
    hs = pitfalls.lr_sweep(lambda: recurrent.SequenceModel("gru", 2, 32), adding(32, 10), LRS,
                           100, nn.functional.mse_loss, seed=seed, eval_batch=ev, clip=None)
    return [h.final_eval for h in hs]


def range_test(seed: int) -> float:
    torch.manual_seed(seed)
    model = recurrent.SequenceModel("gru", 2, 32)
    lrs, losses = pitfalls.lr_range_test(model, adding(32, 10), nn.functional.mse_loss, 1e-4,
                                         10.0, 100, seed=seed)
    return pitfalls.suggest_lr(lrs, losses)


class NormRegressor(nn.Module):
    def __init__(self, norm: str):
        super().__init__()
        self.rnn = pitfalls.NormRNN(2, 32, norm, max_len=10)
        self.head = nn.Linear(32, 1)

    def forward(self, x):
        return self.head(self.rnn(x)[:, -1])


def normalisation(seed: int) -> dict[str, float]:
    ev = tasks.adding_problem(256, 10, torch.Generator().manual_seed(99))
    out = {}
    for norm in ("none", "batch_shared", "batch_per_step", "layer"):
        torch.manual_seed(seed)
        h = training.fit(NormRegressor(norm), adding(32, 10), 200, lr=1e-2, eval_batch=ev,
                         seed=seed)
        out[norm] = h.final_eval
    return out


def leakage(seed: int) -> dict[str, tuple[float, float]]:
    y = np.asarray(TS.load_co2("monthly"))
    leaky, proper = pitfalls.leaky_and_proper_splits(y, 24, 0.2, seed=seed)
    out = {}
    for name, s in (("leaky", leaky), ("proper", proper)):
        def draw(g, s=s):
            i = torch.randint(0, len(s.x_train), (64,), generator=g)
            return s.x_train[i], s.y_train[i]
        torch.manual_seed(seed)
        model = TS.GRUForecaster(32)
        training.fit(model, draw, 200, lr=1e-2, eval_batch=(s.x_test, s.y_test), seed=seed)
        with torch.no_grad():
            pred = s.scaler.inverse(model(s.x_test).numpy())
        actual = s.scaler.inverse(s.y_test.numpy())
        naive = s.scaler.inverse(s.x_test[:, -1:].numpy())
        out[name] = (float(np.abs(pred - actual).mean()), float(np.abs(naive - actual).mean()))
    return out


def main() -> None:
    runtime.setup(seed=0)
    chosen = set(sys.argv[1:]) or {"clipping", "overfitting", "lr", "range", "norm", "leakage"}
    start = time.perf_counter()
    for seed in SEEDS if "clipping" in chosen else ():
        raw, clipped, c = clipping(seed)
        print(f"clipping  seed {seed}: unclipped {raw:.4f}, clipped at c={c:.2f}: {clipped:.4f}")
    for seed in SEEDS if "overfitting" in chosen else ():
        r = overfitting(seed)
        print(f"overfit   seed {seed}: " + ", ".join(f"{k} best {b:.3f} final {f:.3f}"
                                                   for k, (b, f) in r.items()))
    for seed in SEEDS if "lr" in chosen else ():
        losses = lr_sweep(seed)
        print(f"lr sweep  seed {seed}: " + ", ".join(f"{lr:g}: {v:.4f}" for lr, v in
                                                    zip(LRS, losses))
              + f"; best lr {LRS[int(np.nanargmin(losses))]:g}")
    for seed in SEEDS if "range" in chosen else ():
        print(f"range     seed {seed}: steepest descent at lr {range_test(seed):.2g}")
    for seed in SEEDS if "norm" in chosen else ():
        r = normalisation(seed)
        print(f"norm      seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in r.items()))
    for seed in SEEDS if "leakage" in chosen else ():
        r = leakage(seed)
        print(f"leakage   seed {seed}: " + ", ".join(f"{k} MAE {m:.3f} (naive {n:.3f})"
                                                   for k, (m, n) in r.items()))
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
