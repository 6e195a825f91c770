r"""The gated recurrent unit (GRU), from its equations, in PyTorch's layout (chapter 6).

For a batch of inputs :math:`x_t` and the previous state :math:`h_{t-1}`, one GRU step is

.. math::

    r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})
        && \text{reset gate} \\
    z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})
        && \text{update gate} \\
    n_t &= \tanh\big(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})\big)
        && \text{candidate (PyTorch, cuDNN)} \\
    h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}
        && \text{new state}

``variant="cho"`` uses Cho et al. (2014)'s original candidate instead, where the reset gate
scales the *state before* the matrix product:

.. math::

    n_t = \tanh\big(W_{in} x_t + b_{in} + W_{hn} (r_t \odot h_{t-1}) + b_{hn}\big).

The two are different functions of the same weights. Their candidates' pre-activations differ
by exactly (PyTorch's minus Cho et al.'s)

.. math::

    r_t \odot (W_{hn} h_{t-1}) - W_{hn} (r_t \odot h_{t-1}) + (r_t - 1) \odot b_{hn},

which vanishes wherever :math:`r_t = 1`, whatever :math:`b_{hn}` is (no condition on the bias),
and in general nowhere else; at :math:`h_{t-1} = 0` only the last term is left.
PyTorch's form lets all three hidden-side products ``W_{h\cdot} h_{t-1}`` be
done in one matrix product before the gates are known, which is why cuDNN and PyTorch use it.
Beware of the convention for :math:`z`: here (as in PyTorch and Cho et al.) :math:`z_t = 1`
*keeps* the old state; some texts write :math:`h_t = z_t \odot n_t + (1 - z_t) \odot h_{t-1}`,
which is the same model with :math:`z` replaced by :math:`1 - z`.

Parameters use PyTorch's layout, gate order ``r, z, n`` stacked along the rows:
``weight_ih`` ``(3H, I)`` = ``[W_ir; W_iz; W_in]``, ``weight_hh`` ``(3H, H)``,
``bias_ih`` and ``bias_hh`` ``(3H,)``. :class:`GRU` and :class:`FusedGRU` name them
``weight_ih_l{k}`` (``_reverse`` for the backward direction) exactly like :class:`torch.nn.GRU`,
so ``GRU.from_torch(torch_gru)`` copies its weights. The loops over time, layers and directions
are :class:`rnncourse.recurrent.RNNBase`'s; this module holds the cell.

Shapes (``L`` sequence length, ``N`` batch, ``I`` input size, ``H`` hidden size,
``D`` = 2 if bidirectional else 1), as in :class:`torch.nn.GRU`:

- input: ``(L, N, I)``, ``(N, L, I)`` if ``batch_first``, or ``(L, I)`` unbatched
- ``hx``: ``(D * num_layers, N, H)`` (never batch-first) or ``(D * num_layers, H)``;
  zeros if omitted
- output: ``(L, N, D * H)`` (``(N, L, D * H)`` if ``batch_first``): last layer, every step
- ``h_n``: ``(D * num_layers, N, H)``: every layer and direction at its last step
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from .recurrent import RNNBase, RNNCellBase

__all__ = ["VARIANTS", "GRUStep", "gru_cell", "GRUCell", "GRU", "FusedGRU", "benchmark_cells",
           "count_operations",
           "GRU_STAGES", "draw_gru_cell", "gru_cell_figure"]

Tensor = torch.Tensor
VARIANTS = ("pytorch", "cho")


def _check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be 'pytorch' (reset gate applied to W_hn h + b_hn) or "
                         f"'cho' (reset gate applied to h before W_hn), got {variant!r}")
    return variant


class GRUStep(NamedTuple):
    """One step's gates and new state, each ``(N, H)``."""

    r: Tensor  #: reset gate, in (0, 1)
    z: Tensor  #: update gate, in (0, 1): 1 keeps the old state
    n: Tensor  #: candidate state, in (-1, 1)
    h: Tensor  #: new hidden state h_t


def gru_cell(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor,
             bias_hh: Tensor, variant: str = "pytorch") -> GRUStep:
    """One GRU step, one equation per line: ``x`` ``(N, H_in)``, ``h`` ``(N, H)``, ``weight_ih``
    ``(3H, H_in)``, ``weight_hh`` ``(3H, H)``, biases ``(3H,)`` (blocks r, z, n).
    """
    W_ir, W_iz, W_in = weight_ih.chunk(3)  # each (H, H_in)
    W_hr, W_hz, W_hn = weight_hh.chunk(3)  # each (H, H)
    b_ir, b_iz, b_in = bias_ih.chunk(3)    # each (H,)
    b_hr, b_hz, b_hn = bias_hh.chunk(3)
    r = torch.sigmoid(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)         # reset gate
    z = torch.sigmoid(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)         # update gate
    if variant == "pytorch":
        n = torch.tanh(x @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))  # r scales W_hn h + b_hn
    else:
        n = torch.tanh(x @ W_in.T + b_in + (r * h) @ W_hn.T + b_hn)  # Cho: r scales h
    h = (1 - z) * n + z * h                                           # (N, H)
    return GRUStep(r, z, n, h)


class GRUCell(RNNCellBase):
    r"""One GRU step with :class:`torch.nn.GRUCell`'s API, parameters and initialisation.

    Args:
        input_size: features ``H_in`` of ``x``.
        hidden_size: features ``H`` of the state.
        bias: add ``bias_ih`` and ``bias_hh``.
        variant: ``"pytorch"`` (``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``) or ``"cho"``
            (``n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)``).
        device, dtype: where and in which precision to create the parameters.

    Inputs: ``input`` ``(N, H_in)`` or ``(H_in,)``; ``hx`` ``(N, H)`` or ``(H,)`` (zeros if
    omitted). Output: ``h'``, shaped like ``hx``. :meth:`step` returns the gates too.

    Example::

        >>> cell = GRUCell(3, 5, variant="cho")
        >>> cell(torch.randn(4, 3)).shape
        torch.Size([4, 5])
    """

    num_gates = 3
    state_names = ("h",)
    torch_class = nn.GRUCell

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 variant: str = "pytorch", device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        self.variant = _check_variant(variant)
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)

    def cell(self, x: Tensor, h: Tensor, *weights: Tensor) -> GRUStep:
        return gru_cell(x, h, *weights, variant=self.variant)

    def _extra_repr_options(self) -> dict[str, tuple[Any, Any]]:
        return {**super()._extra_repr_options(), "variant": (self.variant, "pytorch")}


class GRU(RNNBase):
    r"""A multi-layer GRU written step by step from the equations; the API of
    :class:`torch.nn.GRU` (plus ``variant``).

    Each step calls :func:`gru_cell` (six small matrix products); the loops over time, layers
    and directions are :class:`rnncourse.recurrent.RNNBase`'s.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
        device, dtype: as :class:`torch.nn.GRU`.
        variant: ``"pytorch"`` or ``"cho"`` (see the module docstring).

    Parameters: ``weight_ih_l{k}{sfx}`` ``(3H, H_in)`` (``(3H, D·H)`` for ``k ≥ 1``),
    ``weight_hh_l{k}{sfx}`` ``(3H, H)``, ``bias_ih_l{k}{sfx}``, ``bias_hh_l{k}{sfx}`` ``(3H,)``,
    blocks r, z, n, exactly as :class:`torch.nn.GRU`.

    Inputs: ``input`` ``(L, N, H_in)`` (``(N, L, H_in)`` if ``batch_first``, ``(L, H_in)``
    unbatched) and ``hx`` ``(D·num_layers, N, H)`` (zeros if omitted).
    Outputs: ``output`` ``(L, N, D·H)`` and ``h_n`` ``(D·num_layers, N, H)``.
    :meth:`gates` returns ``r``, ``z``, ``n`` and ``h`` at every step.

    Example::

        >>> gru = GRU(3, 5, batch_first=True, variant="cho")
        >>> output, h_n = gru(torch.randn(4, 7, 3))
        >>> output.shape, h_n.shape
        (torch.Size([4, 7, 5]), torch.Size([1, 4, 5]))
        >>> gru.gates(torch.randn(4, 7, 3))["z"].shape   # (layers, N, L, H)
        torch.Size([1, 4, 7, 5])
    """

    num_gates = 3
    state_names = ("h",)
    torch_class = nn.GRU

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, variant: str = "pytorch",
                 device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        self.variant = _check_variant(variant)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)

    def cell(self, x: Tensor, h: Tensor, *weights: Tensor) -> GRUStep:
        return gru_cell(x, h, *weights, variant=self.variant)

    def _extra_repr_options(self) -> dict[str, tuple[Any, Any]]:
        return {**super()._extra_repr_options(), "variant": (self.variant, "pytorch")}


class FusedGRU(GRU):
    r"""The same GRU, computed with fewer, larger matrix products (same parameters, same results).

    Two rewrites, both exact:

    1. The input side does not depend on the state, so ``W_ih x_t + b_ih`` for *all* steps is one
       product ``(L·N, H_in) @ (H_in, 3H)`` before the loop.
    2. Inside the loop, the three hidden-side products are one product ``h @ W_hh^T + b_hh``
       ``(N, 3H)``, split into r, z, n afterwards. (In the ``"cho"`` variant the candidate needs
       ``r ⊙ h`` first, so its ``W_hn`` product stays separate: two products per step.)

    :meth:`gates` runs the step-by-step :func:`gru_cell`.
    """

    def run_direction(self, inputs: Tensor, state: tuple[Tensor, ...],
                      weights: tuple[Tensor, ...], reverse: bool = False,
                      record: dict | None = None) -> tuple[Tensor, tuple[Tensor, ...]]:
        if record is not None:  # recording gates: the named, step-by-step version
            return super().run_direction(inputs, state, weights, reverse, record)
        w_ih, w_hh, b_ih, b_hh = weights
        (h,) = state
        H = self.hidden_size
        gi = F.linear(inputs, w_ih, b_ih).unbind(0)  # L tensors (N, 3H): one product for all t
        outputs = [inputs] * len(gi)                 # placeholders, each becomes h_t
        for t in (range(len(gi) - 1, -1, -1) if reverse else range(len(gi))):
            i_r, i_z, i_n = gi[t].chunk(3, dim=-1)
            if self.variant == "pytorch":
                h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, dim=-1)  # one product
                n_hidden = torch.sigmoid(i_r + h_r) * h_n
            else:
                h_r, h_z = F.linear(h, w_hh[:2 * H], b_hh[:2 * H]).chunk(2, dim=-1)
                n_hidden = F.linear(torch.sigmoid(i_r + h_r) * h, w_hh[2 * H:], b_hh[2 * H:])
            z = torch.sigmoid(i_z + h_z)
            h = torch.lerp(torch.tanh(i_n + n_hidden), h, z)  # n + z (h - n) = (1 - z) n + z h
            outputs[t] = h
        return torch.stack(outputs), (h,)


def benchmark_cells(seq_len: int, batch: int, hidden: int, repeats: int = 5,
                    device: torch.device | str | None = None,
                    kinds: tuple[str, ...] = ("gru", "lstm"), rounds: int = 3
                    ) -> list[dict[str, object]]:
    """Forward + backward time of the teaching, fused and native layers of each cell kind.

    Every model (one layer, ``hidden`` → ``hidden``, the native module's weights) sees the
    same input ``(seq_len, batch, hidden)``; times are medians over interleaved rounds
    (:func:`rnncourse.training.time_models`). Returns one row per (kind, implementation) with
    ``"ms"`` and ``"vs_native"`` (time divided by the native op's time).
    """
    from . import lstm
    from .training import time_models
    from .validation import check_positive_int

    check_positive_int(seq_len, "seq_len")
    check_positive_int(batch, "batch")
    check_positive_int(hidden, "hidden")
    classes = {"gru": (GRU, FusedGRU, nn.GRU), "lstm": (lstm.LSTM, lstm.FusedLSTM, nn.LSTM)}
    unknown = set(kinds) - set(classes)
    if unknown:
        raise ValueError(f"kinds must be among {sorted(classes)}, got {sorted(unknown)}")
    x = torch.randn(seq_len, batch, hidden, generator=torch.Generator().manual_seed(0)).to(device)
    rows: list[dict[str, object]] = []
    for kind in kinds:
        teaching, fused, native_cls = classes[kind]
        native = native_cls(hidden, hidden).to(device)
        models = {"teaching": teaching.from_torch(native), "fused": fused.from_torch(native),
                  "native": native}
        times = time_models(models, x, repeats=repeats, rounds=rounds)
        for name, seconds in times.items():
            rows.append({"cell": kind, "implementation": name, "ms": 1e3 * seconds,
                         "vs_native": seconds / times["native"]})
    return rows


#: ATen operations that are matrix products (what :func:`count_operations` counts as products).
_PRODUCTS = frozenset({"mm", "addmm", "bmm", "baddbmm", "addbmm", "matmul", "linear", "addmv",
                       "mv", "dot"})


def count_operations(model: Any, x: Tensor, backward: bool = False) -> dict[str, Any]:
    """Count what one pass of ``model`` on ``x`` asks PyTorch to do (the same on every machine
    with the same PyTorch build, unlike times).

    Runs ``model(x)`` (and, with ``backward``, the gradient of the sum of its floating outputs
    with respect to every parameter of the module ``model``) under a dispatch mode that
    records every ATen operation, and under :class:`torch.utils.flop_counter.FlopCounterMode`.

    Returns:
        ``{"products": int, "flops": int, "ops": int, "by_op": dict}``: the number of matrix
        products (``mm``, ``addmm``, ...), their floating-point operations (a product
        ``(n, k) @ (k, m)`` counts ``2 n k m``), the number of ATen operations of any kind,
        and the count of each operation by name. A fused kernel (e.g. oneDNN's
        ``mkldnn_rnn_layer`` or cuDNN's) is one operation whose products are not seen.

    Example::

        >>> count_operations(GRU(3, 5), torch.randn(7, 2, 3))["products"]  # 6 per step
        42
    """
    from collections import Counter

    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import FlopCounterMode

    from .training import _flatten

    class _Record(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.by_op: Counter[str] = Counter()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
            self.by_op[func.overloadpacket.__name__] += 1
            return func(*args, **(kwargs or {}))

    def run() -> None:
        with torch.set_grad_enabled(backward):
            tensors = [t for t in _flatten(model(x)) if t.is_floating_point()]
            if backward:   # gradients of every parameter; nothing is accumulated in .grad
                params = [p for p in model.parameters() if p.requires_grad]
                torch.autograd.grad(sum(t.sum() for t in tensors if t.requires_grad), params)

    with FlopCounterMode(display=False) as flops:
        run()
    with _Record() as record:
        run()
    by_op = dict(record.by_op)
    return {"products": sum(n for op, n in by_op.items() if op in _PRODUCTS),
            "flops": int(flops.get_total_flops()), "ops": sum(by_op.values()), "by_op": by_op}


# --------------------------------------------------------------------------------- diagrams
#: Titles of the panels of :func:`gru_cell_figure`: stage -> title (stage 4 per variant).
GRU_STAGES = {
    1: "1. the state, copied\n$h_t = h_{t-1}$",
    2: "2. the candidate $n_t$ alone: a plain RNN\n"
       "$h_t = n_t = \\tanh(W_{in} x_t + b_{in} + W_{hn} h_{t-1} + b_{hn})$",
    3: "3. + update gate $z_t$\n$h_t = (1 - z_t) \\odot n_t + z_t \\odot h_{t-1}$",
    4: "4. + reset gate $r_t$ (PyTorch)\n"
       "$n_t = \\tanh(W_{in} x_t + b_{in} + r_t \\odot (W_{hn} h_{t-1} + b_{hn}))$",
}
_CHO_STAGE_4 = ("4. + reset gate $r_t$ (Cho et al.)\n"
                "$n_t = \\tanh(W_{in} x_t + b_{in} + W_{hn} (r_t \\odot h_{t-1}) + b_{hn})$")


def draw_gru_cell(ax: Any, stage: int = 4, highlight: bool = True, title: str | None = None,
                  variant: str = "pytorch") -> dict[str, int]:
    r"""Draw the GRU cell of :func:`gru_cell` on ``ax``, built up to ``stage`` (1 to 4).

    1. the state line, copied: :math:`h_t = h_{t-1}`;
    2. the candidate alone, :math:`h_t = n_t = \tanh(W_{in} x_t + b_{in} + W_{hn} h_{t-1} +
       b_{hn})`: chapter 2's plain RNN, which overwrites the state;
    3. the update gate :math:`z_t` blends the two: :math:`h_t = (1 - z_t) \odot n_t + z_t \odot
       h_{t-1}`;
    4. the reset gate :math:`r_t`, after :math:`W_{hn}` for ``variant="pytorch"``
       (:math:`r_t \odot (W_{hn} h_{t-1} + b_{hn})`), before it for ``"cho"``
       (:math:`W_{hn} (r_t \odot h_{t-1})`).

    σ and tanh boxes are layers (an affine map of their inputs, then the function; the tanh
    layer's own map is :math:`W_{in} x_t + b_{in}`); the white box is the affine map
    :math:`W_{hn} \cdot + b_{hn}` alone, drawn apart because the reset gate acts beside it;
    round nodes are element-wise operations. With ``highlight`` the elements of earlier stages
    are faded. The line from :math:`z_t` jumps over the candidate's line (a gap marks that
    they cross without joining).

    Returns:
        ``{"layers": ..., "ops": ..., "arrows": ..., "junctions": ...}``, what was drawn (the
        ``W_hn`` box counts as a layer).

    Example::

        >>> import matplotlib.pyplot as plt
        >>> fig, ax = plt.subplots()
        >>> draw_gru_cell(ax, stage=2)
        {'layers': 2, 'ops': 0, 'arrows': 4, 'junctions': 0}
    """
    from .plotting import PALETTE, CellDiagram, finish_diagram

    cho = _check_variant(variant) == "cho"
    d = CellDiagram(ax, stage, highlight)  # checks that stage is 1, 2, 3 or 4
    top, cand, branch, gate, bus, x_in, right = 3.8, 2.8, 2.0, 1.2, 0.3, -0.55, 8.3
    half, w2, gap = CellDiagram.LAYER_H / 2, CellDiagram.LAYER_W / 2, CellDiagram.NODE_R + 0.03
    sigma, tanh = PALETTE["orange"], PALETTE["sky"]
    drop, n_x, z_x, mix = 0.5, 4.1, 5.6, 7.0
    w_x, r_x = (2.9, 1.7) if cho else (1.7, 2.9)   # where the W_hn box and the reset node sit

    # 1. the state line, copied
    d.arrow(1, (-0.05, top), (right, top), colour=PALETTE["blue"], linewidth=1.8, until=1)
    d.text(1, -0.15, top, "$h_{t-1}$", ha="right", va="center")
    d.text(1, right + 0.1, top, "$h_t$", ha="left", va="center")
    # 2. the candidate alone: h_{t-1} and x_t through W_hn and tanh, which overwrites the state
    d.line(2, [-0.05, drop], [top, top], colour=PALETTE["blue"], linewidth=1.8)
    d.line(2, [drop, drop], [top, cand])
    d.arrow(2, (drop, cand), ((r_x if cho and d.stage == 4 else w_x) - (gap if cho and d.stage == 4
                                                                      else w2), cand))
    d.layer(2, w_x, cand, "$W_{hn}$", "white")
    d.arrow(2, (w_x + w2, cand), (n_x - w2, cand), until=3)
    d.arrow(2, (n_x, x_in), (n_x, cand - half))
    d.text(2, n_x, x_in - 0.12, "$x_t$", ha="center", va="top")
    d.layer(2, n_x, cand, "tanh", tanh)
    d.line(2, [n_x + w2, mix, mix], [cand, cand, top], until=2)
    d.text(2, (n_x + w2 + z_x) / 2, cand + 0.22, "$n_t$", until=2, fontsize=9, ha="center",
           va="center", color=PALETTE["vermillion"])
    d.arrow(2, (mix, top), (right, top), colour=PALETTE["blue"], linewidth=1.8, until=2)
    # 3. the update gate: the copy and the candidate, mixed
    d.arrow(3, (drop, top), (right, top), colour=PALETTE["blue"], linewidth=1.8)
    d.junction(3, drop, top)
    d.line(3, [drop, drop, z_x], [cand, bus, bus])
    d.junction(3, drop, cand)
    d.junction(3, n_x, bus)
    d.arrow(3, (n_x + w2, cand), (mix - gap, cand), label="$n_t$",
            offset=((n_x + w2 + z_x) / 2 - (n_x + w2 + mix - gap) / 2, 0.22))
    d.arrow(3, (z_x, bus), (z_x, gate - half))
    d.layer(3, z_x, gate, r"$\sigma$", sigma)
    d.bridge(3, z_x, cand)
    z_start, z_end = (z_x, gate + half), (z_x, top - gap)
    d.arrow(3, z_start, z_end, label="$z_t$", zorder=1.5,
            offset=(0.25, (cand + top) / 2 - (z_start[1] + z_end[1]) / 2))
    d.op(3, z_x, top, r"$\odot$")
    d.junction(3, z_x, branch)
    d.arrow(3, (z_x, branch), (mix - 0.35, branch))
    d.op(3, mix, branch, "$1-$", width=0.66)
    d.arrow(3, (mix, branch + CellDiagram.NODE_R), (mix, cand - gap))
    d.op(3, mix, cand, r"$\odot$")
    d.arrow(3, (mix, cand + CellDiagram.NODE_R), (mix, top - gap))
    d.op(3, mix, top, "$+$")
    # 4. the reset gate, after W_hn (PyTorch) or before it (Cho et al.)
    d.arrow(4, (r_x, bus), (r_x, gate - half))
    d.layer(4, r_x, gate, r"$\sigma$", sigma)
    d.arrow(4, (r_x, gate + half), (r_x, cand - gap), label="$r_t$", offset=(0.25, 0))
    d.op(4, r_x, cand, r"$\odot$")
    if cho:   # h_{t-1} -> (r ⊙) -> W_hn -> tanh
        d.arrow(4, (r_x + CellDiagram.NODE_R, cand), (w_x - w2, cand))
        d.arrow(4, (w_x + w2, cand), (n_x - w2, cand))
    else:     # h_{t-1} -> W_hn -> (r ⊙) -> tanh
        d.arrow(4, (w_x + w2, cand), (r_x - gap, cand))
        d.arrow(4, (r_x + CellDiagram.NODE_R, cand), (n_x - w2, cand))
    finish_diagram(ax, (-1.0, right + 0.75), (x_in - 0.5, top + 0.35), title)
    if title:
        ax.title.set_fontsize(9)
    return d.counts


def gru_cell_figure(stages: tuple[int, ...] = (1, 2, 3, 4), highlight: bool = True,
                    variant: str = "pytorch", ncols: int = 2, width: float = 10.0,
                    height: float = 6.0) -> Any:
    """The GRU cell built up gate by gate: one panel per stage of :func:`draw_gru_cell`
    (``ncols`` panels a row), titled with :data:`GRU_STAGES`, and a key below. Returns the
    figure."""
    from .plotting import PALETTE, panel_grid, symbol_legend

    cho = _check_variant(variant) == "cho"
    stages = tuple(stages)
    if not stages or any(s not in GRU_STAGES for s in stages):
        raise ValueError(f"stages must be a non-empty tuple of 1, 2, 3, 4, got {stages!r}")
    fig, axes = panel_grid(len(stages), ncols, width, height)
    for ax, stage in zip(axes, stages):
        title = _CHO_STAGE_4 if cho and stage == 4 else GRU_STAGES[stage]
        draw_gru_cell(ax, stage, highlight, title=title, variant=variant)
    symbol_legend(fig, [(r"$\sigma$ layer: sigmoid of an affine map of $x_t, h_{t-1}$",
                        PALETTE["orange"], False),
                       (r"tanh layer: tanh of $W_{in} x_t + b_{in}$ plus its other input",
                        PALETTE["sky"], False),
                       (r"affine map $W_{hn}(\cdot) + b_{hn}$ alone", "white", False),
                       (r"element-wise $\odot$, $+$, $1-$", "white", True)], ncol=2)
    return fig
