"""Does a forget-gate bias of 1 make an LSTM learn the adding problem faster? (chapter 5)

Chapter 5's recipe, unchanged: the adding problem at T = 100, ``nn.LSTM`` with hidden size 64
and a linear read-out (``recurrent.SequenceModel``), batch 64, Adam with learning rate 3e-3,
gradient clipping at norm 1, evaluation every 50 steps on the same 1,000 held-out sequences
(seed 12345), stopped at held-out MSE < 0.01 or after 4,000 steps. Two initialisations, with
one baseline: PyTorch's default (every bias ~ U(-1/8, 1/8)) and the same weights with the
forget-gate bias set to 1 (``b_if = 1``, ``b_hf = 0``). Seeds 0, 1, 2 by default; seed 0 is
the notebook's own run, so its row must equal the chapter's printed step counts on a CPU.

Every 50 steps the script also records, for every unit, the input gate at the marked steps,
the input gate elsewhere and the forget gate between the two marks, on 200 held-out
sequences, and reports them for the *memory unit* (the unit chapter 5 §5.7 finds: its input
gate opens at the marks and its forget gate stays above 0.95 between them; where no unit meets
that rule, the unit with the largest product of the two, and says so).

    python benchmarks/forget_bias.py                 # seeds 0 1 2, both initialisations
    python benchmarks/forget_bias.py --seeds 3 4 --init default

One thread, CPU; prints a table (numbers, not asserts: this is not a test).
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from rnncourse import recurrent, runtime, tasks, training
from rnncourse.lstm import LSTM

SEQ_LEN, BATCH, HIDDEN, MAX_STEPS, TARGET_MSE, LOG_EVERY = 100, 64, 64, 4000, 0.01, 50


def set_forget_bias(module: nn.LSTM, value: float) -> None:
    """Make b_if + b_hf = value in every layer (PyTorch's rows H:2H are the forget gate)."""
    H = module.hidden_size
    with torch.no_grad():
        for name, param in module.named_parameters():
            if name.startswith("bias_"):
                param[H:2 * H] = value if name.startswith("bias_ih") else 0.0


def gate_snapshot(rnn: nn.LSTM, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per unit ``(H,)``: mean i at the marked steps, mean i elsewhere, mean f between marks."""
    with torch.no_grad():
        gates = LSTM.from_torch(rnn).to(x.device).gates(x)
    i, f = gates["i"][0], gates["f"][0]                        # (N, L, H)
    marked = x[..., 1].bool()                                   # (N, L)
    first, second = marked.nonzero()[:, 1].view(-1, 2).T        # (N,) each
    steps = torch.arange(x.shape[1], device=x.device)
    between = (steps > first[:, None]) & (steps < second[:, None])  # (N, L)
    return {"i_marked": i[marked].mean(0), "i_elsewhere": i[~marked].mean(0),
            "f_between": f[between].mean(0)}


def run(seed: int, forget_bias: float | None, device: torch.device) -> dict:
    eval_batch = tasks.adding_problem(1000, SEQ_LEN, generator=torch.Generator().manual_seed(12345))
    probe = eval_batch[0][:200].to(device)
    runtime.seed_everything(seed)
    model = recurrent.SequenceModel("lstm", 2, HIDDEN)
    if forget_bias is not None:
        set_forget_bias(model.rnn, forget_bias)
    model.to(device)
    snapshots, log_steps = [], []

    calls = [0]

    def logged_batch(generator: torch.Generator):
        if calls[0] % LOG_EVERY == 0:              # before the update of step calls[0] + 1
            snapshots.append(gate_snapshot(model.rnn, probe))
            log_steps.append(calls[0])
        calls[0] += 1
        return tasks.adding_problem(BATCH, SEQ_LEN, generator=generator)

    history = training.fit(model, logged_batch, MAX_STEPS, lr=3e-3, clip=1.0, eval_every=50,
                           eval_batch=eval_batch, stop_below=TARGET_MSE, seed=seed,
                           device=device, desc=f"seed {seed}, b_f {forget_bias}")
    snapshots.append(gate_snapshot(model.rnn, probe))
    log_steps.append(len(history.train_loss))
    stacked = {k: torch.stack([s[k] for s in snapshots]).cpu() for k in snapshots[0]}  # (K, H)
    score = stacked["i_marked"][-1] - stacked["i_elsewhere"][-1]
    memory = (score > 0.5) & (stacked["f_between"][-1] > 0.95)
    unit = int(torch.where(memory, score, torch.tensor(-1.0)).argmax())
    if not memory.any():  # no unit passes chapter 5's rule: the best writer-and-keeper instead
        unit = int((score * stacked["f_between"][-1]).argmax())
    return {"seed": seed, "forget_bias": forget_bias, "history": history, "steps": log_steps,
            "gates": stacked, "unit": unit, "rule": bool(memory.any())}


def first_step(steps: list[int], values: torch.Tensor, above: float) -> int | None:
    hits = (values > above).nonzero()
    return steps[int(hits[0])] if len(hits) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--init", choices=["default", "one", "both"], default="both")
    args = parser.parse_args()
    device = runtime.setup(seed=0)  # one thread on CPU, no denormals
    inits = {"default": [None], "one": [1.0], "both": [None, 1.0]}[args.init]
    print(f"adding problem T={SEQ_LEN}, hidden {HIDDEN}, batch {BATCH}, cap {MAX_STEPS}, "
          f"target MSE {TARGET_MSE}; device {device}")
    print("memory unit u: f = its forget gate between the marks, sel = i at marks - i elsewhere")
    print(f"{'seed':>4} {'init':>8} {'solved at':>9} {'final MSE':>9} {'u':>3} "
          f"{'f at 0':>6} {'max f before sel>0.3':>20} {'sel>0.3':>7} {'f>0.95':>6} "
          f"{'MSE<1/12':>8}")
    for seed in args.seeds:
        for forget_bias in inits:
            r = run(seed, forget_bias, device)
            h, u, g, steps = r["history"], r["unit"], r["gates"], r["steps"]
            name = "default" if forget_bias is None else f"b_f={forget_bias:g}"
            half = next((s for s, v in zip(h.eval_steps, h.eval_loss)
                         if v < tasks.ADDING_BASELINE_MSE / 2), None)
            sel = g["i_marked"][:, u] - g["i_elsewhere"][:, u]
            f_u = g["f_between"][:, u]
            sel_at = first_step(steps, sel, 0.3)
            before = f_u[: steps.index(sel_at) + 1].max() if sel_at is not None else f_u.max()
            if not r["rule"]:
                print(f"     no unit has i at marks - elsewhere > 0.5 and f > 0.95 at the end; "
                      f"unit {u} has {sel[-1]:.2f} and {f_u[-1]:.3f}")
            print(f"{seed:4d} {name:>8} {str(h.solved_at):>9} {h.final_eval:9.4f} {u:3d} "
                  f"{f_u[0]:6.3f} {before:20.3f} {str(sel_at):>7} "
                  f"{str(first_step(steps, f_u, 0.95)):>6} {str(half):>8}", flush=True)


if __name__ == "__main__":
    main()
