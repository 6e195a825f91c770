"""Chapter 13's measurements too long for the notebook: scan vs loop speed, and the LM race.

``--part speed`` (default): forward + backward time of a one-layer minGRU computed by its step
loop and by the log-space parallel scan, and of ``torch.nn.GRU``, at T = 64 … 4096 (batch 16,
hidden 64), as a markdown table of medians and ratios measured in one run (interleaved rounds),
next to the number of dependent steps (T for the loop, ceil(log2 T) for a Hillis–Steele scan).
It runs on the GPU when one is visible (or ``--device cuda``); the chapter quotes CPU ratios
only, because no GPU ratio was measured when it was written.

``--part lm``: the §13.7 race — LSTM vs causal Transformer vs minGRU vs GRU (``beyond.race_models``,
about 130k parameters each) on the chapter-8 character data, with the notebook's fixed step
counts, over ``--seeds`` seeds; prints bits per character and training seconds per seed, and
the spread; times are the process's CPU seconds (not wall time). Example::

    OMP_NUM_THREADS=1 python benchmarks/scan_speed.py --part speed --threads 1
    OMP_NUM_THREADS=1 python benchmarks/scan_speed.py --part lm --seeds 0 1 2 --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from rnncourse import beyond, runtime, text

# The notebook's step counts (§13.7): about equal training time on one CPU thread.
RACE_STEPS = {"LSTM": 600, "Transformer": 410, "minGRU": 160, "GRU": 220}
RACE_LR = {"LSTM": 1e-2, "Transformer": 1e-2, "minGRU": 3e-2, "GRU": 1e-2}


def speed(device: torch.device, lengths: list[int], repeats: int, rounds: int) -> None:
    rows = beyond.time_recurrences(lengths, batch=16, hidden=64, device=device,
                                   repeats=repeats, rounds=rounds)
    print("forward + backward, one layer, batch 16, hidden 64, medians of interleaved rounds\n")
    print("| T | loop ms | scan ms | nn.GRU ms | scan / loop | scan / nn.GRU | loop depth "
          "| scan depth |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['T']} | {1e3 * r['loop']:.1f} | {1e3 * r['scan']:.1f} | "
              f"{1e3 * r['nn.GRU']:.1f} | {r['scan'] / r['loop']:.2f} | "
              f"{r['scan'] / r['nn.GRU']:.2f} | {r['loop_depth']} | {r['scan_depth']} |")


def lm(device: torch.device, seeds: list[int]) -> None:
    train, val = text.split_text(text.pydoc_corpus(), 0.1)
    vocab = text.CharVocab.from_text(train, unknown="\x00")
    train_ids, val_ids = vocab.encode(train), vocab.encode(val)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in RACE_STEPS}
    for seed in seeds:
        models = beyond.race_models(len(vocab), seed=seed)
        for name, model in models.items():
            cpu = time.process_time()
            beyond.train_char_model(model, train_ids, RACE_STEPS[name],
                                              lr=RACE_LR[name], batch=8, seq_len=128,
                                              seed=seed, device=device)
            cpu = time.process_time() - cpu
            if name == "minGRU":
                model.rnn.mode = "loop"       # the same function, faster to evaluate on a CPU
            bpc = beyond.sliding_bits_per_char(model, val_ids, 128, 64)
            results[name].append((bpc, cpu))
            print(f"seed {seed} {name:>11}: {RACE_STEPS[name]} steps, {cpu:.1f} s CPU, "
                  f"validation {bpc:.3f} bits/char", flush=True)
    print("\n| model | steps | bits/char (min … max) | CPU seconds (median) |")
    print("|---|---:|---|---:|")
    for name, values in results.items():
        bpcs = [v[0] for v in values]
        print(f"| {name} | {RACE_STEPS[name]} | {min(bpcs):.3f} … {max(bpcs):.3f} | "
              f"{statistics.median(v[1] for v in values):.1f} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("speed", "lm"), default="speed")
    parser.add_argument("--lengths", type=int, nargs="+", default=[64, 256, 1024, 4096])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    device = runtime.get_device(args.device)
    print(f"{runtime.describe()}, threads {torch.get_num_threads()}\n")
    start = time.perf_counter()
    if args.part == "speed":
        speed(device, args.lengths, args.repeats, args.rounds)
    else:
        lm(device, args.seeds)
    print(f"\n(total {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
