"""Speed of the gated cells: teaching layer vs fused layer vs PyTorch's native op.

Times one forward + backward pass of a single-layer GRU and LSTM (``rnncourse.gru`` and
``rnncourse.lstm``: the step-by-step teaching layer and the fused layer) against
``torch.nn.GRU``/``torch.nn.LSTM`` on the same input and weights, and prints a markdown table
of median milliseconds and ratios to the native op. Example::

    python benchmarks/cell_speed.py --seq-len 100 --batch 64 --hidden 128 --repeats 5

Ratios from one run are the numbers to quote: the models are timed in interleaved rounds, so
that other load on the machine affects them alike.
"""

from __future__ import annotations

import argparse
import importlib.util

import torch

from rnncourse import gru, runtime


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seq-len", type=int, default=100, help="time steps (default 100)")
    parser.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    parser.add_argument("--hidden", type=int, default=128,
                        help="hidden size = input size (default 128)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="passes per model and round (default 3)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved rounds; the median of the rounds is reported (default 5)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None,
                        help="default: cuda when available, else cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    device = runtime.get_device(args.device)
    kinds = ("gru", "lstm") if importlib.util.find_spec("rnncourse.lstm") else ("gru",)
    rows = gru.benchmark_cells(args.seq_len, args.batch, args.hidden, repeats=args.repeats,
                               rounds=args.rounds,
                               device=device, kinds=kinds)
    print(f"{runtime.describe()}, threads {torch.get_num_threads()}")
    print(f"forward + backward, seq_len {args.seq_len}, batch {args.batch}, "
          f"hidden {args.hidden}, median of {args.rounds} interleaved rounds of {args.repeats} "
          f"passes\n")
    print("| cell | implementation | median ms | × native |")
    print("|---|---|---:|---:|")
    for row in rows:
        print(f"| {row['cell'].upper()} | {row['implementation']} | {row['ms']:.2f} "
              f"| {row['vs_native']:.2f} |")


if __name__ == "__main__":
    main()
