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

from typing import NamedTuple

import torch
from torch import nn

from .recurrent import RNNBase, RNNCellBase

__all__ = ["LSTMStep", "lstm_cell", "LSTMCell", "LSTM", "FusedLSTM"]

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
