"""RNN vs LSTM vs GRU on the adding problem: steps to solve as the sequence grows (chapter 6).

The full version of chapter 6's race (§6.5), too long for the notebook's budget: the three
``torch.nn`` cells (32 hidden units, a linear read-out of the last state) are trained with
the *same* step cap, data stream, held-out batch and stopping rule, at several lengths ``T``
and several seeds. Adam (learning rate 3e-3), batches of 64, gradient norm clipped at 1; the
held-out MSE on 1,000 fixed sequences is evaluated every 50 steps, and a run counts as solved
at the first evaluation below 0.01 (where it stops). A run that is not solved within the cap is
reported as "not solved" with the lowest held-out MSE it reached (the baseline, always
predicting 1, is 1/6 ≈ 0.167). Example::

    OMP_NUM_THREADS=1 python benchmarks/gated_race.py --lengths 10 50 100 --seeds 0 1 2 \\
        --steps 2500 --json race.json

Prints one line per run as it finishes, then a markdown table of steps to solve (one entry per
seed), and the median milliseconds per optimisation step of each cell (wall time on this
machine; compare cells within one run, not across machines).
"""

from __future__ import annotations

import argparse
import json
import statistics

import torch

from rnncourse import recurrent, runtime, tasks, training

KINDS = ("rnn", "lstm", "gru")
HIDDEN, BATCH, LR, CLIP, EVAL_EVERY, SOLVED, EVAL_SEED = 32, 64, 3e-3, 1.0, 50, 0.01, 123


def race(kind: str, seq_len: int, seed: int, steps: int,
         device: torch.device | None = None) -> dict:
    """Train one cell at one length from one seed; returns the run's summary."""
    held_out = tasks.adding_problem(1000, seq_len,
                                    generator=torch.Generator().manual_seed(EVAL_SEED))
    runtime.seed_everything(seed)
    model = recurrent.SequenceModel(kind, input_size=2, hidden_size=HIDDEN)
    history = training.fit(model, lambda g: tasks.adding_problem(BATCH, seq_len, generator=g),
                           steps=steps, lr=LR, clip=CLIP, eval_every=EVAL_EVERY,
                           eval_batch=held_out, stop_below=SOLVED, seed=seed, device=device,
                           desc=f"{kind} T={seq_len} seed {seed}")
    return {"kind": kind, "T": seq_len, "seed": seed, "cap": steps,
            "solved_at": history.solved_at, "final_mse": history.final_eval,
            "best_mse": min(history.eval_loss), "steps_run": len(history.train_loss),
            "ms_per_step": 1e3 * history.seconds / len(history.train_loss)}


def baseline_mse(seq_len: int) -> float:
    """MSE of always predicting 1 on the held-out sequences of length ``seq_len``."""
    _, y = tasks.adding_problem(1000, seq_len, generator=torch.Generator().manual_seed(EVAL_SEED))
    return ((y - 1) ** 2).mean().item()


def entry(run: dict) -> str:
    """Steps to solve, or 'not solved' with the lowest held-out MSE the run reached."""
    if run["solved_at"] is not None:
        return f"{run['solved_at']:,}"
    return f"not solved (best {run['best_mse']:.3f})"


def table(runs: list[dict], lengths: list[int], seeds: list[int]) -> str:
    """Markdown table: one row per length, one column per cell, seeds separated by ' / '."""
    by_key = {(r["kind"], r["T"], r["seed"]): r for r in runs}
    lines = ["| T | " + " | ".join(f"{k.upper()} (seeds {', '.join(map(str, seeds))})"
                                   for k in KINDS) + " |",
             "|---:|" + "---|" * len(KINDS)]
    for T in lengths:
        cells = [" / ".join(entry(by_key[k, T, s]) if (k, T, s) in by_key else "…"
                            for s in seeds) for k in KINDS]
        lines.append(f"| {T} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[10, 50, 100],
                        help="sequence lengths T (default 10 50 100)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="seeds (default 0 1 2)")
    parser.add_argument("--steps", type=int, default=2500,
                        help="the step cap, the same for every cell (default 2500)")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS),
                        help="cells to train (default all three)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None,
                        help="default: cuda when available, else cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--json", default=None, help="also write every run's summary here")
    parser.add_argument("--from-json", default=None,
                        help="train nothing: print the tables of the runs saved in this file")
    args = parser.parse_args(argv)
    if args.from_json:
        with open(args.from_json) as f:
            runs = json.load(f)
        report(runs, sorted({r["T"] for r in runs}), sorted({r["seed"] for r in runs}),
               runs[0]["cap"])
        return
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    device = runtime.get_device(args.device)
    print(f"{runtime.describe()}, threads {torch.get_num_threads()}; cap {args.steps} steps "
          f"for every cell", flush=True)
    runs = []
    for T in args.lengths:
        for seed in args.seeds:
            for kind in args.kinds:
                run = race(kind, T, seed, args.steps, device)
                runs.append(run)
                print(f"T={T:4d} seed {seed} {kind.upper():4} {entry(run):>22}  best MSE "
                      f"{run['best_mse']:.4f}  {run['ms_per_step']:.1f} ms/step", flush=True)
                if args.json:
                    with open(args.json, "w") as f:
                        json.dump(runs, f, indent=1)
    report(runs, args.lengths, args.seeds, args.steps)


def report(runs: list[dict], lengths: list[int], seeds: list[int], cap: int) -> None:
    """Print the table of steps to solve and the median time per step of each cell."""
    print(f"\nSteps to solve (held-out MSE < {SOLVED}, evaluated every {EVAL_EVERY} steps; "
          f"cap {cap:,} steps for every cell):\n")
    print(table(runs, lengths, seeds))
    print("\nBaseline (always predict 1) on the held-out sequences: " + ", ".join(
        f"T={T} {baseline_mse(T):.3f}" for T in lengths))
    print("\nMedian ms per optimisation step (this machine):")
    for T in lengths:
        kinds = [k for k in KINDS if any(r["kind"] == k and r["T"] == T for r in runs)]
        times = {k: statistics.median(r["ms_per_step"] for r in runs
                                      if r["kind"] == k and r["T"] == T) for k in kinds}
        print(f"T={T:4d}: " + ", ".join(f"{k.upper()} {v:.1f}" for k, v in times.items()))


if __name__ == "__main__":
    main()
