"""Is backward linear in the sequence length for every recurrent layer of the package?

Indexing the time axis inside a recurrent loop (``x[t]``) makes backward quadratic in the
length: the backward of each index op writes a zero tensor as large as the whole sequence.
This script times forward + backward of every layer class at two lengths and prints the
ratio ``time(L_long) / time(L_short)``; linear cost gives ``L_long / L_short`` (8 by default).

    python benchmarks/length_scaling.py            # L = 500 and 4000, batch 32, hidden 64

Timings are medians of interleaved rounds taken in one run on one thread; only the ratios
mean something, and they are printed, not asserted (this is not a test).
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from rnncourse import training
from rnncourse.deep import LayerNormLSTM
from rnncourse.forward import ScratchRNN
from rnncourse.gru import GRU, FusedGRU
from rnncourse.lstm import LSTM, FusedLSTM


def layers(hidden: int) -> dict[str, nn.Module]:
    """One instance of every recurrent layer class, ``hidden`` → ``hidden``, sequence-first."""
    return {
        "ScratchRNN": ScratchRNN(hidden, hidden),
        "LSTM": LSTM(hidden, hidden),
        "FusedLSTM": FusedLSTM(hidden, hidden),
        "GRU": GRU(hidden, hidden),
        "GRU (cho)": GRU(hidden, hidden, variant="cho"),
        "FusedGRU": FusedGRU(hidden, hidden),
        "LayerNormLSTM (2 layers)": LayerNormLSTM(hidden, hidden, num_layers=2),
        "nn.LSTM (native)": nn.LSTM(hidden, hidden),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--short", type=int, default=500)
    parser.add_argument("--long", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    gen = torch.Generator().manual_seed(0)
    models = layers(args.hidden)
    times = {}
    for length in (args.short, args.long):
        x = torch.randn(length, args.batch, args.hidden, generator=gen)
        times[length] = training.time_models(models, x, repeats=1, rounds=args.rounds)
    print(f"forward + backward, batch {args.batch}, hidden {args.hidden}, one thread; "
          f"linear cost gives {args.long / args.short:.1f}")
    print(f"{'layer':<26}{'L=' + str(args.short):>10}{'L=' + str(args.long):>11}{'ratio':>8}")
    for name in models:
        short, long = times[args.short][name], times[args.long][name]
        print(f"{name:<26}{1e3 * short:>8.0f}ms{1e3 * long:>9.0f}ms{long / short:>8.2f}")


if __name__ == "__main__":
    main()
