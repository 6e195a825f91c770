"""Chapter 9: names → language over seeds — the chapter's recipe and the padded-last-step bug.

For each seed, at equal step budgets and on the same deterministic split:

- ``bigru``: the chapter's recipe (bidirectional GRU 128, embedding 64, packing, embedding
  dropout 0.2, AdamW weight decay 0.01, label smoothing 0.1, lr 5e-3 with cosine decay,
  900 steps of 64 names), unweighted and with inverse-frequency class weights;
- ``small``: a one-direction GRU 64 (embedding 32, 400 steps, no regularisation) read out
  three ways: the last real state (packed), ``output[:, -1]`` of the padded batch (the bug),
  and the last real state with class weights.

Prints validation accuracy, macro accuracy and training seconds per run, then the spread.
Run (about 10 minutes on one thread)::

    OMP_NUM_THREADS=1 python benchmarks/name_classifier.py [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from rnncourse import classification as C
from rnncourse import runtime

BIGRU = dict(embedding_dim=64, hidden_size=128, bidirectional=True, embedding_dropout=0.2)
BIGRU_TRAIN = dict(steps=900, lr=5e-3, weight_decay=0.01, label_smoothing=0.1)
SMALL = dict(embedding_dim=32, hidden_size=64)
SMALL_TRAIN = dict(steps=400, lr=5e-3)


def measure(vocab, train, val, model_options, train_options, seed, weights=None):
    torch.manual_seed(seed)
    model = C.SequenceClassifier(len(vocab), len(train.classes), **model_options)
    start = time.perf_counter()
    C.train_classifier(model, vocab, train, seed=seed, weights=weights, **train_options)
    seconds = time.perf_counter() - start
    pred = C.predict(model, vocab, val.items).argmax(1)
    return (C.accuracy(pred, val.labels),
            C.macro_accuracy(pred, val.labels, len(train.classes)), seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    os.environ.setdefault("RNNCOURSE_NO_PROGRESS", "1")
    runtime.setup(seed=0)
    train, val, _ = C.stratified_split(C.load_surnames())
    vocab = C.char_vocab(train.items)
    weights = C.class_weights(train.labels, len(train.classes))
    runs = {
        "bigru, unweighted": (BIGRU, BIGRU_TRAIN, None),
        "bigru, class weights": (BIGRU, BIGRU_TRAIN, weights),
        "small, last real state": (dict(SMALL, readout="last"), SMALL_TRAIN, None),
        "small, output[:, -1] (bug)": (dict(SMALL, readout="padded_last"), SMALL_TRAIN, None),
        "small, last real state, weights": (dict(SMALL, readout="last"), SMALL_TRAIN, weights),
    }
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in runs}
    for seed in args.seeds:
        for name, (model_options, train_options, w) in runs.items():
            acc, macro, seconds = measure(vocab, train, val, model_options, train_options,
                                          seed, w)
            results[name].append((acc, macro, seconds))
            print(f"seed {seed}  {name:34s} val acc {acc:.4f}  macro {macro:.4f}  "
                  f"{seconds:5.1f} s", flush=True)
    print("\nspread over seeds", args.seeds)
    for name, values in results.items():
        accs, macros, secs = zip(*values)
        print(f"{name:34s} acc {min(accs):.4f}-{max(accs):.4f}  macro {min(macros):.4f}-"
              f"{max(macros):.4f}  time {min(secs):.0f}-{max(secs):.0f} s")
    bug = [a - b for (a, _, _), (b, _, _) in zip(results["small, last real state"],
                                                 results["small, output[:, -1] (bug)"])]
    print("cost of the bug (accuracy points):", ", ".join(f"{100 * d:.1f}" for d in bug))


if __name__ == "__main__":
    main()
