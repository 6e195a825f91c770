"""Self-checks for chapter 7 (deep and bidirectional RNNs)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..selfcheck import expect, expect_close, expect_equal, init_parameters, self_check

__all__ = ["check_hn_shape", "check_last_layer_states", "check_bidirectional"]

_CONFIGS = [(1, False, 3, 5), (2, True, 4, 6), (3, True, 1, 2), (4, False, 2, 7)]


@self_check("Exercise 7.1: the shape of h_n")
def check_hn_shape(hn_shape: Callable[[int, bool, int, int], tuple[int, ...]]) -> None:
    """``hn_shape(num_layers, bidirectional, batch, hidden_size)`` must return ``h_n``'s shape
    for ``torch.nn.GRU(..., batch_first=True)``."""
    for layers, bi, batch, hidden in _CONFIGS:
        gru = nn.GRU(3, hidden, num_layers=layers, bidirectional=bi, batch_first=True)
        with torch.no_grad():
            _, h_n = gru(torch.zeros(batch, 4, 3))
        got = hn_shape(layers, bi, batch, hidden)
        expect(isinstance(got, (tuple, list, torch.Size)),
               f"hn_shape should return a tuple of ints, got {type(got).__name__}")
        expect_equal(tuple(got), tuple(h_n.shape),
                     what=f"hn_shape(num_layers={layers}, bidirectional={bi}, batch={batch}, "
                          f"hidden_size={hidden})",
                     hint="h_n is never batch-first; its first size counts layers × directions")


@self_check("Exercise 7.2: the last layer's final states")
def check_last_layer_states(last_layer_states: Callable[[torch.Tensor, int], torch.Tensor]
                            ) -> None:
    """``last_layer_states(h_n, num_layers)`` for a *bidirectional* module must return
    ``(batch, 2H)``: the last layer's forward final state, then its backward final state."""
    gen = torch.Generator().manual_seed(7)
    for layers in (1, 3):
        gru = init_parameters(nn.GRU(4, 5, num_layers=layers, bidirectional=True,
                                     batch_first=True), gen)
        x = torch.randn(2, 6, 4, generator=gen)
        with torch.no_grad():
            output, h_n = gru(x)
        want = torch.cat([output[:, -1, :5], output[:, 0, 5:]], dim=-1)
        got = last_layer_states(h_n, layers)
        expect(isinstance(got, torch.Tensor),
               f"last_layer_states should return a tensor, got {type(got).__name__}")
        expect_close(got, want, what=f"last_layer_states(h_n, num_layers={layers})",
                     hint="h_n.view(num_layers, 2, batch, H)[-1] holds the last layer's two "
                          "directions; the forward one equals output[:, -1, :H], the backward "
                          "one output[:, 0, H:]")


@self_check("Exercise 7.3: a bidirectional layer from two unidirectional ones")
def check_bidirectional(bidirectional: Callable[[torch.Tensor, nn.GRU, nn.GRU],
                                                tuple[torch.Tensor, torch.Tensor]]) -> None:
    """``bidirectional(x, fwd, bwd)`` with ``x`` ``(batch, seq_len, input_size)`` and two
    one-layer batch-first GRUs must equal ``nn.GRU(..., bidirectional=True)`` carrying the
    same weights: ``output`` ``(batch, seq_len, 2H)`` and ``h_n`` ``(2, batch, H)``."""
    ref = init_parameters(nn.GRU(3, 4, bidirectional=True, batch_first=True),
                          torch.Generator().manual_seed(3))  # not the learner's global stream
    fwd = nn.GRU(3, 4, batch_first=True)
    bwd = nn.GRU(3, 4, batch_first=True)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(fwd, f"{name}_l0").copy_(getattr(ref, f"{name}_l0"))
            getattr(bwd, f"{name}_l0").copy_(getattr(ref, f"{name}_l0_reverse"))
    x = torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(11))
    with torch.no_grad():
        want_out, want_h = ref(x)
        result = bidirectional(x, fwd, bwd)
    expect(isinstance(result, (tuple, list)) and len(result) == 2,
           "bidirectional should return a pair (output, h_n)")
    out, h_n = result
    expect_close(h_n, want_h, what="h_n", atol=1e-5,
                 hint="h_n stacks the forward final state and the backward final state "
                      "(the backward layer's state after it has read x[:, 0])")
    expect_close(out, want_out, what="output", atol=1e-5,
                 hint="run bwd on x.flip(1), then flip its output back before concatenating, "
                      "so that step t holds [forward_t, backward_t]")
