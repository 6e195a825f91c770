r"""Long short-term memory (LSTM), from the equations, equal to :class:`torch.nn.LSTM` (chapter 5).

For one layer and time step :math:`t`, with input :math:`x_t`, previous hidden state
:math:`h_{t-1}` and previous cell state :math:`c_{t-1}` (column vectors, as in PyTorch's
documentation; the code holds a batch in rows and computes ``x @ W.T``):

.. math::

    i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi})     && \text{input gate} \\
    f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf})     && \text{forget gate} \\
    g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg})      && \text{candidate} \\
    o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho})     && \text{output gate} \\
    c_t &= f_t \odot c_{t-1} + i_t \odot g_t                           && \text{cell state} \\
    h_t &= o_t \odot \tanh(c_t)                                        && \text{hidden state}

PyTorch stacks the four blocks in the order **i, f, g, o**: ``weight_ih`` is
``[W_ii; W_if; W_ig; W_io]`` of shape ``(4H, H_in)``, ``weight_hh`` is ``(4H, H)`` and the
biases ``bias_ih``, ``bias_hh`` are ``(4H,)``. Rows ``k*H:(k+1)*H`` belong to gate ``k``.

Three implementations share these parameters, and :func:`lstm_cell`, the equations above
written gate by gate:

- :class:`LSTMCell` — one step, like :class:`torch.nn.LSTMCell`.
- :class:`LSTM` — the teaching layer: :func:`lstm_cell` plus the scaffolding of
  :class:`rnncourse.recurrent.RNNBase` (layers, directions, ``batch_first``, dropout), with
  :class:`torch.nn.LSTM`'s parameter names, so ``LSTM.from_torch(lstm)`` copies its weights.
- :class:`FusedLSTM` — the same module computed the fast way: the input projections of all
  time steps in one matrix product, then one ``(N, H) @ (H, 4H)`` product per step for all
  four gates.

Shapes (``L`` = sequence length, ``N`` = batch, ``D`` = 2 if bidirectional else 1):

- input ``x``: ``(L, N, H_in)``, ``(N, L, H_in)`` if ``batch_first``, or ``(L, H_in)`` unbatched
- ``(h_0, c_0)``: each ``(num_layers * D, N, H)`` (never batch-first), or
  ``(num_layers * D, H)`` unbatched; zeros when omitted
- output: the last layer's ``h_t`` at every step, ``(L, N, D * H)`` (or batch-first/unbatched)
- ``(h_n, c_n)``: every layer's and direction's final states, ``(num_layers * D, N, H)``;
  index ``2k`` is layer ``k`` forward, ``2k + 1`` layer ``k`` backward when bidirectional.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn

from .recurrent import RNNBase, RNNCellBase

__all__ = ["LSTMStep", "lstm_cell", "LSTMCell", "LSTM", "FusedLSTM", "LSTM_STAGES",
           "draw_lstm_cell", "lstm_cell_figure"]

Tensor = torch.Tensor


class LSTMStep(NamedTuple):
    """Everything one LSTM step computes; each field has shape ``(N, H)``."""

    i: Tensor  #: input gate, in (0, 1)
    f: Tensor  #: forget gate, in (0, 1)
    g: Tensor  #: candidate values, in (-1, 1)
    o: Tensor  #: output gate, in (0, 1)
    c: Tensor  #: new cell state c_t
    h: Tensor  #: new hidden state h_t


def lstm_cell(x: Tensor, h: Tensor, c: Tensor, weight_ih: Tensor, weight_hh: Tensor,
              bias_ih: Tensor, bias_hh: Tensor) -> LSTMStep:
    """One LSTM step, gate by gate: ``x`` ``(N, H_in)``, ``h`` and ``c`` ``(N, H)``,
    ``weight_ih`` ``(4H, H_in)``, ``weight_hh`` ``(4H, H)``, biases ``(4H,)`` (blocks i, f, g, o).
    """
    W_ii, W_if, W_ig, W_io = weight_ih.chunk(4)  # each (H, H_in)
    W_hi, W_hf, W_hg, W_ho = weight_hh.chunk(4)  # each (H, H)
    b_ii, b_if, b_ig, b_io = bias_ih.chunk(4)    # each (H,)
    b_hi, b_hf, b_hg, b_ho = bias_hh.chunk(4)
    i = torch.sigmoid(x @ W_ii.T + b_ii + h @ W_hi.T + b_hi)  # input gate: how much to write
    f = torch.sigmoid(x @ W_if.T + b_if + h @ W_hf.T + b_hf)  # forget gate: how much to keep
    g = torch.tanh(x @ W_ig.T + b_ig + h @ W_hg.T + b_hg)     # candidate: what could be written
    o = torch.sigmoid(x @ W_io.T + b_io + h @ W_ho.T + b_ho)  # output gate: how much to show
    c = f * c + i * g         # the additive update: along this path ∂c_t/∂c_{t-1} = diag(f_t)
    h = o * torch.tanh(c)     # (N, H)
    return LSTMStep(i, f, g, o, c, h)


class LSTMCell(RNNCellBase):
    r"""One LSTM step with :class:`torch.nn.LSTMCell`'s API, parameters and initialisation.

    Args:
        input_size: features of ``x``, ``H_in``.
        hidden_size: size ``H`` of ``h`` and ``c``.
        bias: with ``False`` there are no ``bias_ih``/``bias_hh``.
        device, dtype: where and in which precision to create the parameters.

    Inputs: ``input`` ``(N, H_in)`` or ``(H_in,)``; ``hx = (h, c)``, each ``(N, H)`` or ``(H,)``
    (zeros when omitted). Output: ``(h', c')``. :meth:`step` returns every gate as well (an
    :class:`LSTMStep`).

    Example::

        >>> cell = LSTMCell(3, 5)
        >>> h, c = cell(torch.randn(4, 3))
        >>> cell.step(torch.randn(4, 3), (h, c)).f.shape   # the forget gate
        torch.Size([4, 5])
    """

    num_gates = 4
    state_names = ("h", "c")
    torch_class = nn.LSTMCell
    cell = staticmethod(lstm_cell)


class LSTM(RNNBase):
    r"""Multi-layer LSTM written with a Python loop over time; the API of :class:`torch.nn.LSTM`.

    Each step calls :func:`lstm_cell`; the loops over time, layers and directions are
    :class:`rnncourse.recurrent.RNNBase`'s, so ``dropout``, ``bidirectional``, ``batch_first``
    and unbatched inputs behave as in PyTorch.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
        device, dtype: as :class:`torch.nn.LSTM` (no ``proj_size``).

    Parameters (``sfx`` is ``""`` or ``"_reverse"``): ``weight_ih_l{k}{sfx}`` ``(4H, H_in)`` for
    ``k = 0`` and ``(4H, D·H)`` above, ``weight_hh_l{k}{sfx}`` ``(4H, H)``, ``bias_ih_l{k}{sfx}``
    and ``bias_hh_l{k}{sfx}`` ``(4H,)``, all ``~ U(-1/√H, 1/√H)`` as in PyTorch.

    Inputs: ``input`` ``(L, N, H_in)`` (``(N, L, H_in)`` if ``batch_first``, ``(L, H_in)``
    unbatched) and ``hx = (h_0, c_0)``, each ``(D·num_layers, N, H)`` (zeros if omitted).
    Outputs: ``output`` ``(L, N, D·H)`` and ``(h_n, c_n)``, each ``(D·num_layers, N, H)``.
    :meth:`gates` returns every gate at every step.

    Example::

        >>> lstm = LSTM(3, 5, num_layers=2, batch_first=True)
        >>> output, (h_n, c_n) = lstm(torch.randn(4, 7, 3))
        >>> output.shape, h_n.shape
        (torch.Size([4, 7, 5]), torch.Size([2, 4, 5]))
        >>> lstm.gates(torch.randn(4, 7, 3))["f"].shape   # (layers, N, L, H)
        torch.Size([2, 4, 7, 5])
    """

    num_gates = 4
    state_names = ("h", "c")
    torch_class = nn.LSTM
    cell = staticmethod(lstm_cell)


class FusedLSTM(LSTM):
    r"""The same LSTM (same parameters, API and results) computed with fewer, larger products.

    Per layer and direction: ``X W_ih^T + b_ih + b_hh`` for all ``L`` steps in one product
    ``(L·N, H_in) @ (H_in, 4H)``; then per step one product ``h W_hh^T`` ``(N, H) @ (H, 4H)``
    for all four gates, split into i, f, g, o with ``chunk``. The arithmetic is that of
    :class:`LSTM`; only the grouping changes, so results agree to rounding error.
    :meth:`gates` runs the step-by-step :func:`lstm_cell`.
    """

    def run_direction(self, inputs: Tensor, state: tuple[Tensor, ...],
                      weights: tuple[Tensor, ...], reverse: bool = False,
                      record: dict | None = None) -> tuple[Tensor, tuple[Tensor, ...]]:
        if record is not None:  # recording gates: the named, step-by-step version
            return super().run_direction(inputs, state, weights, reverse, record)
        w_ih, w_hh, b_ih, b_hh = weights
        h, c = state
        x_proj = (inputs @ w_ih.T + (b_ih + b_hh)).unbind(0)  # L tensors (N, 4H), one product
        outputs = [inputs] * len(x_proj)                      # placeholders, each becomes h_t
        for t in (range(len(x_proj) - 1, -1, -1) if reverse else range(len(x_proj))):
            i, f, g, o = (x_proj[t] + h @ w_hh.T).chunk(4, dim=-1)  # all gates: one product
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outputs[t] = h
        return torch.stack(outputs), (h, c)


# --------------------------------------------------------------------------------- diagrams
# The LSTM cell diagram of chapter 5, drawn with rnncourse.plotting.CellDiagram (shared with
# chapter 6's GRU diagram). A stage draws the elements introduced up to it.

#: Titles of the panels of :func:`lstm_cell_figure`, one per stage of :func:`draw_lstm_cell`.
LSTM_STAGES = {
    1: "1. the cell state\n$c_t = c_{t-1}$",
    2: "2. + forget gate $f_t$\n$c_t = f_t \\odot c_{t-1}$",
    3: "3. + input gate $i_t$, candidate $g_t$\n$c_t = f_t \\odot c_{t-1} + i_t \\odot g_t$",
    4: "4. + output gate $o_t$\n$h_t = o_t \\odot \\tanh(c_t)$",
}


def draw_lstm_cell(ax: Any, stage: int = 4, highlight: bool = True,
                   title: str | None = None) -> dict[str, int]:
    r"""Draw the LSTM cell of :func:`lstm_cell` on ``ax``, built up to ``stage`` (1 to 4).

    1. the cell-state line :math:`c_{t-1} \to c_t`;
    2. the forget gate: :math:`f_t = \sigma(\cdot)` scales the line, :math:`f_t \odot c_{t-1}`;
    3. the input gate :math:`i_t` and candidate :math:`g_t = \tanh(\cdot)`, written with
       :math:`+\, i_t \odot g_t`;
    4. the output gate :math:`o_t` and :math:`h_t = o_t \odot \tanh(c_t)`.

    Boxes are layers (an affine map of :math:`x_t` and :math:`h_{t-1}`, then σ or tanh), round
    nodes element-wise operations (the tanh of :math:`c_t` has no weights); :math:`h_{t-1}`
    and :math:`x_t` enter along the bottom. With ``highlight`` the elements of earlier stages
    are faded, so the new ones stand out.

    Returns:
        ``{"layers": ..., "ops": ..., "arrows": ..., "junctions": ...}``, what was drawn.

    Example::

        >>> import matplotlib.pyplot as plt
        >>> fig, ax = plt.subplots()
        >>> draw_lstm_cell(ax, stage=2)
        {'layers': 1, 'ops': 1, 'arrows': 3, 'junctions': 1}
    """
    from .plotting import PALETTE, CellDiagram, finish_diagram, node_edge

    d = CellDiagram(ax, stage, highlight)  # checks that stage is 1, 2, 3 or 4
    node = CellDiagram.NODE_R
    top, gate, mid, bus, x_in, right = 3.5, 1.3, 2.45, 0.35, -0.55, 8.3
    half = CellDiagram.LAYER_H / 2
    sigma, tanh = PALETTE["orange"], PALETTE["sky"]
    fx, ix, gx, ox, sum_x, out_x = 2.0, 3.2, 4.4, 5.6, 3.8, 7.1

    # 1. the cell state: a line through the cell (nodes drawn later cover it)
    d.arrow(1, (-0.05, top), (right, top), colour=PALETTE["blue"], linewidth=1.8)
    d.text(1, -0.15, top, "$c_{t-1}$", ha="right", va="center")
    d.text(1, right + 0.1, top, "$c_t$", ha="left", va="center")
    # 2. the inputs along the bottom, and the forget gate
    bus_end = {2: fx, 3: gx}.get(d.stage, ox)
    d.line(2, [-0.05, bus_end], [bus, bus])
    d.text(2, -0.15, bus, "$h_{t-1}$", ha="right", va="center")
    d.line(2, [0.8, 0.8], [x_in, bus])
    d.junction(2, 0.8, bus)
    d.text(2, 0.8, x_in - 0.12, "$x_t$", ha="center", va="top")
    d.arrow(2, (fx, bus), (fx, gate - half))
    d.layer(2, fx, gate, r"$\sigma$", sigma)
    d.arrow(2, (fx, gate + half), (fx, top - node - 0.03), label="$f_t$", offset=(0.25, 0))
    d.op(2, fx, top, r"$\odot$")
    # 3. the write: input gate, candidate, their product added to the cell
    for x, text, colour in ((ix, r"$\sigma$", sigma), (gx, "tanh", tanh)):
        d.arrow(3, (x, bus), (x, gate - half))
        d.layer(3, x, gate, text, colour)
    d.arrow(3, (ix, gate + half), node_edge((ix, gate + half), (sum_x, mid)), label="$i_t$",
            offset=(-0.3, 0.05))
    d.arrow(3, (gx, gate + half), node_edge((gx, gate + half), (sum_x, mid)), label="$g_t$",
            offset=(0.3, 0.05))
    d.op(3, sum_x, mid, r"$\odot$")
    d.arrow(3, (sum_x, mid + node), (sum_x, top - node - 0.03))
    d.op(3, sum_x, top, "$+$")
    # 4. the read: output gate times tanh of the new cell state
    d.arrow(4, (ox, bus), (ox, gate - half))
    d.layer(4, ox, gate, r"$\sigma$", sigma)
    d.arrow(4, (ox + CellDiagram.LAYER_W / 2, gate), (out_x - node - 0.03, gate), label="$o_t$",
            offset=(0, 0.2))
    d.junction(4, out_x, top)
    d.arrow(4, (out_x, top), (out_x, mid + node + 0.03))
    d.op(4, out_x, mid, "tanh", width=0.8)   # element-wise: no weights
    d.arrow(4, (out_x, mid - node), (out_x, gate + node + 0.03))
    d.op(4, out_x, gate, r"$\odot$")
    d.line(4, [out_x, out_x], [gate - node, bus])
    d.arrow(4, (out_x, bus), (right, bus))
    d.text(4, right + 0.1, bus, "$h_t$", ha="left", va="center")
    finish_diagram(ax, (-1.0, right + 0.75), (x_in - 0.5, top + 0.35), title)
    if title:
        ax.title.set_fontsize(9)
    return d.counts


def lstm_cell_figure(stages: tuple[int, ...] = (1, 2, 3, 4), highlight: bool = True,
                     ncols: int = 2, width: float = 10.0, height: float = 5.6) -> Any:
    """The LSTM cell built up gate by gate: one panel per stage of :func:`draw_lstm_cell`
    (``ncols`` panels a row), titled with :data:`LSTM_STAGES`, and a key to the symbols below.
    Returns the figure."""
    from .plotting import PALETTE, panel_grid, symbol_legend

    stages = tuple(stages)
    if not stages or any(s not in LSTM_STAGES for s in stages):
        raise ValueError(f"stages must be a non-empty tuple of 1, 2, 3, 4, got {stages!r}")
    fig, axes = panel_grid(len(stages), ncols, width, height)
    for ax, stage in zip(axes, stages):
        draw_lstm_cell(ax, stage, highlight, title=LSTM_STAGES[stage])
    symbol_legend(fig, [(r"$\sigma$ layer: sigmoid of an affine map of $x_t, h_{t-1}$",
                        PALETTE["orange"], False),
                       ("tanh layer: tanh of an affine map", PALETTE["sky"], False),
                       (r"element-wise $\odot$, $+$, tanh", "white", True)])
    return fig
