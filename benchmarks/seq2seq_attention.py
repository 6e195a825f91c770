"""Seed sweep for chapter 10: encoder–decoder with and without attention, English → German.

For each seed and model (the chapter's recipe: character level, bidirectional GRU encoder
64 + 64, GRU decoder 128, batch 64, Adam 5e-3, clip 1, fixed steps) it records validation exact
match every 25 steps (with training seconds), greedy test exact match by digit count, exact match
on six-digit numbers (longer than training), chrF / character BLEU, and exact match for beam
widths 1, 2, 4. Run from the repository root (one thread):

    OMP_NUM_THREADS=1 python benchmarks/seq2seq_attention.py --seeds 0 1 2 --steps 250 \
        --json /tmp/seq2seq.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from rnncourse import runtime, seq2seq


def data() -> dict:
    train_numbers = seq2seq.numbers_in_split(6000, (1, 5), "train", seed=1)
    train, sv, tv = seq2seq.make_pairs(train_numbers)
    sets = {"train": train, "src_vocab": sv, "tgt_vocab": tv}
    for name, count, digits, split, seed in (("valid", 300, (1, 5), "valid", 2),
                                             ("test", 1000, (1, 5), "test", 3),
                                             ("long", 300, (6, 6), "test", 4)):
        numbers = seq2seq.numbers_in_split(count, digits, split, seed=seed)
        sets[name] = seq2seq.make_pairs(numbers, sv, tv)[0]
    return sets


def run(sets: dict, kind: str | None, seed: int, steps: int, widths: tuple[int, ...]) -> dict:
    tv = sets["tgt_vocab"]
    runtime.seed_everything(seed)
    model = seq2seq.Seq2Seq(len(sets["src_vocab"]), len(tv), hidden_size=128, attention=kind,
                            attn_size=16)
    log = seq2seq.train(model, sets["train"], steps, sets["valid"], tv, batch_size=64, lr=5e-3,
                        eval_every=25, seed=seed)
    test = sets["test"]
    predicted = seq2seq.translate(model, test, tv)
    digits = np.array([len(str(n)) for n in test.numbers])
    correct = np.array([p == r for p, r in zip(predicted, test.tgt_text)])
    out = {"kind": kind or "none", "seed": seed, "steps": log.steps, "seconds": log.seconds,
           "valid_em": log.valid_em, "test_em": float(correct.mean()),
           "by_digits": {int(d): float(correct[digits == d].mean()) for d in range(1, 6)},
           "long_em": seq2seq.exact_match(seq2seq.translate(model, sets["long"], tv),
                                          sets["long"].tgt_text),
           **seq2seq.corpus_scores(predicted, test.tgt_text), "beam": {}}
    for width in widths:
        tick = time.perf_counter()
        pred = seq2seq.translate(model, test, tv, beam=width)
        out["beam"][width] = {"em": seq2seq.exact_match(pred, test.tgt_text),
                              "seconds": time.perf_counter() - tick}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--models", nargs="+", default=["none", "additive"])
    parser.add_argument("--widths", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    runtime.setup(seed=0)
    sets = data()
    rows = []
    for seed in args.seeds:
        for kind in args.models:
            row = run(sets, None if kind == "none" else kind, seed, args.steps,
                      tuple(args.widths))
            rows.append(row)
            reach = next((s for s, e in zip(row["steps"], row["valid_em"]) if e >= 0.95), None)
            print(f"{row['kind']:>14} seed {seed}: test EM {row['test_em']:.3f}, by digits "
                  + " ".join(f"{v:.3f}" for v in row["by_digits"].values())
                  + f", six digits {row['long_em']:.3f}, chrF {row['chrF']:.1f}, "
                  f"valid EM >= 0.95 at step {reach}, {row['seconds'][-1]:.0f} s, beams "
                  + " ".join(f"{w}:{b['em']:.3f}" for w, b in row["beam"].items()), flush=True)
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
